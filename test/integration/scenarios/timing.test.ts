import { targetKey } from '../../../src/domain/request';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const seconds = (n: number) => n * 1000;

describe('temporary blocks: RecentlyRemediated, ExponentialBackoff, override', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker(); // SEMANTICS §9 defaults: 5m cooldown, backoff 1m..10m ±10%
  });
  afterAll(() => h.close());

  it('S12: the same action within 5m waits until lastSuccess+5m; a different action runs now', async () => {
    const pipeline = await h.definePipeline('succeed');
    const first = h.request({ pipeline, action: 'restart' });
    const key = targetKey(first.target);
    await h.result(await h.start(first));
    const lastSuccess = (await h.client.target(key)).lastSuccess!;

    const again = await h.start({ ...h.request({ pipeline, action: 'restart' }), target: first.target });
    const blocked = await h.waitForPhase(again, 'Blocked');
    expect(blocked).toMatchObject({ blockReason: 'RecentlyRemediated', blockKind: 'temporary' });
    expect(Date.parse(blocked.blockedUntil!)).toBe(Date.parse(lastSuccess.at) + seconds(300));

    const other = await h.start({ ...h.request({ pipeline, action: 'scale-up' }), target: first.target });
    expect(await h.result(other)).toMatchObject({ phase: 'Completed' });
    await h.client.cancel(again);
  });

  it('S17: override skips RecentlyRemediated once and is audited; override on ResourceBusy is refused with a reason', async () => {
    const pipeline = await h.definePipeline('succeed');
    const first = h.request({ pipeline, action: 'restart' });
    const key = targetKey(first.target);
    await h.result(await h.start(first));
    const blockedId = await h.start({ ...h.request({ pipeline, action: 'restart' }), target: first.target });
    await h.waitFor(blockedId, (s) => s.blockReason === 'RecentlyRemediated', 30_000, 'RecentlyRemediated');

    const accepted = await h.client.override(blockedId, 'customer impact, run now', 'carol');
    expect(accepted).toMatchObject({ accepted: true, skips: 'RecentlyRemediated' });
    expect(await h.result(blockedId)).toMatchObject({ phase: 'Completed', override: { by: 'carol' } });
    expect((await h.client.target(key)).audit).toContainEqual(
      expect.objectContaining({ action: 'override', by: 'carol', remediationId: blockedId }),
    );

    const hang = await h.definePipeline('hang');
    const holder = await h.start({ ...h.request({ pipeline: hang, action: 'hold' }), target: first.target });
    await h.waitFor(holder, (s) => s.pipelineRuns.length === 1, 30_000, 'holder executing');
    const waiter = await h.start({ ...h.request({ pipeline, action: 'scale-up' }), target: first.target });
    await h.waitFor(waiter, (s) => s.blockReason === 'ResourceBusy', 30_000, 'ResourceBusy');
    const refused = await h.client.override(waiter, 'please', 'carol').catch((e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(Error);
    expect(String((refused as Error).message) + String((refused as Error).cause ?? '')).toMatch(
      /ResourceBusy/,
    );
    await h.client.cancel(holder);
    expect(await h.result(waiter)).toMatchObject({ phase: 'Completed', override: null });
  });

  it('S13/S25: a missing Pipeline is a pre-execution failure; backoff 1st in [60s,66s), 2nd in [108s,132s), jittered', async () => {
    // Rung 1 is clamped at base for about half of all jitter samples, so jitter is compared on rung 2.
    const secondRungDelays: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const request = h.request({ pipeline: uniqueName('missing') });
      const key = targetKey(request.target);
      const id = await h.start(request);
      ids.push(id);
      const blocked = await h.waitFor(id, (s) => s.blockReason === 'ExponentialBackoff', 30_000, 'backoff');
      expect(blocked.failure).toMatchObject({
        category: 'PipelineNotFound',
        reason: 'CouldntGetPipeline',
        wasExecutionFailure: false,
      });
      const target = await h.client.target(key);
      expect(target.consecutiveFailures).toBe(1);
      const delay = Date.parse(target.nextAllowedExecution!) - Date.parse(target.lastFailure!.at);
      expect(delay).toBeGreaterThanOrEqual(seconds(60));
      expect(delay).toBeLessThan(seconds(66));
      expect(blocked.blockedUntil).toBe(target.nextAllowedExecution);

      // The same remediation retries once the wait is skipped: second failure → [108s, 132s).
      await h.client.override(id, 'test the second rung now', 'ci');
      await h.waitFor(
        id,
        (s) => s.attempts === 2 && s.blockReason === 'ExponentialBackoff',
        30_000,
        'second failure',
      );
      const second = await h.client.target(key);
      expect(second.consecutiveFailures).toBe(2);
      const delay2 = Date.parse(second.nextAllowedExecution!) - Date.parse(second.lastFailure!.at);
      expect(delay2).toBeGreaterThanOrEqual(seconds(108));
      expect(delay2).toBeLessThan(seconds(132));
      secondRungDelays.push(delay2);
    }
    // Jitter is present: 24,000 possible whole-ms values on rung 2, so a tie is a 1-in-24,000 event.
    expect(secondRungDelays[0]).not.toBe(secondRungDelays[1]);
    await Promise.all(ids.map((id) => h.client.cancel(id)));
  });
});
