import { sleep, uniqueName } from '../../integration/support/remediation-harness';
import { expectStormSettled, expectWaitsEndedOnTime, startBlocked } from '../support/checks';
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

    // Durable waits whose timers fire after history is back.
    const blockedUntil = Date.now() + 30_000;
    const blocked = await startBlocked(h, quick, 5, blockedUntil);

    // The storm: 40 alerts for one fingerprint, on 40 workloads of one namespace.
    const fingerprint = uniqueName('storm');
    const namespace = uniqueName('ns');
    const requests = Array.from({ length: 40 }, (_, i) =>
      h.request({ pipeline, fingerprint, namespace, name: `app-${i}` }),
    );
    const first = await Promise.all(requests.slice(0, 20).map((r) => h.start(r)));
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
    const lateness = await expectWaitsEndedOnTime(h, blocked, blockedUntil, 3_000);
    console.log(`waits ended ${lateness.join(', ')} ms after blockedUntil`);
  });
});
