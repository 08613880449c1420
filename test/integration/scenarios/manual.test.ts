import { targetKey } from '../../../src/domain/request';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

describe('manual blocks: PreviousExecutionFailed and ExhaustedRetries', () => {
  const h = new RemediationHarness();
  /** Same stack, fast backoff, so five pre-execution failures happen within seconds. */
  const fast = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker();
    await fast.open();
    await fast.startWorker({ backoff: { base: '300ms', max: '1s' } });
  });
  afterAll(async () => {
    await h.close();
    await fast.close();
  });

  it('S7: after an execution failure a new remediation waits PreviousExecutionFailed; a clear lets it run at once', async () => {
    const failing = await h.definePipeline('fail-step');
    const first = h.request({ pipeline: failing });
    const key = targetKey(first.target);
    expect(await h.result(await h.start(first))).toMatchObject({
      phase: 'Failed',
      reason: 'ExecutionFailed',
    });
    expect(await h.client.target(key)).toMatchObject({ manualReviewRequired: true, consecutiveFailures: 0 });

    const succeeding = await h.definePipeline('succeed');
    const second = await h.start({
      ...first,
      signal: { ...first.signal, fingerprint: uniqueName('fp') },
      action: { ...first.action, pipeline: succeeding },
    });
    const blocked = await h.waitForPhase(second, 'Blocked');
    expect(blocked).toMatchObject({
      blockReason: 'PreviousExecutionFailed',
      blockKind: 'manual',
      blockedUntil: null,
    });

    const clearedAt = Date.now();
    const cleared = await h.client.clear(key, 'rolled back the bad config', 'alice');
    expect(cleared.cleared.manualReviewRequired).toBe(true);
    expect(cleared.woken).toContain(`remediation-${second}`);
    await h.waitFor(second, (s) => s.attempts === 1, 10_000, 'run after clear');
    expect(Date.now() - clearedAt).toBeLessThan(5_000); // woken, not the 30s safety-net re-check
    expect(await h.result(second)).toMatchObject({ phase: 'Completed' });
    const audit = (await h.client.target(key)).audit;
    expect(audit).toContainEqual(
      expect.objectContaining({ action: 'clear', by: 'alice', reason: 'rolled back the bad config' }),
    );
  });

  it('S8: nobody clears → Skipped PreviousExecutionFailed at the deadline', async () => {
    const failing = await h.definePipeline('fail-step');
    const first = h.request({ pipeline: failing });
    await h.result(await h.start(first));
    const startedAt = Date.now();
    const second = await h.start({
      ...first,
      signal: { ...first.signal, fingerprint: uniqueName('fp') },
      deadline: '4s',
    });
    await h.waitForPhase(second, 'Blocked');
    const end = await h.result(second, 30_000);
    expect(end).toMatchObject({ phase: 'Skipped', reason: 'PreviousExecutionFailed', attempts: 0 });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3_500);
    expect(Date.now() - startedAt).toBeLessThan(15_000);
  });

  it('S9 (and S13 retry inside one remediation): five pre-execution failures → ExhaustedRetries until cleared', async () => {
    const request = fast.request({ pipeline: uniqueName('missing-pipeline') });
    const key = targetKey(request.target);
    const id = await fast.start(request);
    const blocked = await fast.waitFor(
      id,
      (s) => s.blockReason === 'ExhaustedRetries',
      60_000,
      'ExhaustedRetries',
    );
    expect(blocked).toMatchObject({ phase: 'Blocked', blockKind: 'manual', attempts: 5 });
    expect(blocked.failure).toMatchObject({ category: 'PipelineNotFound', wasExecutionFailure: false });
    expect(blocked.pipelineRuns).toHaveLength(5);
    expect(await fast.client.target(key)).toMatchObject({
      consecutiveFailures: 5,
      manualReviewRequired: false,
    });

    await fast.client.clear(key, 'created the pipeline', 'bob');
    await fast.waitFor(id, (s) => s.attempts === 6, 10_000, 'sixth attempt after clear');
    await fast.client.cancel(id);
    expect(await fast.result(id)).toMatchObject({ phase: 'Cancelled' });
    expect((await fast.client.target(key)).consecutiveFailures).toBeLessThanOrEqual(1);
  });
});
