/**
 * Safety invariants on the real stack (Temporal dev server, Kubernetes API server, Tekton
 * simulator): what a remediation must do when another one's workflow is terminated under it, when
 * its PipelineRun is deleted, and when it waits for days. Terminations go through the real
 * `temporal` CLI binary and deletions through the real API server, as an operator's would.
 */
import type { RemediationClient } from '../../../src/client';
import { succeededCondition, type PipelineRun } from '../../../src/domain/tekton';
import { fingerprintKey, targetKey, type RemediationRequestInput } from '../../../src/domain/request';
import type { RemediationStatus } from '../../../src/temporal-contract';
import { RemediationHarness, sleep, uniqueName } from '../support/remediation-harness';

/** Re-checks of lock and manual waits are quick here, so a terminated holder is noticed within ~1 s. */
const RECHECK = { lockRecheckInterval: '1s', orphanRecheckInterval: '500ms' };
/** S32: a bounded history is reached in seconds (60 events), and the 3-day deadline is allowed. */
const CONTINUE_AS_NEW_AFTER = 60;
const LONG_WAITS = {
  maxDeadline: '96h',
  continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER,
  lockRecheckInterval: '300ms',
};
/** Events a run may add past the threshold before it continues as new (one routing re-check and the hand-over). */
const HISTORY_MARGIN = 40;

describe('safety invariants: terminated holders, deleted PipelineRuns, days-long waits', () => {
  const h = new RemediationHarness();
  /** Default 30 s safety-net re-check: a waiter that runs quickly was woken, it did not poll. */
  const wakes = new RemediationHarness();
  const long = new RemediationHarness();
  const started: [RemediationHarness, string][] = [];

  beforeAll(async () => {
    await Promise.all([h.open(), wakes.open(), long.open()]);
    await h.startWorker(RECHECK);
    await wakes.startWorker();
    await long.startWorker(LONG_WAITS);
  });

  afterAll(async () => {
    // Nothing a failed assertion left behind may keep running: workflows, then their PipelineRuns.
    for (const [harness, id] of started) {
      await harness.client
        .handle(id)
        .terminate('test cleanup')
        .catch(() => {});
      for (const run of await harness.pipelineRunsOf(id).catch(() => [] as string[])) {
        await harness.runs.cancel(harness.info.executionNamespace, run).catch(() => {});
      }
    }
    await Promise.all([h.close(), wakes.close(), long.close()]);
  });

  async function start(harness: RemediationHarness, request: RemediationRequestInput): Promise<string> {
    const id = await harness.start(request);
    started.push([harness, id]);
    return id;
  }

  it('S26: A is terminated while it holds fingerprint F (waiting RecentlyRemediated, no PipelineRun) → the next remediation of F is no duplicate of A; it runs and Completes (I2)', async () => {
    const quick = await h.definePipeline('succeed');
    const earlier = h.request({ pipeline: quick, action: 'restart' });
    expect(await h.result(await start(h, earlier))).toMatchObject({ phase: 'Completed' });

    const fingerprint = uniqueName('fp');
    const a = { ...h.request({ pipeline: quick, action: 'restart', fingerprint }), target: earlier.target };
    const aId = await start(h, a);
    expect(await h.waitForPhase(aId, 'Blocked')).toMatchObject({
      blockReason: 'RecentlyRemediated',
      pipelineRuns: [],
    });
    const fpKey = fingerprintKey(a);
    expect((await h.ledger.getFingerprint(fpKey, fingerprint)).active).toMatchObject({ remediationId: aId });

    await h.terminate(aId, 'S26: claim holder terminated');
    expect((await h.describeRun(aId)).status).toBe('TERMINATED');

    // B: same fingerprint, same namespace (so the same fingerprint key), another target.
    const b = h.request({ pipeline: quick, fingerprint, namespace: a.target.namespace, name: 'web' });
    expect(fingerprintKey(b)).toBe(fpKey);
    const bId = await start(h, b);
    const end = await h.result(bId);
    expect(end).toMatchObject({ phase: 'Completed', duplicateOf: null, attempts: 1 });
    expect(await h.pipelineRunsOf(bId)).toHaveLength(1);
    expect((await h.ledger.getFingerprint(fpKey, fingerprint)).active).toBeNull();
  });

  it('S26 (I2): a terminated waiter at the head of X’s queue holds neither its queue place nor its fingerprint claim: the live waiter behind it is woken when the lock is released, and the next remediation of F runs', async () => {
    const hang = await wakes.definePipeline('hang');
    const quick = await wakes.definePipeline('succeed');
    const c = wakes.request({ pipeline: hang, action: 'hold' });
    const key = targetKey(c.target);
    const cId = await start(wakes, c);
    await wakes.waitFor(cId, (s) => s.pipelineRuns.length === 1, 30_000, 'C executing');

    const fingerprint = uniqueName('fp');
    const aId = await start(wakes, {
      ...wakes.request({ pipeline: quick, action: 'first-waiter', fingerprint }),
      target: c.target,
    });
    expect(await wakes.waitForPhase(aId, 'Blocked')).toMatchObject({ blockReason: 'ResourceBusy' });
    const dId = await start(wakes, {
      ...wakes.request({ pipeline: quick, action: 'second-waiter' }),
      target: c.target,
    });
    expect(await wakes.waitForPhase(dId, 'Blocked')).toMatchObject({ blockReason: 'ResourceBusy' });
    expect((await wakes.client.target(key)).waiters).toEqual([aId, dId]);

    // A dies at the head of the queue: no cleanup of its runs, no wake-up is sent.
    await wakes.terminate(aId, 'S26: queued claim holder terminated');

    // C ends: the wake-up must reach D, the first live waiter, not the dead A (D re-checks only every 30 s).
    await wakes.client.cancel(cId, 'S26: release the lock');
    const cEnd = await wakes.result(cId);
    expect(cEnd.phase).toBe('Cancelled');
    const released = Date.parse(cEnd.timeline.at(-1)!.at);
    const dEnd = await wakes.result(dId, 60_000);
    expect(dEnd).toMatchObject({ phase: 'Completed', attempts: 1 });
    const dCreated = Date.parse(dEnd.timeline.find((t) => t.event === 'pipelineRunCreated')!.at);
    console.log(
      `S26: the live waiter behind the dead one created its PipelineRun ${dCreated - released} ms after the release`,
    );
    expect(dCreated - released).toBeLessThan(5_000);
    expect(await wakes.client.target(key)).toMatchObject({ lock: null, waiters: [] });

    // Nor does the dead waiter keep its fingerprint: the next remediation of F (another target) runs.
    const bId = await start(
      wakes,
      wakes.request({ pipeline: quick, fingerprint, namespace: c.target.namespace, name: 'web' }),
    );
    expect(await wakes.result(bId)).toMatchObject({ phase: 'Completed', duplicateOf: null, attempts: 1 });
  });

  it('S27: A is terminated while its PipelineRun runs on X; B waits on X → B’s PipelineRun is created only after A’s finished (never two at once); A’s outcome is recorded once; takeover and settlement audited; B Completes (I1, I3)', async () => {
    const slow = await h.definePipeline('succeed', 8_000);
    const quick = await h.definePipeline('succeed', 1_500);
    const a = h.request({ pipeline: slow, action: 'restart' });
    const key = targetKey(a.target);
    const aId = await start(h, a);
    await h.waitFor(aId, (s) => s.pipelineRuns.length === 1, 30_000, 'A executing');
    const [aRun] = await h.pipelineRunsOf(aId);
    const held = await h.client.target(key);
    expect(held.lock).toMatchObject({ remediationId: aId });
    const aToken = held.lock!.fencingToken;

    const bId = await start(h, { ...h.request({ pipeline: quick, action: 'scale-up' }), target: a.target });
    expect(await h.waitForPhase(bId, 'Blocked')).toMatchObject({ blockReason: 'ResourceBusy' });

    const watch = watchTarget(h, key, aId, bId);
    await h.terminate(aId, 'S27: holder terminated mid-run');
    const [aAtTermination] = await h.pipelineRunObjectsOf(aId);
    expect(isFinished(aAtTermination!)).toBe(false); // the termination really lands mid-run

    const bEnd = await h.result(bId, 60_000);
    const seen = await watch.stop();
    const [aObject] = await h.pipelineRunObjectsOf(aId);
    const [bObject] = await h.pipelineRunObjectsOf(bId);
    const after = await h.client.target(key);
    console.log(
      `S27: ${seen.polls} polls; overlaps: ${JSON.stringify(seen.overlaps.slice(0, 3))}; ` +
        `lastSuccess sequence ${JSON.stringify(seen.lastSuccessRuns)}; A completed ${aObject?.status?.completionTime}, ` +
        `B created ${bObject?.metadata.creationTimestamp}; audit ${JSON.stringify(after.audit.map((e) => e.action))}`,
    );

    // I1: never two PipelineRuns of X at once, observed every 200 ms and from the objects' own times.
    expect(seen.overlaps).toEqual([]);
    expect(isFinished(aObject!)).toBe(true);
    expect(Date.parse(bObject!.metadata.creationTimestamp!)).toBeGreaterThanOrEqual(
      Date.parse(aObject!.status!.completionTime!),
    );

    // I3: A's outcome was recorded (by the taker) before B ran, once.
    expect(bEnd).toMatchObject({ phase: 'Completed', attempts: 1, pipelineRuns: [bObject!.metadata.name] });
    expect(seen.lastSuccessRuns).toEqual([aRun, bObject!.metadata.name]);
    expect(after.lastSuccess).toMatchObject({ remediationId: bId, pipelineRun: bObject!.metadata.name });
    expect(after.audit).toContainEqual(
      expect.objectContaining({ action: 'lockTakeover', remediationId: bId }),
    );
    const settled = after.audit.filter((e) => e.action === 'orphanSettled');
    expect(settled).toHaveLength(1);
    expect(JSON.stringify(settled[0])).toContain(aRun!);

    // Fencing: B ran under a newer token than A, and the lock is free again.
    expect(after).toMatchObject({ lock: null, waiters: [] });
    expect(after.fencingToken).toBeGreaterThan(aToken);
    expect(Number(bObject!.metadata.labels!['remediation.dev/fencing-token'])).toBeGreaterThan(
      Number(aObject!.metadata.labels!['remediation.dev/fencing-token']),
    );
  });

  it('S28: the PipelineRun of a running remediation is deleted through the API server → Failed PipelineRunDeleted (execution failure), lock free, manual review; the next remediation blocks PreviousExecutionFailed (I6)', async () => {
    const hang = await h.definePipeline('hang');
    const request = h.request({ pipeline: hang });
    const key = targetKey(request.target);
    const id = await start(h, request);
    await h.waitFor(id, (s) => s.pipelineRuns.length === 1, 30_000, 'executing');
    const [run] = await h.pipelineRunsOf(id);
    await until(
      async () => (await h.taskRunsOf(run!)).some((tr) => tr.status?.steps?.some((s) => s.running)),
      30_000,
      'a user step running',
    );
    // Two watch heartbeats (1 s each): the watch has seen the running step before the run vanishes.
    await sleep(2_500);
    expect(await h.client.status(id)).toMatchObject({ phase: 'Executing' });

    await h.deletePipelineRun(run!);
    const end = await h.result(id, 45_000);
    expect(end).toMatchObject({
      phase: 'Failed',
      pipelineRuns: [run],
      failure: { category: 'PipelineRunDeleted', wasExecutionFailure: true },
    });
    const target = await h.client.target(key);
    expect(target).toMatchObject({ lock: null, waiters: [], manualReviewRequired: true });
    expect(target.lastFailure).toMatchObject({
      category: 'PipelineRunDeleted',
      wasExecutionFailure: true,
      pipelineRun: run,
    });

    // Nothing wedges: the next remediation on X is told why it waits.
    const quick = await h.definePipeline('succeed');
    const nextId = await start(h, {
      ...h.request({ pipeline: quick, action: 'scale-up' }),
      target: request.target,
    });
    expect(await h.waitForPhase(nextId, 'Blocked', 30_000)).toMatchObject({
      blockReason: 'PreviousExecutionFailed',
      blockKind: 'manual',
      pipelineRuns: [],
    });
    await h.client.cancel(nextId, 'S28: done');
    expect(await h.result(nextId)).toMatchObject({ phase: 'Cancelled' });
  });

  it('S32: a 3-day deadline with a manual wait continues as new (history stays bounded), status answers across the boundary, and the clear still wakes it (I9)', async () => {
    const failing = await long.definePipeline('fail-step');
    const first = long.request({ pipeline: failing });
    const key = targetKey(first.target);
    expect(await long.result(await start(long, first))).toMatchObject({ phase: 'Failed' });
    expect((await long.client.target(key)).manualReviewRequired).toBe(true);

    const succeeding = await long.definePipeline('succeed');
    const startedAt = Date.now();
    const id = await start(long, {
      ...long.request({ pipeline: succeeding, action: 'scale-up', deadline: '72h' }),
      target: first.target,
    });
    const blocked = await long.waitForPhase(id, 'Blocked', 30_000);
    expect(blocked).toMatchObject({ blockReason: 'PreviousExecutionFailed', blockKind: 'manual' });
    const deadline = blocked.deadline!;
    expect(Math.abs(Date.parse(deadline) - (startedAt + 72 * 3_600_000))).toBeLessThan(60_000);
    const firstRun = await long.describeRun(id);

    const statuses = pollStatus(long.client, id);
    let runs = await long.workflowRuns(id);
    const until2 = Date.now() + 45_000;
    while (runs.filter((r) => r.status === 'CONTINUED_AS_NEW').length < 2) {
      if (Date.now() > until2) {
        const latest = await long.describeRun(id);
        await statuses.stop();
        throw new Error(
          `S32: expected two continue-as-new within 45 s; runs ${JSON.stringify(runs)}, latest ${JSON.stringify(latest)}`,
        );
      }
      await sleep(500);
      runs = await long.workflowRuns(id);
    }
    const latest = await long.describeRun(id);
    expect(latest.runId).not.toBe(firstRun.runId);
    expect(latest.status).toBe('RUNNING');

    // I9: every run's history stays bounded (well under Temporal's 10,000-event ceiling).
    const lengths = await Promise.all(runs.map((r) => long.describeRun(id, r.runId)));
    console.log(`S32: runs ${JSON.stringify(lengths)}`);
    for (const run of lengths) {
      expect(run.historyLength).toBeLessThan(10_000);
      expect(run.historyLength).toBeLessThan(CONTINUE_AS_NEW_AFTER + HISTORY_MARGIN);
    }

    // Status answered throughout, with the same state on both sides of every boundary.
    const seen = await statuses.stop();
    console.log(
      `S32: ${seen.answers.length} status answers, ${seen.errors.length} errors, longest gap ${seen.longestGapMs} ms`,
    );
    expect(seen.answers.length).toBeGreaterThan(10);
    expect(seen.longestGapMs).toBeLessThan(3_000);
    // Every answer is the same wait: Blocked, or Routing during a re-check pass (Blocked ↔ Routing).
    const phases = [...new Set(seen.answers.map((s) => s.phase))];
    console.log(`S32: phases seen ${JSON.stringify(phases)}`);
    expect(seen.answers.filter((s) => s.phase === 'Blocked').length).toBeGreaterThan(seen.answers.length / 3);
    for (const s of seen.answers) {
      expect(['Blocked', 'Routing']).toContain(s.phase);
      expect(s).toMatchObject({
        id,
        blockReason: 'PreviousExecutionFailed',
        deadline,
        target: key,
        attempts: 0,
        pipelineRuns: [],
      });
    }

    // The clear still reaches it, in whichever run it is now.
    const clearedAt = Date.now();
    const cleared = await long.client.clear(key, 'S32: rolled back by hand', 'alice');
    expect(cleared.woken).toContain(`remediation-${id}`);
    const end = await long.result(id, 30_000);
    expect(end).toMatchObject({ phase: 'Completed', attempts: 1, deadline });
    expect(Date.now() - clearedAt).toBeLessThan(15_000);
    expect((await long.describeRun(id)).status).toBe('COMPLETED');
  });
});

function isFinished(pr: PipelineRun): boolean {
  const c = succeededCondition(pr);
  return c !== undefined && c.status !== 'Unknown';
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not there yet: keep polling
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * Polls A's and B's PipelineRuns and the target record every 200 ms: an overlap is a moment when B's
 * run exists while A's has not finished; `lastSuccessRuns` is the sequence of recorded successes.
 */
function watchTarget(h: RemediationHarness, key: string, aId: string, bId: string) {
  let stopped = false;
  const seen = {
    polls: 0,
    overlaps: [] as { at: string; a: string; b: string }[],
    lastSuccessRuns: [] as string[],
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        // B first, then A: a B that exists before an A that has not finished yet is a real overlap.
        const [b] = await h.pipelineRunObjectsOf(bId);
        const [a] = await h.pipelineRunObjectsOf(aId);
        const target = await h.client.target(key);
        seen.polls++;
        if (a && b && !isFinished(a) && !isFinished(b)) {
          seen.overlaps.push({ at: new Date().toISOString(), a: a.metadata.name!, b: b.metadata.name! });
        }
        const run = target.lastSuccess?.pipelineRun;
        if (run && seen.lastSuccessRuns.at(-1) !== run) seen.lastSuccessRuns.push(run);
      } catch {
        // a failed poll proves nothing either way
      }
      await sleep(200);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

/** Queries `status` every 200 ms until stopped; records every answer, every error and the longest silence. */
function pollStatus(client: RemediationClient, id: string) {
  let stopped = false;
  const answers: RemediationStatus[] = [];
  const errors: string[] = [];
  let lastAnswer = Date.now();
  let longestGapMs = 0;
  const loop = (async () => {
    while (!stopped) {
      try {
        answers.push(await client.status(id));
        longestGapMs = Math.max(longestGapMs, Date.now() - lastAnswer);
        lastAnswer = Date.now();
      } catch (error) {
        errors.push(String((error as Error).message));
      }
      await sleep(200);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      longestGapMs = Math.max(longestGapMs, Date.now() - lastAnswer);
      return { answers, errors, longestGapMs };
    },
  };
}
