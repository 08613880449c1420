/**
 * Every simulator outcome on the real API server (Tekton v1.15 CRDs, status subresource), read back
 * through the API and classified: the simulator's objects must be ones Tekton's schema accepts and
 * the classifier must read them as docs/behaviour.md#execution-and-recording says (S13–S15).
 */
import { randomBytes } from 'node:crypto';

import { CustomObjectsApi } from '@kubernetes/client-node';

import { classifyPipelineRun } from '../../src/domain/classifier';
import { mergePatch } from '../../src/k8s/kube';
import {
  PIPELINE_RUN_LABEL,
  succeededCondition,
  TEKTON_API_VERSION,
  TEKTON_GROUP,
  TEKTON_VERSION,
  TektonPlural,
  type PipelineRun,
  type TaskRun,
} from '../../src/domain/tekton';
import { SCRIPT_ANNOTATION } from '../../src/dev/simulator';
import { kubeConfig } from './stack-env';

// A namespace of its own: the stack's simulator watches all namespaces.
const namespace = 'simulator-outcomes';
const api = kubeConfig().makeApiClient(CustomObjectsApi);
const base = { group: TEKTON_GROUP, version: TEKTON_VERSION, namespace };
const suffix = randomBytes(3).toString('hex');

async function startRun(key: string, script: string | null): Promise<string> {
  const pipeline = `p-${key}-${suffix}`;
  if (script !== null) {
    await api.createNamespacedCustomObject({
      ...base,
      plural: TektonPlural.Pipeline,
      body: {
        apiVersion: TEKTON_API_VERSION,
        kind: 'Pipeline',
        metadata: { name: pipeline, annotations: { [SCRIPT_ANNOTATION]: script } },
        spec: {
          params: [{ name: 'target', type: 'string' }],
          tasks: [
            {
              name: 'fix',
              taskSpec: {
                steps: [
                  { name: 'check', image: 'busybox' },
                  { name: 'apply', image: 'busybox' },
                ],
              },
            },
          ],
        },
      },
    });
  }
  const name = `r-${key}-${suffix}`;
  await api.createNamespacedCustomObject({
    ...base,
    plural: TektonPlural.PipelineRun,
    body: {
      apiVersion: TEKTON_API_VERSION,
      kind: 'PipelineRun',
      metadata: { name },
      spec: { pipelineRef: { name: pipeline } },
    },
  });
  return name;
}

async function read(name: string): Promise<{ pr: PipelineRun; taskRuns: TaskRun[] }> {
  const pr = (await api.getNamespacedCustomObject({
    ...base,
    plural: TektonPlural.PipelineRun,
    name,
  })) as PipelineRun;
  const list = (await api.listNamespacedCustomObject({
    ...base,
    plural: TektonPlural.TaskRun,
    labelSelector: `${PIPELINE_RUN_LABEL}=${name}`,
  })) as { items: TaskRun[] };
  return { pr, taskRuns: list.items };
}

async function until(
  name: string,
  done: (o: { pr: PipelineRun; taskRuns: TaskRun[] }) => boolean,
): Promise<{ pr: PipelineRun; taskRuns: TaskRun[] }> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const objects = await read(name);
    if (done(objects)) return objects;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`PipelineRun ${name} did not reach the expected state in 30s`);
}

const finished = ({ pr }: { pr: PipelineRun }) => (succeededCondition(pr)?.status ?? 'Unknown') !== 'Unknown';

interface Row {
  title: string;
  key: string;
  script: string | null;
  prReason: string;
  expected: { category?: string; wasExecutionFailure?: boolean; state?: string };
  taskRunReason?: string;
}

const script = (outcome: string, durationMs = 500) => JSON.stringify({ outcome, durationMs });

const rows: Row[] = [
  {
    title: 'succeed → Succeeded',
    key: 'ok',
    script: script('succeed'),
    prReason: 'Succeeded',
    expected: { state: 'succeeded' },
    taskRunReason: 'Succeeded',
  },
  {
    title: 'S15 fail-step → StepFailed, execution',
    key: 'fail',
    script: script('fail-step'),
    prReason: 'Failed',
    expected: { category: 'StepFailed', wasExecutionFailure: true },
    taskRunReason: 'StepFailed',
  },
  {
    title: 'S15 oom → OutOfMemory, execution',
    key: 'oom',
    script: script('oom'),
    prReason: 'Failed',
    expected: { category: 'OutOfMemory', wasExecutionFailure: true },
    taskRunReason: 'StepOOM',
  },
  {
    title: 'S15 timeout after steps ran → TimedOut, execution',
    key: 'tmo',
    script: script('timeout', 1_500),
    prReason: 'PipelineRunTimeout',
    expected: { category: 'TimedOut', wasExecutionFailure: true },
    taskRunReason: 'TaskRunCancelled',
  },
  {
    title: 'S14 image-pull → ImagePullFailed, pre-execution',
    key: 'pull',
    script: script('image-pull'),
    prReason: 'Failed',
    expected: { category: 'ImagePullFailed', wasExecutionFailure: false },
    taskRunReason: 'TaskRunImagePullFailed',
  },
  {
    title: 'S14 quota → ResourceQuotaExceeded, pre-execution',
    key: 'quota',
    script: script('quota', 2_500),
    prReason: 'PipelineRunTimeout',
    expected: { category: 'ResourceQuotaExceeded', wasExecutionFailure: false },
    taskRunReason: 'TaskRunCancelled',
  },
  {
    title: 'S14 config-error → ContainerConfigError, pre-execution',
    key: 'cfg',
    script: script('config-error'),
    prReason: 'Failed',
    expected: { category: 'ContainerConfigError', wasExecutionFailure: false },
    taskRunReason: 'CreateContainerConfigError',
  },
  {
    title: 'S14 pod-admission → PodCreationFailed (a policy refusal), pre-execution',
    key: 'adm',
    script: script('pod-admission'),
    prReason: 'Failed',
    expected: { category: 'PodCreationFailed', wasExecutionFailure: false },
    taskRunReason: 'PodCreationFailed',
  },
  {
    title: 'param-missing → ParameterInvalid, pre-execution, no TaskRun',
    key: 'param',
    script: script('param-missing'),
    prReason: 'ParameterMissing',
    expected: { category: 'ParameterInvalid', wasExecutionFailure: false },
  },
  {
    title: 'S13 missing Pipeline → CouldntGetPipeline → PipelineNotFound, pre-execution',
    key: 'nopipe',
    script: null,
    prReason: 'CouldntGetPipeline',
    expected: { category: 'PipelineNotFound', wasExecutionFailure: false },
  },
  {
    title: 'invalid script JSON → PipelineValidationFailed, pre-execution',
    key: 'bad',
    script: '{not json',
    prReason: 'PipelineValidationFailed',
    expected: { category: 'ValidationFailed', wasExecutionFailure: false },
  },
];

describe('Tekton simulator outcomes on the real API server', () => {
  const started = new Map<string, Promise<string>>();
  beforeAll(() => {
    // All runs at once: the whole table takes as long as its slowest row.
    for (const row of rows) started.set(row.key, startRun(row.key, row.script));
  });

  it.each(rows)('$title', async (row) => {
    const name = await started.get(row.key)!;
    const { pr, taskRuns } = await until(name, finished);
    const outcome = classifyPipelineRun(pr, taskRuns);
    if (row.expected.state) expect(outcome.state).toBe(row.expected.state);
    else expect(outcome).toEqual({ state: 'failed', failure: expect.objectContaining(row.expected) });

    expect(succeededCondition(pr)?.reason).toBe(row.prReason);
    expect(pr.status?.startTime).toBeDefined();
    expect(pr.status?.completionTime).toBeDefined();
    if (!row.taskRunReason) {
      expect(taskRuns).toEqual([]);
      return;
    }
    expect(taskRuns).toHaveLength(1);
    const tr = taskRuns[0]!;
    expect(succeededCondition(tr)?.reason).toBe(row.taskRunReason);
    expect(tr.status?.completionTime).toBeDefined();
    expect(tr.metadata.name).toBe(`${name}-fix`);
    expect(tr.metadata.labels).toMatchObject({
      [PIPELINE_RUN_LABEL]: name,
      'tekton.dev/pipelineTask': 'fix',
    });
    expect(tr.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'PipelineRun', name, uid: pr.metadata.uid }),
    ]);
    expect(pr.status?.childReferences).toEqual([
      { apiVersion: TEKTON_API_VERSION, kind: 'TaskRun', name: tr.metadata.name, pipelineTaskName: 'fix' },
    ]);
  });

  it('hang → Running with steps running until cancelled → Cancelled, execution', async () => {
    const name = await startRun('hang', script('hang'));
    await until(name, ({ taskRuns }) => (taskRuns[0]?.status?.steps ?? []).some((s) => s.running));
    const running = await read(name);
    expect(classifyPipelineRun(running.pr, running.taskRuns)).toMatchObject({ state: 'running' });

    await api.patchNamespacedCustomObject(
      { ...base, plural: TektonPlural.PipelineRun, name, body: { spec: { status: 'Cancelled' } } },
      mergePatch,
    );
    const { pr, taskRuns } = await until(name, finished);
    expect(succeededCondition(pr)).toMatchObject({
      status: 'False',
      reason: 'Cancelled',
      message: `PipelineRun "${name}" was cancelled`,
    });
    expect(succeededCondition(taskRuns[0]!)).toMatchObject({
      reason: 'TaskRunCancelled',
      message: `TaskRun "${taskRuns[0]?.metadata.name ?? ''}" was cancelled. TaskRun cancelled as the PipelineRun it belongs to has been cancelled.`,
    });
    expect(taskRuns[0]?.spec.status).toBe('TaskRunCancelled');
    expect(
      taskRuns[0]?.status?.steps?.every(
        (s) => s.terminated?.exitCode === 1 && s.terminated.reason === 'TaskRunCancelled',
      ),
    ).toBe(true);
    expect(classifyPipelineRun(pr, taskRuns)).toEqual({
      state: 'failed',
      failure: expect.objectContaining({ category: 'Cancelled', wasExecutionFailure: true }),
    });
  });
});
