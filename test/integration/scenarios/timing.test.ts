import { CustomObjectsApi } from '@kubernetes/client-node';
import { targetKey } from '../../../src/domain/request';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural, type PipelineRun } from '../../../src/domain/tekton';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const seconds = (n: number) => n * 1000;

describe('temporary blocks: RecentlyRemediated, ExponentialBackoff, override', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker(); // docs/behaviour.md#defaults: 5m cooldown, backoff 1m..10m ±10%
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

  it('S13: a missing Pipeline is a pre-execution failure; with the default policy the first backoff is in [60s,66s)', async () => {
    const request = h.request({ pipeline: uniqueName('missing') });
    const key = targetKey(request.target);
    const id = await h.start(request);
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
    await h.client.cancel(id);
  });
});

describe('ExponentialBackoff really waits (backoff base 3s, max 12s, jitter 10%)', () => {
  // Rung n of this policy: min(3s × 2^(n−1), 12s) ± 10%, clamped to [3s, 12s].
  const rung1 = [seconds(3), seconds(3.3)] as const;
  const rung2 = [seconds(5.4), seconds(6.6)] as const;
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker({ backoff: { base: '3s', max: '12s' } });
  });
  afterAll(() => h.close());

  /** The PipelineRun object as the API server has it (creationTimestamp, labels). */
  async function pipelineRunObject(name: string): Promise<PipelineRun> {
    return (await h.kube.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: TEKTON_GROUP,
      version: TEKTON_VERSION,
      plural: TektonPlural.PipelineRun,
      namespace: h.info.executionNamespace,
      name,
    })) as PipelineRun;
  }

  it('S13/S25: after a pre-execution failure the same remediation waits the first backoff, retries no earlier than nextAllowedExecution, and the second failure backs off on rung 2, jittered', async () => {
    const secondRungDelays = await Promise.all(
      [0, 1, 2].map(async () => {
        const request = h.request({ pipeline: uniqueName('missing') });
        const key = targetKey(request.target);
        const id = await h.start(request);

        // First failure: counter 1, nextAllowedExecution on rung 1.
        const blocked = await h.waitFor(
          id,
          (s) => s.attempts === 1 && s.blockReason === 'ExponentialBackoff',
          30_000,
          'first backoff',
        );
        expect(blocked.failure).toMatchObject({ category: 'PipelineNotFound', wasExecutionFailure: false });
        const nextAllowed = Date.parse(blocked.blockedUntil!);
        const first = await h.client.target(key);
        expect(first).toMatchObject({
          consecutiveFailures: 1,
          nextAllowedExecution: blocked.blockedUntil,
          lastFailure: { pipelineRun: blocked.pipelineRuns[0] },
        });
        const delay1 = nextAllowed - Date.parse(first.lastFailure!.at);
        expect(delay1).toBeGreaterThanOrEqual(rung1[0]);
        expect(delay1).toBeLessThan(rung1[1]);

        // No override: the remediation retries on its own once the wait is over, and fails again.
        const again = await h.waitFor(
          id,
          (s) => s.attempts === 2 && s.blockReason === 'ExponentialBackoff',
          30_000,
          'second failure',
        );
        expect(again.override).toBeNull();
        expect(again.pipelineRuns).toHaveLength(2);
        expect((await h.pipelineRunsOf(id)).sort()).toEqual([...again.pipelineRuns].sort());
        // The retry, by the workflow's own clock (ms) and by the API server's (whole seconds).
        const created = again.timeline.filter((t) => t.event === 'pipelineRunCreated');
        expect(created).toHaveLength(2);
        expect(Date.parse(created[1]!.at)).toBeGreaterThanOrEqual(nextAllowed);
        const retried = await pipelineRunObject(again.pipelineRuns[1]!);
        expect(retried.metadata.labels?.['remediation.dev/attempt']).toBe('2');
        expect(Date.parse(retried.metadata.creationTimestamp!)).toBeGreaterThanOrEqual(
          Math.floor(nextAllowed / 1000) * 1000,
        );

        // Second failure: counter 2, nextAllowedExecution on rung 2.
        const second = await h.client.target(key);
        expect(second).toMatchObject({
          consecutiveFailures: 2,
          nextAllowedExecution: again.blockedUntil,
          lastFailure: { pipelineRun: again.pipelineRuns[1] },
        });
        const delay2 = Date.parse(second.nextAllowedExecution!) - Date.parse(second.lastFailure!.at);
        expect(delay2).toBeGreaterThanOrEqual(rung2[0]);
        expect(delay2).toBeLessThan(rung2[1]);
        await h.client.cancel(id);
        return delay2;
      }),
    );
    // Jitter is present: 1,200 whole-ms values on rung 2; three equal samples are a 1-in-1.44M event.
    expect(new Set(secondRungDelays).size).toBeGreaterThan(1);
  });
});
