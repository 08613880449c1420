/**
 * deploy/ applied for real (server-side apply of worker.yaml, rbac.yaml, networkpolicy.yaml) on a
 * kube-apiserver that enforces RBAC: the worker's adapters work under the remediation-worker
 * ServiceAccount's own token (TokenRequest API), and that token — and the intake's — is refused
 * everything else.
 */
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { KubernetesLedger } from '../../src/adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from '../../src/adapters/kubernetes-pipeline-runs';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural } from '../../src/domain/tekton';
import {
  applyManifests,
  OUTCOME_LABEL,
  PodOutcome,
  readManifests,
  tokenKubeconfig,
} from '../../src/dev/stack/conformance';
import { REPO_ROOT, kubeRequest } from '../../src/dev/stack/kube-api';
import { CONTROL_NAMESPACE, EXECUTION_NAMESPACE } from '../../src/dev/stack/stack';
import { CONFORMANCE_PIPELINES } from '../support/conformance-fixtures';
import { adminKubeConfig, conformanceStack } from './stack-env';

let admin: KubeConfig;
let worker: KubeConfig;
let intake: KubeConfig;
const suffix = Date.now().toString(36).slice(-4);

async function serviceAccountKubeConfig(name: string): Promise<KubeConfig> {
  const res = await kubeRequest(
    admin,
    'POST',
    `/api/v1/namespaces/${CONTROL_NAMESPACE}/serviceaccounts/${name}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  );
  expect(res.status).toBe(201);
  const token = (res.json as { status: { token: string } }).status.token;
  const stack = conformanceStack();
  const kc = new KubeConfig();
  kc.loadFromString(tokenKubeconfig(stack.apiServer, stack.caCert, name, token));
  return kc;
}

beforeAll(async () => {
  admin = adminKubeConfig();
  await applyManifests(
    admin,
    ['worker.yaml', 'rbac.yaml', 'networkpolicy.yaml'].flatMap((f) =>
      readManifests(join(REPO_ROOT, 'deploy', f)),
    ),
  );
  const pipeline = CONFORMANCE_PIPELINES['one-step'];
  await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: TEKTON_GROUP,
    version: TEKTON_VERSION,
    namespace: EXECUTION_NAMESPACE,
    plural: TektonPlural.Pipeline,
    body: pipeline,
  });
  worker = await serviceAccountKubeConfig('remediation-worker');
  intake = await serviceAccountKubeConfig('remediation-intake');
});

it('the tokens authenticate as the ServiceAccounts of deploy/', async () => {
  for (const [kc, name] of [
    [worker, 'remediation-worker'],
    [intake, 'remediation-intake'],
  ] as const) {
    const res = await kubeRequest(kc, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
    });
    expect(res.status).toBe(201);
    expect((res.json as { status: { userInfo: { username: string } } }).status.userInfo.username).toBe(
      `system:serviceaccount:${CONTROL_NAMESPACE}:${name}`,
    );
  }
});

it('the worker dry-runs, runs, watches and cancels PipelineRuns under its own Role', async () => {
  const runs = new KubernetesPipelineRuns(worker, { watchTimeoutSeconds: 30 });
  const request = {
    name: `rbac-ok-${suffix}`,
    namespace: EXECUTION_NAMESPACE,
    pipeline: 'one-step',
    params: { target: 'prod/Deployment/api' },
    labels: { 'remediation.dev/remediation-id': `rbac-ok-${suffix}` },
  };
  const dry = await runs.dryRun(request);
  expect(dry).toMatchObject({ accepted: true, pipelineExists: true, alreadyExists: false });
  await runs.create(request);
  const done = await runs.waitForCompletion(EXECUTION_NAMESPACE, request.name, {
    signal: AbortSignal.timeout(120_000),
  });
  expect(done).toMatchObject({ state: 'succeeded' });

  const hanging = {
    ...request,
    name: `rbac-hang-${suffix}`,
    labels: { ...request.labels, [OUTCOME_LABEL]: PodOutcome.Hang },
  };
  await runs.create(hanging);
  for (const deadline = Date.now() + 60_000; ;) {
    const o = await runs.observe(EXECUTION_NAMESPACE, hanging.name);
    if (o?.state === 'running' && o.userCodeStarted === true) break;
    if (Date.now() > deadline) throw new Error('the hanging run never started its step');
    await new Promise((r) => setTimeout(r, 200));
  }
  await runs.cancel(EXECUTION_NAMESPACE, hanging.name);
  const cancelled = await runs.waitForCompletion(EXECUTION_NAMESPACE, hanging.name, {
    signal: AbortSignal.timeout(120_000),
  });
  expect(cancelled).toMatchObject({
    state: 'failed',
    failure: { category: 'Cancelled', wasExecutionFailure: true },
  });
});

it('the worker keeps the ledger under its own Role, and kubectl-style tables show the printer columns', async () => {
  const ledger = new KubernetesLedger(worker, CONTROL_NAMESPACE);
  const key = `prod/Deployment/rbac-${suffix}`;
  const empty = await ledger.getTarget(key);
  expect(empty.version).toBeNull();
  const written = await ledger.putTarget({ ...empty, consecutiveFailures: 2 });
  expect(written.consecutiveFailures).toBe(2);
  expect((await ledger.listTargets()).map((t) => t.key)).toContain(key);

  // What `kubectl get rtarget -n remediation-system` asks for: a server-side Table.
  const table = await tableOf(
    admin,
    `/apis/ledger.remediation.dev/v1alpha1/namespaces/${CONTROL_NAMESPACE}/remediationtargets`,
  );
  expect(table.columnDefinitions.map((c) => c.name)).toEqual(
    expect.arrayContaining(['Name', 'Key', 'Failures', 'ManualReview', 'Lock']),
  );
  const keyColumn = table.columnDefinitions.findIndex((c) => c.name === 'Key');
  const failuresColumn = table.columnDefinitions.findIndex((c) => c.name === 'Failures');
  const row = table.rows.find((r) => r.cells[keyColumn] === key);
  expect(row?.cells[failuresColumn]).toBe(2);
});

async function tableOf(
  kc: KubeConfig,
  path: string,
): Promise<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }> {
  const server = kc.getCurrentCluster()?.server ?? '';
  const opts: { headers: Record<string, string> } = {
    headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
  };
  const https = await import('node:https');
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    https
      .get(new URL(path, server), opts, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(JSON.parse(body) as never));
      })
      .on('error', reject);
  });
}

describe('what the worker cannot do', () => {
  const denied: [string, string, string, unknown?][] = [
    ['read Secrets in its own namespace', 'GET', `/api/v1/namespaces/${CONTROL_NAMESPACE}/secrets`],
    ['read Secrets in the execution namespace', 'GET', `/api/v1/namespaces/${EXECUTION_NAMESPACE}/secrets`],
    [
      'create PipelineRuns in another namespace',
      'POST',
      '/apis/tekton.dev/v1/namespaces/default/pipelineruns',
      {
        apiVersion: 'tekton.dev/v1',
        kind: 'PipelineRun',
        metadata: { name: 'not-allowed' },
        spec: { pipelineRef: { name: 'one-step' } },
      },
    ],
    ['delete PipelineRuns', 'DELETE', `/apis/tekton.dev/v1/namespaces/${EXECUTION_NAMESPACE}/pipelineruns/x`],
    [
      'create pods',
      'POST',
      `/api/v1/namespaces/${EXECUTION_NAMESPACE}/pods`,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'x' },
        spec: { containers: [{ name: 'c', image: 'x' }] },
      },
    ],
    [
      'write the action catalog',
      'POST',
      `/apis/remediation.dev/v1alpha1/namespaces/${CONTROL_NAMESPACE}/remediationactions`,
      { apiVersion: 'remediation.dev/v1alpha1', kind: 'RemediationAction', metadata: { name: 'x' } },
    ],
    [
      'create cluster-scoped objects (a Namespace)',
      'POST',
      '/api/v1/namespaces',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'worker-made' } },
    ],
    ['list Nodes', 'GET', '/api/v1/nodes'],
  ];
  it.each(denied)('%s: 403', async (_what, method, path, body) => {
    const res = await kubeRequest(worker, method, path, body);
    expect(res.status).toBe(403);
    expect(res.body).toContain(`system:serviceaccount:${CONTROL_NAMESPACE}:remediation-worker`);
  });

  it('and the intake (no Role at all) can read nothing', async () => {
    for (const path of [
      `/apis/tekton.dev/v1/namespaces/${EXECUTION_NAMESPACE}/pipelineruns`,
      `/apis/ledger.remediation.dev/v1alpha1/namespaces/${CONTROL_NAMESPACE}/remediationtargets`,
      `/api/v1/namespaces/${CONTROL_NAMESPACE}/secrets`,
    ]) {
      const res = await kubeRequest(intake, 'GET', path);
      expect(res.status).toBe(403);
    }
  });
});
