import { fingerprintKey, targetKey } from '../../../src/domain/request';
import type { SimulatorOutcome } from '../support/remediation-harness';
import { RemediationHarness } from '../support/remediation-harness';

describe('execution: classification into the persisted counters, and cancel', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker({ pipelineRunTimeout: '2m' });
  });
  afterAll(() => h.close());

  it.each<[SimulatorOutcome, string]>([
    ['image-pull', 'ImagePullFailed'],
    ['quota', 'ResourceQuotaExceeded'],
    ['config-error', 'ContainerConfigError'],
    ['pod-admission', 'PodCreationFailed'],
  ])(
    'S14: %s is a pre-execution failure: counter 1, backoff set, no manual review',
    async (outcome, category) => {
      const pipeline = await h.definePipeline(outcome, 300);
      const request = { ...h.request({ pipeline }), deadline: '45s' };
      const id = await h.start(request);
      // The 60s backoff outlasts the 45s deadline: ends Failed at once, having run one PipelineRun.
      const end = await h.result(id, 60_000);
      expect(end).toMatchObject({ phase: 'Failed', reason: 'ExponentialBackoff', attempts: 1 });
      expect(end.failure).toMatchObject({ category, wasExecutionFailure: false });
      const target = await h.client.target(targetKey(request.target));
      expect(target).toMatchObject({ consecutiveFailures: 1, manualReviewRequired: false });
      expect(target.nextAllowedExecution).not.toBeNull();
    },
  );

  it.each<[SimulatorOutcome, string]>([
    ['fail-step', 'StepFailed'],
    ['oom', 'OutOfMemory'],
    ['timeout', 'TimedOut'],
  ])('S15: %s is an execution failure: manual review, no retry', async (outcome, category) => {
    const pipeline = await h.definePipeline(outcome, 300);
    const request = h.request({ pipeline });
    const end = await h.result(await h.start(request), 60_000);
    expect(end).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed', attempts: 1 });
    expect(end.failure).toMatchObject({ category, wasExecutionFailure: true });
    const target = await h.client.target(targetKey(request.target));
    expect(target).toMatchObject({ manualReviewRequired: true, consecutiveFailures: 0, lock: null });
    expect(
      (await h.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint))
        .consecutiveFailedRemediations,
    ).toBe(1);
  });

  it('S16: success after pre-execution failures resets consecutiveFailures and nextAllowedExecution', async () => {
    const pipeline = await h.definePipeline('succeed');
    const request = h.request({ pipeline });
    const key = targetKey(request.target);
    const seeded = await h.ledger.getTarget(key);
    await h.ledger.putTarget({
      ...seeded,
      consecutiveFailures: 3,
      nextAllowedExecution: new Date(Date.now() + 60_000).toISOString(),
    });
    const id = await h.start(request);
    await h.waitFor(id, (s) => s.blockReason === 'ExponentialBackoff', 30_000, 'backoff');
    await h.client.override(id, 'fixed the quota', 'dave');
    expect(await h.result(id)).toMatchObject({ phase: 'Completed' });
    expect(await h.client.target(key)).toMatchObject({ consecutiveFailures: 0, nextAllowedExecution: null });
  });

  it('S18: cancel while executing → PipelineRun cancelled, lock released, Cancelled, counters untouched', async () => {
    const pipeline = await h.definePipeline('hang');
    const request = h.request({ pipeline });
    const id = await h.start(request);
    const running = await h.waitFor(id, (s) => s.pipelineRuns.length === 1, 30_000, 'executing');
    await h.client.cancel(id);
    expect(await h.result(id)).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled' });

    const deadline = Date.now() + 15_000;
    let outcome = await h.runs.observe(h.info.executionNamespace, running.pipelineRuns[0]!);
    while (outcome?.state === 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      outcome = await h.runs.observe(h.info.executionNamespace, running.pipelineRuns[0]!);
    }
    expect(outcome).toMatchObject({
      state: 'failed',
      failure: { category: 'Cancelled', wasExecutionFailure: true },
    });
    const target = await h.client.target(targetKey(request.target));
    expect(target).toMatchObject({
      lock: null,
      consecutiveFailures: 0,
      manualReviewRequired: false,
      lastFailure: null,
    });
    const fp = await h.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint);
    expect(fp).toMatchObject({ active: null, consecutiveFailedRemediations: 0 });
  });
});
