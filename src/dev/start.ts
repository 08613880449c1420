/**
 * `npm start`, the main job. With TEMPORAL_ADDRESS, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE or
 * KUBECONFIG set it runs the worker against them, after a banner on stderr naming the cluster and
 * Temporal it is about to act on; otherwise it first brings up the embedded local stack (Temporal
 * dev server with SQLite and the Web UI, etcd + API server with the CRDs, the Tekton simulator),
 * adds the demo Pipelines and their RemediationActions (src/dev/stack/demo.ts) and prints how to
 * use it; its worker connects to the stack alone. Ctrl-C stops the worker, then the stack.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describeKubeConfig, loadKubeConfig } from '../k8s/kube';
import { loadWorkerConfig, readStackInfo, serverVariablesSet } from '../settings';
import { installDemo } from './stack/demo';
import { startStack, type StackInfo } from './stack/stack';
import { resolveWorkerTargets, runWorker } from '../worker';

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

/**
 * The banner before the worker acts on servers that are not the embedded stack: the API server URL,
 * the context and Temporal, on stderr, impossible to miss. A cluster that is the local stack's own
 * (`npm run stack`, its kubeconfig in KUBECONFIG) gets one line instead.
 */
function announceRealServers(variables: string[]): void {
  const { settings } = loadWorkerConfig(process.env, null);
  const { kubeConfig, temporal } = resolveWorkerTargets(settings);
  const kube = describeKubeConfig(kubeConfig);
  const stack = readStackInfo();
  let stackServer: string | undefined;
  try {
    stackServer = stack ? describeKubeConfig(loadKubeConfig(stack.kubeconfig)).server : undefined;
  } catch {
    // No usable stack kubeconfig: nothing to compare with.
  }
  if (stackServer !== undefined && stackServer === kube.server) {
    log(
      `${variables.join(', ')} set: the worker uses the running local stack (${kube.server}); not starting one`,
    );
    return;
  }
  const homeConfig = join(homedir(), '.kube', 'config');
  const kubeconfig =
    settings.kubeconfig ??
    (existsSync(homeConfig)
      ? homeConfig
      : 'none found: the in-cluster service account (client-node’s localhost default outside a cluster)');
  const rule = '='.repeat(100);
  const lines = [
    rule,
    'WARNING: npm start is NOT using its embedded local stack. The worker will act on a REAL cluster:',
    '',
    `  Kubernetes API server  ${kube.server ?? '(none)'}`,
    `  context                ${kube.context || '(none)'}${kube.cluster ? ` (cluster ${kube.cluster}, user ${kube.user ?? '?'})` : ''}`,
    `  kubeconfig             ${kubeconfig}`,
    `  Temporal               ${temporal.summary}`,
    '',
    `It creates PipelineRuns in namespace ${settings.executionNamespace} and writes the ledger in ${settings.controlNamespace},`,
    `because ${variables.join(', ')} ${variables.length > 1 ? 'are' : 'is'} set. Unset ${variables.length > 1 ? 'them' : 'it'} to run the embedded stack; Ctrl-C stops the worker.`,
    rule,
  ];
  process.stderr.write(lines.map((line) => `[start] ${line}\n`).join(''));
}

async function main(): Promise<void> {
  const variables = serverVariablesSet(process.env);
  if (variables.length > 0) {
    announceRealServers(variables);
    await runWorker();
    return;
  }
  log(
    'none of TEMPORAL_ADDRESS, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE, KUBECONFIG set: starting the embedded local stack (first run provisions tools, see progress)',
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
    delete process.env.KUBE_CONTEXT; // the stack's kubeconfig has its one context
    log(
      'local stack: allowUncataloguedActions is on, so free-form --pipeline actions run too; a real deployment keeps it off and runs only catalogued actions (remediate actions)',
    );
    await runWorker({
      policyDefaults: { allowUncataloguedActions: true },
      // The dev server speaks plain text: no profile file, API key or TLS variable applies to it.
      temporal: {
        isolated: true,
        explicit: {
          address: stack.info.temporal.address,
          namespace: stack.info.temporal.namespace,
          source: 'embedded local stack',
        },
      },
    });
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
