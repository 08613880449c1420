/**
 * The product under its own RBAC on a real kube-apiserver: deploy/ is applied server-side, the
 * worker (`dist/worker.js`, as the container runs it) authenticates with a real token of the
 * remediation-worker ServiceAccount and nothing else, the intake with one of remediation-intake,
 * and remediations run end to end on real Tekton (controller and webhook) with kwok playing the
 * kubelet. Every API call the worker makes must be allowed by deploy/rbac.yaml: a missing verb
 * fails the scenario that needs it, and the last test fails on any request the worker saw refused.
 *
 * The operator's side (starting, clearing, cancelling, defining the catalog) uses the admin
 * identity, as `remediate` and `kubectl` would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { PodOutcome } from '../../src/dev/stack/conformance';
import { REPO_ROOT } from '../../src/dev/stack/kube-api';
import { freePort } from '../../src/dev/stack/proc';
import { CONTROL_NAMESPACE, EXECUTION_NAMESPACE, type StackInfo } from '../../src/dev/stack/stack';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/stack/temporal';
import { spawnWorker, type WorkerProcess } from '../../src/dev/stack/worker-process';
import { targetKey, type RemediationRequestInput } from '../../src/domain/request';
import {
  TEKTON_GROUP,
  TEKTON_VERSION,
  TektonPlural,
  succeededCondition,
  type PipelineRun,
} from '../../src/domain/tekton';
import { remediationIdFor } from '../../src/intake/mapper';
import { RemediationHarness, uniqueName } from '../integration/support/remediation-harness';
import { adminKubeConfig, conformanceStack } from './stack-env';
import { applyObjects, kubectlGet } from './support/kube-identity';
import {
  applyDeploy,
  catalogAction,
  deployedPolicy,
  INTAKE_SA,
  outcomePipeline,
  serviceAccountIdentity,
  WORKER_SA,
  type Identity,
} from './support/product';

const run = Date.now().toString(36).slice(-4);
const Action = {
  /** The shipped restart-deployment action and Pipeline of deploy/, unchanged. */
  restart: 'restart-deployment',
  fail: `conf-fail-${run}`,
  imagePull: `conf-imagepull-${run}`,
  missing: `conf-missing-${run}`,
  hang: `conf-hang-${run}`,
  dryRun: `conf-dryrun-${run}`,
};
const BUDGET = `conf-budget-${run}`;
const BUDGET_NAMESPACES = `conf-budget-${run}-*`;
const ALERT = 'ConformanceRbacProbe';

let dir: string;
let admin: KubeConfig;
let temporal: TemporalDevServer | undefined;
let worker: WorkerProcess | undefined;
let workerIdentity: Identity;
let intakeIdentity: Identity;
let metricsPort: number;
const h = {} as { harness: RemediationHarness };

beforeAll(async () => {
  const stack = conformanceStack();
  admin = adminKubeConfig();
  dir = mkdtempSync(join(tmpdir(), 'conformance-rbac-'));
  const [applied, server] = await Promise.all([
    applyDeploy(admin),
    startTemporalDevServer({
      cli: stack.temporal.cli,
      dbFile: join(dir, 'temporal.db'),
      port: await freePort(),
      headless: true,
      logFile: join(dir, 'temporal.log'),
    }),
  ]);
  temporal = server;
  expect(applied).toEqual(
    expect.arrayContaining([
      'roles.rbac.authorization.k8s.io/remediation-worker-pipelineruns',
      'serviceaccounts/remediation-worker',
      'pipelines.tekton.dev/restart-deployment',
      'remediationactions.remediation.dev/restart-deployment',
    ]),
  );
  const cluster = { server: stack.apiServer, caCertFile: stack.caCert };
  workerIdentity = await serviceAccountIdentity(admin, WORKER_SA, join(dir, 'worker.kubeconfig'), cluster);
  intakeIdentity = await serviceAccountIdentity(admin, INTAKE_SA, join(dir, 'intake.kubeconfig'), cluster);

  // The operator's catalog: Pipelines whose pods fail, never pull, or hang, and their actions.
  await applyObjects(admin, [
    outcomePipeline(Action.fail, PodOutcome.Fail),
    outcomePipeline(Action.imagePull, PodOutcome.ImagePull),
    outcomePipeline(Action.hang, PodOutcome.Hang),
    catalogAction(Action.fail, Action.fail),
    catalogAction(Action.imagePull, Action.imagePull),
    catalogAction(Action.missing, `conf-no-such-pipeline-${run}`),
    catalogAction(Action.hang, Action.hang),
    catalogAction(Action.dryRun, 'restart-deployment', { mode: 'DryRun' }),
  ]);

  const info: StackInfo = {
    temporal: { address: server.address, namespace: server.namespace, uiUrl: '', cli: stack.temporal.cli },
    kubeconfig: stack.kubeconfig,
    executionNamespace: EXECUTION_NAMESPACE,
    controlNamespace: CONTROL_NAMESPACE,
  };
  h.harness = await new RemediationHarness(info).open();
  metricsPort = await freePort();
  // deploy/'s policy, with retries quick enough for a test and one budget.
  worker = spawnWorker(
    { ...info, kubeconfig: workerIdentity.kubeconfig },
    h.harness.taskQueue,
    {
      ...deployedPolicy(),
      backoff: { base: '300ms', max: '1s', jitter: 0.1 },
      budgets: [
        { name: BUDGET, scope: 'namespace', match: { namespaces: [BUDGET_NAMESPACES] }, maxConcurrent: 1 },
      ],
    },
    { compiled: true, env: { METRICS_PORT: String(metricsPort) } },
  );
  await worker.ready;
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  await h.harness?.close();
  await temporal?.stop();
  if (dir && process.env.REMEDIATION_KEEP_STACK !== '1') rmSync(dir, { recursive: true, force: true });
});

function request(
  action: string,
  target: { namespace?: string; name?: string } = {},
  extra: Partial<RemediationRequestInput> = {},
): RemediationRequestInput {
  return {
    signal: {
      fingerprint: uniqueName('fp'),
      name: 'KubeDeploymentReplicasMismatch',
      severity: 'warning',
      labels: {},
    },
    target: {
      kind: 'Deployment',
      name: target.name ?? 'api',
      namespace: target.namespace ?? uniqueName('conf'),
    },
    action: { id: action, params: {} },
    ...extra,
  };
}

async function pipelineRun(name: string): Promise<PipelineRun> {
  return (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: TEKTON_GROUP,
    version: TEKTON_VERSION,
    plural: TektonPlural.PipelineRun,
    namespace: EXECUTION_NAMESPACE,
    name,
  })) as PipelineRun;
}

it('runs as the worker ServiceAccount, with a token and no client certificate', () => {
  expect(workerIdentity.user).toBe('system:serviceaccount:remediation-system:remediation-worker');
  const user = workerIdentity.kc.getCurrentUser();
  expect(user?.token).toBeTruthy();
  expect(user?.certData ?? user?.certFile).toBeFalsy();
});

it('S1, S3: the shipped restart-deployment action runs on real Tekton → Completed; the same request id twice is one remediation', async () => {
  const r = request(Action.restart, {}, { id: uniqueName('s1') });
  const first = await h.harness.client.start(r);
  const again = await h.harness.client.start(r);
  expect(again.id).toBe(first.id);
  const end = await h.harness.result(first.id);
  expect(end).toMatchObject({ phase: 'Completed', attempts: 1 });
  expect(end.pipelineRuns).toHaveLength(1);
  const pr = await pipelineRun(end.pipelineRuns[0]!);
  expect(pr.spec.pipelineRef?.name).toBe('restart-deployment');
  expect(succeededCondition(pr)).toMatchObject({ status: 'True', reason: 'Succeeded' });
  const target = await h.harness.client.target(targetKey(r.target));
  expect(target).toMatchObject({ lock: null, consecutiveFailures: 0, manualReviewRequired: false });
  expect(target.lastSuccess).toMatchObject({ actionId: Action.restart, remediationId: first.id });
});

it('S15, S7: a step exiting 1 → Failed, manual review; the next remediation waits until the operator clears', async () => {
  const first = request(Action.fail);
  const key = targetKey(first.target);
  const failed = await h.harness.result((await h.harness.client.start(first)).id);
  expect(failed).toMatchObject({
    phase: 'Failed',
    reason: 'ExecutionFailed',
    attempts: 1,
    failure: { category: 'StepFailed', wasExecutionFailure: true },
  });
  expect(succeededCondition(await pipelineRun(failed.pipelineRuns[0]!))).toMatchObject({ status: 'False' });
  expect(await h.harness.client.target(key)).toMatchObject({ manualReviewRequired: true });

  const second = (await h.harness.client.start({ ...request(Action.restart), target: first.target })).id;
  expect(await h.harness.waitForPhase(second, 'Blocked')).toMatchObject({
    blockReason: 'PreviousExecutionFailed',
    blockKind: 'manual',
  });
  const cleared = await h.harness.client.clear(key, 'checked the failed run', 'conformance-operator');
  expect(cleared.woken).toContain(`remediation-${second}`);
  expect(await h.harness.result(second)).toMatchObject({ phase: 'Completed' });
  expect((await h.harness.client.target(key)).audit).toContainEqual(
    expect.objectContaining({ action: 'clear', by: 'conformance-operator' }),
  );
});

it('S13, S9: a missing Pipeline is a pre-execution failure: retried with backoff by the same remediation, then ExhaustedRetries', async () => {
  const r = request(Action.missing);
  const { id } = await h.harness.client.start(r);
  const exhausted = await h.harness.waitFor(
    id,
    (s) => s.blockReason === 'ExhaustedRetries',
    90_000,
    'ExhaustedRetries',
  );
  expect(exhausted.attempts).toBe(5);
  expect(exhausted.pipelineRuns).toHaveLength(5);
  const pr = await pipelineRun(exhausted.pipelineRuns[0]!);
  expect(succeededCondition(pr)).toMatchObject({ status: 'False', reason: 'CouldntGetPipeline' });
  expect(await h.harness.client.target(targetKey(r.target))).toMatchObject({
    consecutiveFailures: 5,
    manualReviewRequired: false,
  });
  await h.harness.client.cancel(id, 'conformance: done', 'conformance-operator');
  expect(await h.harness.result(id)).toMatchObject({ phase: 'Cancelled' });
});

it('S14: an image that never pulls is a pre-execution failure, retried by the same remediation', async () => {
  const { id } = await h.harness.client.start(request(Action.imagePull));
  const retried = await h.harness.waitFor(id, (s) => s.attempts >= 2, 90_000, 'a second attempt');
  expect(retried.failure).toMatchObject({ category: 'ImagePullFailed', wasExecutionFailure: false });
  const pr = await pipelineRun(retried.pipelineRuns[0]!);
  expect(succeededCondition(pr)).toMatchObject({ status: 'False' });
  await h.harness.client.cancel(id, 'conformance: done', 'conformance-operator');
  await h.harness.result(id);
});

it('S6, S10, S18: a duplicate is skipped, a lock waiter waits, a cancel stops the PipelineRun and wakes the waiter', async () => {
  const a = request(Action.hang);
  const aId = (await h.harness.client.start(a)).id;
  const executing = await h.harness.waitFor(aId, (s) => s.pipelineRuns.length === 1, 60_000, 'A executing');
  const duplicate = (
    await h.harness.client.start({ ...request(Action.restart), signal: a.signal, target: a.target })
  ).id;
  expect(await h.harness.result(duplicate)).toMatchObject({
    phase: 'Skipped',
    reason: 'DuplicateInProgress',
    duplicateOf: aId,
  });
  const waiter = (await h.harness.client.start({ ...request(Action.restart), target: a.target })).id;
  expect(await h.harness.waitForPhase(waiter, 'Blocked')).toMatchObject({ blockReason: 'ResourceBusy' });

  await h.harness.client.cancel(aId, 'conformance: stop the hanging run', 'conformance-operator');
  expect(await h.harness.result(aId)).toMatchObject({ phase: 'Cancelled' });
  const pr = await pipelineRun(executing.pipelineRuns[0]!);
  expect(pr.spec.status).toBe('Cancelled');
  expect(await h.harness.result(waiter)).toMatchObject({ phase: 'Completed' });
});

it('S38: a namespace budget of one writes its RemediationBudget and holds the second target until the first releases', async () => {
  const namespace = `conf-budget-${run}-a`;
  const aId = (await h.harness.client.start(request(Action.hang, { namespace, name: 'api' }))).id;
  await h.harness.waitFor(aId, (s) => s.pipelineRuns.length === 1, 60_000, 'A executing');
  const bId = (await h.harness.client.start(request(Action.restart, { namespace, name: 'web' }))).id;
  expect(await h.harness.waitForPhase(bId, 'Blocked')).toMatchObject({
    blockReason: 'BudgetExceeded',
    budget: { budget: BUDGET, key: namespace, limit: 1, used: 1 },
  });
  const budgets = (await kubectlGet(admin, ['rbudget'], CONTROL_NAMESPACE)).get('rbudget')!;
  const row = budgets.rows.find((r) => r.cells[1] === BUDGET && r.cells[3] === namespace);
  expect(row?.cells.slice(1, 6)).toEqual([BUDGET, 'namespace', namespace, aId, bId]);
  await h.harness.client.cancel(aId, 'conformance: release the budget', 'conformance-operator');
  expect(await h.harness.result(bId)).toMatchObject({ phase: 'Completed' });
});

it('S37: a DryRun action checks the Pipeline and dry-runs the create; no PipelineRun', async () => {
  const { id } = await h.harness.client.start(request(Action.dryRun));
  const end = await h.harness.result(id);
  expect(end).toMatchObject({ phase: 'Skipped', reason: 'DryRun', pipelineRuns: [] });
  expect(end.wouldRun).toMatchObject({ pipelineExists: true, accepted: true, rejection: null });
});

it('S34: the intake, with its own ServiceAccount token, starts the remediation of one Alertmanager notification', async () => {
  const routes = join(dir, 'routes.json');
  writeFileSync(
    routes,
    JSON.stringify({
      routes: [
        {
          name: 'conformance-restart',
          match: { alertname: ALERT },
          action: { id: Action.restart },
          target: {
            kind: 'Deployment',
            name: '{{ labels.deployment }}',
            namespace: '{{ labels.namespace }}',
          },
        },
      ],
    }),
  );
  const token = uniqueName('intake-token');
  writeFileSync(join(dir, 'intake-token'), `${token}\n`);
  const intake = startIntake({
    KUBECONFIG: intakeIdentity.kubeconfig,
    TEMPORAL_ADDRESS: temporal!.address,
    TEMPORAL_NAMESPACE: temporal!.namespace,
    REMEDIATION_TASK_QUEUE: h.harness.taskQueue,
    INTAKE_ROUTES: routes,
    INTAKE_BEARER_TOKEN_FILE: join(dir, 'intake-token'),
    INTAKE_HOST: '127.0.0.1',
    INTAKE_PORT: '0',
  });
  try {
    const url = await intake.url;
    const fingerprint = uniqueName('fp');
    const startsAt = new Date().toISOString();
    const alert = {
      status: 'firing',
      labels: {
        alertname: ALERT,
        namespace: uniqueName('conf-intake'),
        deployment: 'api',
        severity: 'warning',
      },
      annotations: { summary: 'conformance probe' },
      startsAt,
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example/graph',
      fingerprint,
    };
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        version: '4',
        groupKey: `{}:{alertname="${ALERT}"}`,
        truncatedAlerts: 0,
        status: 'firing',
        receiver: 'remediation-intake',
        groupLabels: { alertname: ALERT },
        commonLabels: alert.labels,
        commonAnnotations: alert.annotations,
        externalURL: 'http://alertmanager.example',
        alerts: [alert],
      }),
    });
    expect(res.status).toBe(200);
    const id = remediationIdFor(fingerprint, startsAt, 'conformance-restart');
    expect(await h.harness.result(id)).toMatchObject({ phase: 'Completed' });
  } finally {
    await intake.stop();
  }
});

it('kubectl get rtarget,rfp,rbudget -n remediation-system: the printer columns, rendered by the API server', async () => {
  const tables = await kubectlGet(admin, ['rtarget', 'rfp', 'rbudget'], CONTROL_NAMESPACE);
  const columns = (name: string): string[] => tables.get(name)!.columnDefinitions.map((c) => c.name);
  expect(columns('rtarget')).toEqual([
    'Name',
    'Key',
    'Failures',
    'NextAllowed',
    'ManualReview',
    'Lock',
    'Fencing',
    'Unsettled',
    'Age',
  ]);
  expect(columns('rfp')).toEqual(['Name', 'Key', 'FailedRemediations', 'Active', 'Duplicates', 'Age']);
  expect(columns('rbudget')).toEqual(['Name', 'Budget', 'Scope', 'Key', 'Holders', 'Waiting', 'Age']);
  for (const name of ['rtarget', 'rfp', 'rbudget']) expect(tables.get(name)!.rows.length).toBeGreaterThan(0);
});

it('the worker was refused nothing: no RBAC denial in its log; its gauge lists the targets', async () => {
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toMatch(/^remediation_targets_manual_review \d+$/m);
  // The API server's words for an RBAC refusal, whichever call met it.
  expect(worker!.output()).not.toMatch(/cannot \w+ resource|is forbidden: User/);
  expect(worker!.output()).not.toContain('not refreshed');
});

interface IntakeProcess {
  url: Promise<string>;
  stop(): Promise<void>;
}

/** `node dist/intake/main.js` as its container runs it, with only the given environment of ours. */
function startIntake(env: Record<string, string>): IntakeProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(INTAKE_|TEMPORAL_|REMEDIATION_|KUBE)/.test(k)),
  );
  const child: ChildProcess = spawn(process.execPath, [join(REPO_ROOT, 'dist/intake/main.js')], {
    cwd: REPO_ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        try {
          const parsed = JSON.parse(line) as { msg?: string; url?: string };
          if (parsed.msg === 'intake listening' && parsed.url) resolve(parsed.url);
        } catch {
          // not a whole JSON line yet
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the intake exited with ${code}:\n${output}`)));
  });
  url.catch(() => {});
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
