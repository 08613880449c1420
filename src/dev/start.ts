/**
 * `npm start`, the main job. With TEMPORAL_ADDRESS or KUBECONFIG set it runs the worker against
 * them; otherwise it first brings up the embedded local stack (Temporal dev server with SQLite and
 * the Web UI, etcd + API server with the CRDs, the Tekton simulator), adds the demo Pipelines and
 * their RemediationActions (src/dev/stack/demo.ts) and prints how to use it. Ctrl-C stops the
 * worker, then the stack.
 */
import { loadKubeConfig } from '../k8s/kube';
import { installDemo } from './stack/demo';
import { startStack, type StackInfo } from './stack/stack';
import { runWorker } from '../worker';

const log = (line: string): void => void process.stderr.write(`[start] ${line}\n`);

function usage(info: StackInfo): string {
  return [
    '',
    `Temporal Web UI: ${info.temporal.uiUrl}`,
    `stack: .stack/stack.json (kubeconfig ${info.kubeconfig})`,
    '',
    'Try, in another terminal:',
    `  npx remediate actions                               # the demo catalog (RemediationActions in ${info.controlNamespace})`,
    '  npx remediate start --fingerprint demo-1 --target prod/Deployment/api --action restart-deployment --wait',
    '  npx remediate start --fingerprint demo-2 --target prod/Deployment/web --action broken-remediation --wait',
    '  npx remediate target prod/Deployment/web            # manual review required after the execution failure',
    '  npx remediate start --fingerprint demo-3 --target prod/Deployment/web --action restart-deployment',
    '  npx remediate list --phase Blocked',
    '  npx remediate clear prod/Deployment/web --reason "fixed by hand"',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  if (process.env.TEMPORAL_ADDRESS || process.env.KUBECONFIG) {
    await runWorker();
    return;
  }
  log(
    'no TEMPORAL_ADDRESS or KUBECONFIG: starting the embedded local stack (first run provisions tools, see progress)',
  );
  // Same knobs as `npm run stack` (STACK_DIR, STACK_TEMPORAL_PORT, STACK_TEMPORAL_UI_PORT).
  const port = (name: string): number | undefined =>
    process.env[name] ? Number(process.env[name]) : undefined;
  const stack = await startStack({
    dir: process.env.STACK_DIR || undefined,
    temporalPort: port('STACK_TEMPORAL_PORT'),
    temporalUiPort: port('STACK_TEMPORAL_UI_PORT'),
    log: (line) => process.stderr.write(`[stack] ${line}\n`),
  });
  try {
    await installDemo(loadKubeConfig(stack.info.kubeconfig), stack.info);
    process.stdout.write(usage(stack.info) + '\n');
    process.env.TEMPORAL_ADDRESS = stack.info.temporal.address;
    process.env.TEMPORAL_NAMESPACE = stack.info.temporal.namespace;
    process.env.KUBECONFIG = stack.info.kubeconfig;
    log(
      'local stack: allowUncataloguedActions is on, so free-form --pipeline actions run too; a real deployment keeps it off and runs only catalogued actions (remediate actions)',
    );
    await runWorker({ policyDefaults: { allowUncataloguedActions: true } });
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
