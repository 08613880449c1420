/**
 * A verb missing from the worker's Role, met by the real worker on a real kube-apiserver: the 403
 * must surface, not be waited out. The worker here runs as a ServiceAccount bound to deploy/'s
 * ledger and catalog Roles and to a PipelineRun Role without list and watch: it can create the
 * PipelineRun but not follow it. Before the fix the wait retried the refused list forever inside
 * the activity, heartbeating, with nothing in any log (the remediation sat in Executing until
 * the watch bound, pipelineRunTimeout + watchGrace later). Now each attempt fails naming the verb,
 * the resource and the identity, Temporal retries it, and granting the verb lets it finish.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/dev/stack/proc';
import { CONTROL_NAMESPACE, EXECUTION_NAMESPACE, type StackInfo } from '../../src/dev/stack/stack';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/stack/temporal';
import { spawnWorker, type WorkerProcess } from '../../src/dev/stack/worker-process';
import { KubernetesLedger } from '../../src/adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from '../../src/adapters/kubernetes-pipeline-runs';
import { classifyCreateError } from '../../src/domain/classifier';
import { emptyTargetState } from '../../src/domain/model';
import { KubernetesForbiddenError } from '../../src/k8s/kube';
import { PipelineRunRejectedError } from '../../src/ports/pipeline-runs';
import { RemediationHarness, uniqueName } from '../integration/support/remediation-harness';
import { adminKubeConfig, conformanceStack } from './stack-env';
import { applyObjects } from './support/kube-identity';
import {
  applyDeploy,
  deployedPolicy,
  INTAKE_SA,
  serviceAccountIdentity,
  type Identity,
} from './support/product';

const SA = 'conformance-worker-partial';
const rbac = 'rbac.authorization.k8s.io';

let dir: string;
let temporal: TemporalDevServer | undefined;
let worker: WorkerProcess | undefined;
/** An identity with no Role at all: every product call is refused. */
let intake: Identity;
const h = {} as { harness: RemediationHarness };

function pipelineRunRole(verbs: string[]): Record<string, unknown> {
  return {
    apiVersion: `${rbac}/v1`,
    kind: 'Role',
    metadata: { name: SA, namespace: EXECUTION_NAMESPACE },
    rules: [
      { apiGroups: ['tekton.dev'], resources: ['pipelineruns'], verbs },
      { apiGroups: ['tekton.dev'], resources: ['taskruns'], verbs: ['list'] },
      { apiGroups: ['tekton.dev'], resources: ['pipelines'], verbs: ['get'] },
    ],
  };
}

function binding(namespace: string, role: string): Record<string, unknown> {
  return {
    apiVersion: `${rbac}/v1`,
    kind: 'RoleBinding',
    metadata: { name: `${SA}-${role}`, namespace },
    roleRef: { apiGroup: rbac, kind: 'Role', name: role },
    subjects: [{ kind: 'ServiceAccount', name: SA, namespace: CONTROL_NAMESPACE }],
  };
}

beforeAll(async () => {
  const stack = conformanceStack();
  const admin = adminKubeConfig();
  dir = mkdtempSync(join(tmpdir(), 'conformance-rbac-forbidden-'));
  await applyDeploy(admin);
  await applyObjects(admin, [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: CONTROL_NAMESPACE } },
    binding(CONTROL_NAMESPACE, 'remediation-worker-ledger'),
    binding(CONTROL_NAMESPACE, 'remediation-worker-catalog'),
    pipelineRunRole(['get', 'create', 'patch']),
    binding(EXECUTION_NAMESPACE, SA),
  ]);
  const identity = await serviceAccountIdentity(admin, SA, join(dir, 'worker.kubeconfig'), {
    server: stack.apiServer,
    caCertFile: stack.caCert,
  });
  intake = await serviceAccountIdentity(admin, INTAKE_SA, join(dir, 'intake.kubeconfig'), {
    server: stack.apiServer,
    caCertFile: stack.caCert,
  });
  temporal = await startTemporalDevServer({
    cli: stack.temporal.cli,
    dbFile: join(dir, 'temporal.db'),
    port: await freePort(),
    headless: true,
    logFile: join(dir, 'temporal.log'),
  });
  const info: StackInfo = {
    temporal: {
      address: temporal.address,
      namespace: temporal.namespace,
      uiUrl: '',
      cli: stack.temporal.cli,
    },
    kubeconfig: stack.kubeconfig,
    executionNamespace: EXECUTION_NAMESPACE,
    controlNamespace: CONTROL_NAMESPACE,
  };
  h.harness = await new RemediationHarness(info).open();
  worker = spawnWorker({ ...info, kubeconfig: identity.kubeconfig }, h.harness.taskQueue, deployedPolicy(), {
    compiled: true,
  });
  await worker.ready;
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  await h.harness?.close();
  await temporal?.stop();
  if (dir && process.env.REMEDIATION_KEEP_STACK !== '1') rmSync(dir, { recursive: true, force: true });
});

it('a PipelineRun the worker may create but not list is reported as Forbidden at once, and finishes once the verbs are granted', async () => {
  const { id } = await h.harness.client.start({
    signal: {
      fingerprint: uniqueName('fp'),
      name: 'KubeDeploymentReplicasMismatch',
      severity: 'warning',
      labels: {},
    },
    target: { kind: 'Deployment', name: 'api', namespace: uniqueName('conf-forbidden') },
    action: { id: 'restart-deployment', params: {} },
  });
  const executing = await h.harness.waitFor(id, (s) => s.pipelineRuns.length === 1, 60_000, 'a PipelineRun');
  const expected = [
    `the Kubernetes API server refused to list pipelineruns.tekton.dev in namespace ${EXECUTION_NAMESPACE} (HTTP 403: `,
    `User "system:serviceaccount:${CONTROL_NAMESPACE}:${SA}" cannot list resource "pipelineruns" in API group "tekton.dev"`,
  ];
  // The worker's JSON log line for the failed attempt, its error text unescaped.
  const reported = (): Record<string, unknown> | undefined =>
    worker!
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        const parsed = JSON.parse(l) as Record<string, unknown>;
        return {
          level: parsed.level,
          msg: parsed.msg,
          activityType: parsed.activityType,
          error: (parsed.error as { name?: unknown } | undefined)?.name,
          text: strings(parsed).join('\n'),
        };
      })
      .find((l) => expected.every((part) => l.text.includes(part)));
  for (const until = Date.now() + 30_000; !reported() && Date.now() < until;)
    await new Promise((r) => setTimeout(r, 200));
  expect(reported()).toMatchObject({
    level: 'warn',
    msg: 'Activity failed',
    activityType: 'awaitPipelineRun',
    error: 'KubernetesForbiddenError',
  });
  expect((await h.harness.client.status(id)).phase).toBe('Executing');

  await applyObjects(adminKubeConfig(), [pipelineRunRole(['get', 'list', 'watch', 'create', 'patch'])]);
  expect(await h.harness.result(id, 60_000)).toMatchObject({
    phase: 'Completed',
    pipelineRuns: executing.pipelineRuns,
  });
});

it('the ledger names a refused read or write; a refused PipelineRun create is a 403 rejection (pre-execution, retried with backoff)', async () => {
  const ledger = new KubernetesLedger(intake.kc, CONTROL_NAMESPACE);
  const key = `${uniqueName('conf-forbidden')}/Deployment/api`;
  const refused = (verb: string) =>
    `the Kubernetes API server refused to ${verb} remediationtargets.ledger.remediation.dev in namespace ${CONTROL_NAMESPACE} (HTTP 403: `;
  await expect(ledger.getTarget(key)).rejects.toThrow(KubernetesForbiddenError);
  await expect(ledger.getTarget(key)).rejects.toThrow(refused('get'));
  await expect(ledger.putTarget(emptyTargetState(key))).rejects.toThrow(refused('create'));
  await expect(ledger.listTargets()).rejects.toThrow(
    `refused to list remediationtargets.ledger.remediation.dev in namespace ${CONTROL_NAMESPACE}`,
  );

  const create = new KubernetesPipelineRuns(intake.kc).create({
    name: uniqueName('conf-forbidden'),
    namespace: EXECUTION_NAMESPACE,
    pipeline: 'restart-deployment',
    params: {},
    labels: {},
  });
  const rejection = (await create.catch((e: unknown) => e)) as PipelineRunRejectedError;
  expect(rejection).toBeInstanceOf(PipelineRunRejectedError);
  expect(rejection.status).toBe(403);
  expect(rejection.message).toContain(
    `User "system:serviceaccount:${CONTROL_NAMESPACE}:${INTAKE_SA}" cannot create`,
  );
  expect(classifyCreateError(rejection.status, rejection.message)).toMatchObject({
    category: 'CreateRejected',
    wasExecutionFailure: false,
  });
});

/** Every string inside a parsed log line (the error's message may sit a few levels down). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}
