import { InMemoryPipelineRuns, VirtualTimer } from '../../../src/dev/fakes/in-memory-pipeline-runs';
import { PipelineRunConflictError, PipelineRunRejectedError } from '../../../src/ports/pipeline-runs';
import { pipelineRunsContract } from '../../contract/pipeline-runs.contract';

const namespace = 'remediation-runs';

pipelineRunsContract('InMemoryPipelineRuns', async () => {
  const timer = new VirtualTimer();
  const runs = new InMemoryPipelineRuns(timer);
  return {
    runs,
    namespace,
    definePipeline: async (name, script) => runs.definePipeline(namespace, name, script),
    deleteRun: async (name) => {
      runs.delete(namespace, name);
    },
    elapse: async (ms) => timer.advance(ms),
  };
});

describe('InMemoryPipelineRuns', () => {
  const request = (pipeline: string) => ({ name: 'pr1', namespace, pipeline, params: {}, labels: {} });

  it.each([
    ['fail-step', 'StepFailed', true],
    ['oom', 'OutOfMemory', true],
    ['timeout', 'TimedOut', true],
    ['image-pull', 'ImagePullFailed', false],
    ['quota', 'ResourceQuotaExceeded', false],
    ['config-error', 'ContainerConfigError', false],
    ['pod-admission', 'PodCreationFailed', false],
    ['param-missing', 'ParameterInvalid', false],
  ])(
    'when the script says %s → %s (execution: %s), through the simulator plan and the classifier',
    async (outcome, category, wasExecutionFailure) => {
      const runs = new InMemoryPipelineRuns(new VirtualTimer());
      runs.definePipeline(namespace, 'p', { outcome, durationMs: 5_000 });
      await runs.create(request('p'));
      const result = await runs.waitForCompletion(namespace, 'pr1', {});
      expect(result).toEqual({
        state: 'failed',
        failure: expect.objectContaining({ category, wasExecutionFailure }),
      });
    },
  );

  it('when the Pipeline is missing → PipelineNotFound (pre-execution)', async () => {
    const runs = new InMemoryPipelineRuns(new VirtualTimer());
    await runs.create(request('nope'));
    expect(await runs.observe(namespace, 'pr1')).toEqual({
      state: 'failed',
      failure: expect.objectContaining({
        category: 'PipelineNotFound',
        wasExecutionFailure: false,
        reason: 'CouldntGetPipeline',
      }),
    });
  });

  it('when the run is stuck on quota → running with stuckReason until it times out', async () => {
    const timer = new VirtualTimer();
    const runs = new InMemoryPipelineRuns(timer);
    runs.definePipeline(namespace, 'p', { outcome: 'quota', durationMs: 60_000 });
    await runs.create(request('p'));
    expect(await runs.observe(namespace, 'pr1')).toMatchObject({
      state: 'running',
      stuckReason: 'ExceededResourceQuota',
    });
    timer.advance(60_000);
    expect(await runs.observe(namespace, 'pr1')).toMatchObject({
      state: 'failed',
      failure: { category: 'ResourceQuotaExceeded' },
    });
  });

  it('follows the virtual clock: a 10 minute run is still running after 5 minutes', async () => {
    const timer = new VirtualTimer();
    const runs = new InMemoryPipelineRuns(timer);
    runs.definePipeline(namespace, 'p', { outcome: 'succeed', durationMs: 600_000 });
    await runs.create(request('p'));
    timer.advance(300_000);
    expect(await runs.observe(namespace, 'pr1')).toMatchObject({ state: 'running', reason: 'Running' });
    const snapshot = runs.snapshot(namespace, 'pr1');
    expect(snapshot?.taskRuns.map((tr) => tr.metadata.labels?.['tekton.dev/pipelineRun'])).toEqual(['pr1']);
  });

  it('when creates are rejected → PipelineRunRejectedError with the HTTP status', async () => {
    const runs = new InMemoryPipelineRuns(new VirtualTimer());
    runs.rejectCreates('p', 422, 'admission webhook denied the request');
    await expect(runs.create(request('p'))).rejects.toThrow(PipelineRunRejectedError);
    await expect(runs.create(request('p'))).rejects.toMatchObject({ status: 422 });
  });

  it('S28 when the run is deleted before its pod started any step → PipelineRunDeleted, pre-execution', async () => {
    const runs = new InMemoryPipelineRuns(new VirtualTimer());
    runs.definePipeline(namespace, 'p', { outcome: 'succeed', durationMs: 60_000 });
    await runs.create(request('p'));
    const outcome = await runs.waitForCompletion(namespace, 'pr1', {
      onProgress: (o) => {
        expect(o).toMatchObject({ state: 'running', userCodeStarted: false });
        runs.delete(namespace, 'pr1');
      },
    });
    expect(outcome).toEqual({
      state: 'failed',
      failure: expect.objectContaining({ category: 'PipelineRunDeleted', wasExecutionFailure: false }),
    });
  });

  it('delete: false when there is no such run; the name can then be created afresh', async () => {
    const runs = new InMemoryPipelineRuns(new VirtualTimer());
    expect(runs.delete(namespace, 'pr1')).toBe(false);
    const first = await runs.create(request('p'));
    expect(runs.delete(namespace, 'pr1')).toBe(true);
    expect(await runs.observe(namespace, 'pr1')).toBeNull();
    const second = await runs.create(request('p'));
    expect(second.created).toBe(true);
    expect(second.uid).not.toBe(first.uid);
  });

  it('I10 a create without owner labels does not adopt a run that carries them', async () => {
    const runs = new InMemoryPipelineRuns(new VirtualTimer());
    await runs.create({ ...request('p'), labels: { 'remediation.dev/remediation-id': 'r1' } });
    await expect(runs.create(request('p'))).rejects.toThrow(PipelineRunConflictError);
    await expect(runs.create(request('p'))).rejects.toThrow(
      /^PipelineRun remediation-runs\/pr1 already exists and is not ours to adopt: label remediation\.dev\/remediation-id is "r1", expected none$/,
    );
  });
});
