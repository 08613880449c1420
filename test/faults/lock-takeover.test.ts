import { targetKey } from '../../src/domain/request';
import { sleep } from '../integration/support/remediation-harness';
import { useFaultStack } from './support/fault-stack';

const RECHECK_MS = 2_000;

describe('fault: lock holder terminated', () => {
  const fault = useFaultStack();

  it("S24/S27 fault: a lock whose holder was terminated is taken over by the waiter already queued within one re-check, the holder's running PipelineRun is settled before the taker runs, and both are recorded", async () => {
    const { h } = fault;
    await h.startWorker({ lockRecheckInterval: `${RECHECK_MS}ms`, orphanRecheckInterval: '1s' });
    // A's run outlives A: it must finish (and be recorded) before B's run may start (I1).
    const slow = await h.definePipeline('succeed', 12_000);
    const quick = await h.definePipeline('succeed');
    const a = h.request({ pipeline: slow, action: 'restart' });
    const key = targetKey(a.target);
    const aId = await h.start(a);
    await h.waitFor(aId, (s) => s.pipelineRuns.length === 1, 60_000, 'A executing');

    // B queues behind A before A dies: a terminated holder runs no cleanup and sends no wake-up,
    // so only B's own re-check can notice the stale lock.
    const bId = await h.start({ ...h.request({ pipeline: quick, action: 'scale-up' }), target: a.target });
    expect(await h.waitForPhase(bId, 'Blocked')).toMatchObject({ blockReason: 'ResourceBusy' });
    await sleep(RECHECK_MS + 500); // at least one re-check while A is alive: B keeps waiting
    const held = await h.client.target(key);
    expect(held).toMatchObject({ lock: { remediationId: aId, fencingToken: 1 }, waiters: [bId] });
    expect(await h.client.status(bId)).toMatchObject({ phase: 'Blocked', pipelineRuns: [] });

    await h.client.handle(aId).terminate('fault injection: holder terminated');
    const terminatedAt = Date.now();

    expect(await h.result(bId)).toMatchObject({ phase: 'Completed', attempts: 1 });
    const after = await h.client.target(key);
    const takeover = after.audit.find((e) => e.action === 'lockTakeover');
    expect(takeover).toMatchObject({
      remediationId: bId,
      details: { previousHolder: aId, previousToken: 1 },
    });
    const delay = Date.parse(takeover!.at) - terminatedAt;
    console.log(`S24 fault: lock taken over ${delay} ms after the holder was terminated`);
    expect(delay).toBeLessThan(RECHECK_MS + 1_000);
    expect(after).toMatchObject({ lock: null, waiters: [], fencingToken: 2 });
    expect(after.lastSuccess).toMatchObject({ remediationId: bId });
    const [aRun] = await h.pipelineRunsOf(aId);
    // A's outcome was recorded by B once A's run had stopped, and B's run started only after that.
    expect(after.audit.find((e) => e.action === 'orphanSettled')).toMatchObject({
      remediationId: bId,
      details: { pipelineRun: aRun, remediationId: aId, fencingToken: 1, outcome: 'Succeeded' },
    });
    const [aObject] = await h.pipelineRunObjectsOf(aId);
    const [bObject] = await h.pipelineRunObjectsOf(bId);
    expect(Date.parse(bObject!.metadata.creationTimestamp!)).toBeGreaterThanOrEqual(
      Date.parse(aObject!.status!.completionTime!),
    );

    // One PipelineRun per attempt, each labelled with the fencing token it ran under.
    expect(await h.pipelineRunsOf(aId)).toHaveLength(1);
    expect(await h.pipelineRunsOf(bId)).toEqual([after.lastSuccess!.pipelineRun]);
    const ns = h.info.executionNamespace;
    expect(await h.runs.list(ns, { 'remediation.dev/fencing-token': '1' })).toEqual([aRun]);
    expect(await h.runs.list(ns, { 'remediation.dev/fencing-token': '2' })).toEqual([
      after.lastSuccess!.pipelineRun,
    ]);
  });
});
