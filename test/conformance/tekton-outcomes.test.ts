/**
 * Outcomes produced by Tekton itself: every PipelineRun is created through the product's adapter,
 * run by Tekton Pipelines' real controller (admitted by its real webhook) on a real kube-apiserver,
 * its pod scheduled by the real kube-scheduler onto a kwok node whose Stages play the kubelet, and
 * the product's classifier must tell pre-execution from execution exactly as the case was built.
 *
 * The statuses Tekton wrote are compared with the committed fixtures in test/fixtures/tekton/real
 * (reason and message, names replaced by placeholders), so a Tekton upgrade that changes a string
 * fails here; `CONFORMANCE_RECORD=1` rewrites the fixtures from this run instead.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { KubernetesPipelineRuns } from '../../src/adapters/kubernetes-pipeline-runs';
import { classifyCreateError } from '../../src/domain/classifier';
import type { PipelineRunOutcome } from '../../src/domain/model';
import {
  PIPELINE_RUN_LABEL,
  succeededCondition,
  TEKTON_GROUP,
  TEKTON_VERSION,
  TektonPlural,
  type PipelineRun,
  type TaskRun,
} from '../../src/domain/tekton';
import { PipelineRunRejectedError, type PipelineRunRequest } from '../../src/ports/pipeline-runs';
import { applyManifests, OUTCOME_LABEL, PodOutcome } from '../../src/dev/stack/conformance';
import { adminKubeConfig } from './stack-env';
import { kubeRequest } from '../../src/dev/stack/kube-api';
import {
  CONFORMANCE_FIXTURES,
  CONFORMANCE_PIPELINES,
  pinned,
  type ConformanceFixture,
} from '../support/conformance-fixtures';

const RUNS = 'conformance-runs';
const QUOTA = 'conformance-quota';
const record = process.env.CONFORMANCE_RECORD === '1';

interface Case {
  key: string;
  namespace?: string;
  pipeline: string;
  params?: Record<string, string>;
  outcome?: string;
  timeout?: string;
  /** Cancel through the adapter once a step is running. */
  cancel?: boolean;
  expected:
    | { state: 'succeeded' }
    | { state: 'failed'; category: string; wasExecutionFailure: boolean }
    | { rejected: number; category: string };
}

const target = { target: 'prod/Deployment/api' };
const cases: Case[] = [
  { key: 'succeeded', pipeline: 'one-step', params: target, expected: { state: 'succeeded' } },
  {
    key: 'pipeline-missing',
    pipeline: 'no-such-pipeline',
    params: target,
    expected: { state: 'failed', category: 'PipelineNotFound', wasExecutionFailure: false },
  },
  {
    key: 'param-missing',
    pipeline: 'one-step',
    params: {},
    expected: { state: 'failed', category: 'ParameterInvalid', wasExecutionFailure: false },
  },
  {
    key: 'param-type-mismatch',
    pipeline: 'array-param',
    params: { targets: 'prod/Deployment/api' },
    expected: { state: 'failed', category: 'ParameterInvalid', wasExecutionFailure: false },
  },
  {
    key: 'workspace-missing',
    pipeline: 'needs-workspace',
    params: {},
    expected: { state: 'failed', category: 'WorkspaceInvalid', wasExecutionFailure: false },
  },
  {
    key: 'rejected-by-webhook',
    pipeline: 'one-step',
    params: target,
    timeout: 'soon',
    expected: { rejected: 400, category: 'CreateRejected' },
  },
  {
    key: 'step-failed',
    pipeline: 'one-step',
    params: target,
    outcome: PodOutcome.Fail,
    expected: { state: 'failed', category: 'StepFailed', wasExecutionFailure: true },
  },
  {
    key: 'oom',
    pipeline: 'one-step',
    params: target,
    outcome: PodOutcome.Oom,
    expected: { state: 'failed', category: 'OutOfMemory', wasExecutionFailure: true },
  },
  {
    key: 'image-pull',
    pipeline: 'one-step',
    params: target,
    outcome: PodOutcome.ImagePull,
    expected: { state: 'failed', category: 'ImagePullFailed', wasExecutionFailure: false },
  },
  {
    key: 'config-error',
    pipeline: 'one-step',
    params: target,
    outcome: PodOutcome.ConfigError,
    expected: { state: 'failed', category: 'ContainerConfigError', wasExecutionFailure: false },
  },
  {
    key: 'admission-denied',
    pipeline: 'one-step',
    params: target,
    outcome: PodOutcome.AdmissionDenied,
    expected: { state: 'failed', category: 'PodCreationFailed', wasExecutionFailure: false },
  },
  {
    key: 'timeout',
    pipeline: 'one-step',
    params: target,
    outcome: PodOutcome.Hang,
    timeout: '6s',
    expected: { state: 'failed', category: 'TimedOut', wasExecutionFailure: true },
  },
  {
    key: 'cancelled',
    pipeline: 'one-step',
    params: target,
    outcome: PodOutcome.Hang,
    cancel: true,
    expected: { state: 'failed', category: 'Cancelled', wasExecutionFailure: true },
  },
  {
    key: 'quota',
    namespace: QUOTA,
    pipeline: 'one-step',
    params: target,
    timeout: '6s',
    expected: { state: 'failed', category: 'ResourceQuotaExceeded', wasExecutionFailure: false },
  },
];

let kc: KubeConfig;
let runs: KubernetesPipelineRuns;
const suffix = Date.now().toString(36).slice(-4);
const results = new Map<string, Promise<Result>>();

interface Result {
  outcome?: PipelineRunOutcome;
  rejection?: PipelineRunRejectedError;
  pipelineRun?: PipelineRun;
  taskRuns: TaskRun[];
  name: string;
  namespace: string;
}

beforeAll(async () => {
  kc = adminKubeConfig();
  runs = new KubernetesPipelineRuns(kc, { watchTimeoutSeconds: 30 });
  await applyManifests(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: RUNS } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: QUOTA } },
  ]);
  const quota = await kubeRequest(kc, 'POST', `/api/v1/namespaces/${QUOTA}/resourcequotas`, {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name: 'remediation-quota' },
    spec: { hard: { pods: '0' } },
  });
  expect(quota.status).toBe(201);
  const api = kc.makeApiClient(CustomObjectsApi);
  for (const namespace of [RUNS, QUOTA]) {
    for (const pipeline of Object.values(CONFORMANCE_PIPELINES)) {
      await api.createNamespacedCustomObject({
        group: TEKTON_GROUP,
        version: TEKTON_VERSION,
        namespace,
        plural: TektonPlural.Pipeline,
        body: pipeline,
      });
    }
  }
  // The quota and the admission policy act once their informers have caught up.
  await untilPodRefused(QUOTA, {}, 'exceeded quota');
  await untilPodRefused(RUNS, { [OUTCOME_LABEL]: PodOutcome.AdmissionDenied }, 'ValidatingAdmissionPolicy');
  for (const c of cases) results.set(c.key, runCase(c));
}, 900_000);

async function untilPodRefused(
  namespace: string,
  labels: Record<string, string>,
  text: string,
): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const res = await kubeRequest(kc, 'POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probe', labels },
      spec: { containers: [{ name: 'c', image: 'fake.local/probe:v1' }] },
    });
    if (res.status === 403 && res.body.includes(text)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`pods in ${namespace} are still admitted (waiting for "${text}")`);
}

async function runCase(c: Case): Promise<Result> {
  const namespace = c.namespace ?? RUNS;
  const name = `conf-${c.key}-${suffix}`;
  const request: PipelineRunRequest = {
    name,
    namespace,
    pipeline: c.pipeline,
    params: c.params ?? {},
    labels: {
      'remediation.dev/remediation-id': `conformance-${c.key}`,
      ...(c.outcome ? { [OUTCOME_LABEL]: c.outcome } : {}),
    },
    ...(c.timeout ? { timeout: c.timeout } : {}),
  };
  try {
    await runs.create(request);
  } catch (e) {
    if (e instanceof PipelineRunRejectedError) return { rejection: e, taskRuns: [], name, namespace };
    throw e;
  }
  if (c.cancel) {
    await until(async () => {
      const o = await runs.observe(namespace, name);
      return o?.state === 'running' && o.userCodeStarted === true;
    }, `${name} running a step`);
    await runs.cancel(namespace, name);
  }
  const outcome = await runs.waitForCompletion(namespace, name, { signal: AbortSignal.timeout(120_000) });
  // A cancelled or timed-out PipelineRun is finished before Tekton has cancelled its TaskRuns:
  // read them once every one has settled too.
  let settled = await read(namespace, name);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    if (settled.taskRuns.every((tr) => (succeededCondition(tr)?.status ?? 'Unknown') !== 'Unknown')) break;
    await new Promise((r) => setTimeout(r, 250));
    settled = await read(namespace, name);
  }
  return { outcome, ...settled, name, namespace };
}

async function read(
  namespace: string,
  name: string,
): Promise<{ pipelineRun: PipelineRun; taskRuns: TaskRun[] }> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = { group: TEKTON_GROUP, version: TEKTON_VERSION, namespace };
  const pipelineRun = (await api.getNamespacedCustomObject({
    ...base,
    plural: TektonPlural.PipelineRun,
    name,
  })) as PipelineRun;
  const list = (await api.listNamespacedCustomObject({
    ...base,
    plural: TektonPlural.TaskRun,
    labelSelector: `${PIPELINE_RUN_LABEL}=${name}`,
  })) as { items: TaskRun[] };
  return { pipelineRun, taskRuns: list.items };
}

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Drops what only clutters a fixture (managedFields); keeps every field Tekton wrote. */
function stripped<T extends { metadata: object }>(o: T): T {
  const { managedFields: _managed, ...metadata } = o.metadata as { managedFields?: unknown };
  return { ...o, metadata } as T;
}

describe.each(cases)('$key', (c) => {
  it('is classified as the case was built, from what Tekton wrote', async () => {
    const r = await results.get(c.key);
    if (!r) throw new Error(`case ${c.key} never started`);
    const file = join(CONFORMANCE_FIXTURES, `${c.key}.json`);
    const fixture: ConformanceFixture = {
      case: c.key,
      expected: c.expected,
      name: r.name,
      namespace: r.namespace,
      pipeline: CONFORMANCE_PIPELINES[c.pipeline] ?? null,
      pinned: pinned({
        ...r,
        rejection: r.rejection && { status: r.rejection.status, message: r.rejection.message },
      }),
      ...(r.rejection ? { rejection: { status: r.rejection.status, message: r.rejection.message } } : {}),
      ...(r.pipelineRun ? { pipelineRun: stripped(r.pipelineRun) } : {}),
      taskRuns: r.taskRuns.map(stripped),
    };
    if (record) {
      mkdirSync(CONFORMANCE_FIXTURES, { recursive: true });
      writeFileSync(file, JSON.stringify(fixture, null, 2) + '\n');
    } else {
      expect(existsSync(file)).toBe(true);
      const committed = JSON.parse(readFileSync(file, 'utf8')) as ConformanceFixture;
      expect(fixture.pinned).toEqual(committed.pinned);
    }
    if ('rejected' in c.expected) {
      expect(r.rejection?.status).toBe(c.expected.rejected);
      const failure = classifyCreateError(r.rejection?.status ?? 0, r.rejection?.message ?? '');
      expect(failure).toMatchObject({ category: c.expected.category, wasExecutionFailure: false });
    } else if (c.expected.state === 'succeeded') {
      expect(r.outcome).toMatchObject({ state: 'succeeded' });
    } else {
      expect(r.outcome).toMatchObject({
        state: 'failed',
        failure: { category: c.expected.category, wasExecutionFailure: c.expected.wasExecutionFailure },
      });
    }
  });
});
