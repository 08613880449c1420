import { sleep, uniqueName } from '../../integration/support/remediation-harness';
import { expectStormSettled, expectWaitsEndedOnTime, firstTimer, startBlocked } from '../support/checks';
import { useFaultStack } from '../support/fault-stack';

describe('fault: Temporal history service killed (production topology)', () => {
  const fault = useFaultStack();

  it('kill -9 of history mid-storm (and during durable waits) → one PipelineRun for the storm, every duplicate counted once, every wait ends on time', async () => {
    const { stack, h } = fault;
    const temporal = stack.production;
    await h.startWorker();
    // Long enough that every alert of the storm arrives while the first one's run is going on.
    const pipeline = await h.definePipeline('succeed', 40_000);
    const quick = await h.definePipeline('succeed');

    // Durable waits whose timers fire after history is back. `held`: their timers are in the
    // history before the kill (Blocked is answered by a query, i.e. after the workflow task that
    // started the timer completed). `inFlight`: started with the storm, so the workflow task that
    // starts a timer may still be on its way to history when history dies.
    const blockedUntil = Date.now() + 30_000;
    const held = await startBlocked(h, quick, 5, blockedUntil);
    await Promise.all(held.map(({ id }) => h.waitForPhase(id, 'Blocked', 20_000)));

    // The storm: 40 alerts for one fingerprint, on 40 workloads of one namespace.
    const fingerprint = uniqueName('storm');
    const namespace = uniqueName('ns');
    const requests = Array.from({ length: 40 }, (_, i) =>
      h.request({ pipeline, fingerprint, namespace, name: `app-${i}` }),
    );
    const [first, inFlight] = await Promise.all([
      Promise.all(requests.slice(0, 20).map((r) => h.start(r))),
      startBlocked(h, quick, 5, blockedUntil),
    ]);
    const historyPid = temporal.pids()['history'];
    await temporal.kill('history', 'SIGKILL');
    const killedAt = Date.now();
    // Starts sent while history is down: the client retries them until it is back.
    const rest = Promise.all(requests.slice(20).map((r) => h.start(r)));
    await sleep(2_000);
    await temporal.start('history');
    const downMs = Date.now() - killedAt;
    console.log(`history (pid ${historyPid}) down for ${(downMs / 1000).toFixed(1)}s, restart included`);
    expect(temporal.pids()['history']).not.toBe(historyPid);
    expect(Date.now()).toBeLessThan(blockedUntil - 3_000); // the timers fire after the restart

    const ids = [...first, ...(await rest)];
    expect(new Set(ids).size).toBe(40);
    await expectStormSettled(h, requests, ids);
    const heldLateness = await expectWaitsEndedOnTime(h, held, blockedUntil, 3_000);
    console.log(`waits held before the kill ended ${heldLateness.join(', ')} ms after blockedUntil`);
    // A Temporal timer runs for its duration from the moment history records the workflow task
    // that starts it, not from the workflow's clock reading that computed the duration. When
    // history dies while the worker completes that task, the SDK retries the completion until
    // history is back, and the timer is due later by as much (measured: waits ended 3.5 s late
    // with history down 2.7 s, and 5.6–6.1 s late with it down 5.1 s). So for these waits: each ends within the same
    // 3 s of the moment its timer was due; a timer due 3 s late or more was recorded after the kill; and it
    // is due late by at most the outage plus the workflow task timeout (10 s: a task in flight
    // longer is retried, and the retry reads the clock again).
    const inFlightLateness = await expectWaitsEndedOnTime(h, inFlight, blockedUntil, 3_000 + downMs + 10_000);
    const timers = await Promise.all(inFlight.map(({ id }) => firstTimer(h, id)));
    for (const [i, timer] of timers.entries()) {
      const dueLate = timer.dueAt - blockedUntil;
      expect(inFlightLateness[i]! - Math.max(dueLate, 0)).toBeLessThan(3_000);
      if (dueLate >= 3_000) expect(timer.recordedAt).toBeGreaterThanOrEqual(killedAt);
      expect(dueLate).toBeLessThan(downMs + 10_000);
    }
    console.log(
      `waits started with the storm ended ${inFlightLateness.join(', ')} ms after blockedUntil; their timers were due ${timers.map((t) => t.dueAt - blockedUntil).join(', ')} ms after it`,
    );
  });
});
