import { targetKey } from '../../../src/domain/request';
import { RemediationHarness, sleep } from '../support/remediation-harness';

describe('target lock: ResourceBusy, FIFO, stale takeover', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker();
  });
  afterAll(() => h.close());

  async function createdAt(id: string): Promise<number> {
    const [name] = await h.pipelineRunsOf(id);
    const observed = await h.runs.observe(h.info.executionNamespace, name!);
    expect(observed).not.toBeNull();
    const status = await h.client.status(id);
    const created = status.timeline.find((t) => t.event === 'pipelineRunCreated');
    return Date.parse(created!.at);
  }

  it('S10: B (other fingerprint, same target) waits ResourceBusy and starts within 2s of A releasing', async () => {
    const slow = await h.definePipeline('succeed', 3000);
    const quick = await h.definePipeline('succeed');
    const a = h.request({ pipeline: slow, action: 'restart' });
    const aId = await h.start(a);
    await h.waitFor(aId, (s) => s.pipelineRuns.length === 1, 30_000, 'A executing');
    const bId = await h.start({ ...h.request({ pipeline: quick, action: 'scale-up' }), target: a.target });
    expect(await h.waitForPhase(bId, 'Blocked')).toMatchObject({
      blockReason: 'ResourceBusy',
      blockKind: 'lock',
    });
    expect((await h.client.target(targetKey(a.target))).waiters).toEqual([bId]);

    const aEnd = await h.result(aId);
    const released = Date.parse(aEnd.timeline.at(-1)!.at);
    expect(await h.result(bId)).toMatchObject({ phase: 'Completed' });
    expect((await createdAt(bId)) - released).toBeLessThan(2_000);
  });

  it('S11: three waiters get the lock in arrival order', async () => {
    // The holder outlasts the three starts (each asks a worker about its action first).
    const slow = await h.definePipeline('succeed', 8000);
    const quick = await h.definePipeline('succeed', 300);
    const holder = h.request({ pipeline: slow, action: 'a0' });
    const holderId = await h.start(holder);
    await h.waitFor(holderId, (s) => s.pipelineRuns.length === 1, 30_000, 'holder executing');
    const waiters: string[] = [];
    for (const action of ['a1', 'a2', 'a3']) {
      const id = await h.start({ ...h.request({ pipeline: quick, action }), target: holder.target });
      await h.waitForPhase(id, 'Blocked');
      waiters.push(id);
      await sleep(100);
    }
    expect((await h.client.target(targetKey(holder.target))).waiters).toEqual(waiters);
    const ends = await Promise.all(waiters.map((id) => h.result(id)));
    expect(ends.map((e) => e.phase)).toEqual(['Completed', 'Completed', 'Completed']);
    const starts = await Promise.all(waiters.map(createdAt));
    expect([...starts].sort((x, y) => x - y)).toEqual(starts);
  });

  it("S24: a lock whose holder was terminated is taken over by the next remediation, the holder's run is settled first, and both are recorded", async () => {
    // A's run outlives A (terminated mid-run): B may run only once it has stopped (I1).
    const slow = await h.definePipeline('succeed', 6_000);
    const quick = await h.definePipeline('succeed');
    const a = h.request({ pipeline: slow, action: 'restart' });
    const key = targetKey(a.target);
    const aId = await h.start(a);
    await h.waitFor(aId, (s) => s.pipelineRuns.length === 1, 30_000, 'A executing');
    const held = await h.client.target(key);
    expect(held.lock?.remediationId).toBe(aId);
    await h.client.handle(aId).terminate('simulated operator mistake');

    const bId = await h.start({ ...h.request({ pipeline: quick, action: 'scale-up' }), target: a.target });
    expect(await h.result(bId)).toMatchObject({ phase: 'Completed' });
    const after = await h.client.target(key);
    expect(after.lock).toBeNull();
    expect(after.fencingToken).toBe(held.lock!.fencingToken + 1);
    const [aRun] = await h.pipelineRunsOf(aId);
    expect(after.audit).toContainEqual(
      expect.objectContaining({
        action: 'lockTakeover',
        remediationId: bId,
        details: expect.objectContaining({ previousHolder: aId }),
      }),
    );
    expect(after.audit).toContainEqual(
      expect.objectContaining({
        action: 'orphanSettled',
        remediationId: bId,
        details: expect.objectContaining({ pipelineRun: aRun, remediationId: aId, outcome: 'Succeeded' }),
      }),
    );
    const [aObject] = await h.pipelineRunObjectsOf(aId);
    const [bObject] = await h.pipelineRunObjectsOf(bId);
    expect(Date.parse(bObject!.metadata.creationTimestamp!)).toBeGreaterThanOrEqual(
      Date.parse(aObject!.status!.completionTime!),
    );
  });
});
