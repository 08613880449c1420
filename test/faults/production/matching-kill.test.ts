import { targetKey } from '../../../src/domain/request';
import { spawnWorker, type WorkerProcess } from '../../../src/dev/stack/worker-process';
import { sleep } from '../../integration/support/remediation-harness';
import { expectWaitsEndedOnTime, startBlocked } from '../support/checks';
import { useFaultStack } from '../support/fault-stack';

describe('fault: Temporal matching service killed (production topology)', () => {
  const workers: WorkerProcess[] = [];
  const fault = useFaultStack(() => Promise.all(workers.map((w) => w.stop('SIGKILL'))));

  it('kill -9 of matching while activity tasks are queued (and during durable waits) → every remediation completes once, one PipelineRun each, every wait ends on time', async () => {
    const { stack, h } = fault;
    const temporal = stack.production;
    const pipeline = await h.definePipeline('succeed', 1_000);
    const quick = await h.definePipeline('succeed');
    // One activity at a time: the remediations' activity tasks wait in matching's queues.
    const worker = spawnWorker(stack.info, h.taskQueue, { maxConcurrentActivities: 1 });
    workers.push(worker);
    await worker.ready;

    // Durable waits whose timers fire after matching is back: the workflow task each timer
    // schedules goes to the worker's sticky queue, whose poll the restarted matching lost.
    const blockedUntil = Date.now() + 40_000;
    const blocked = await startBlocked(h, quick, 5, blockedUntil);
    await Promise.all(blocked.map(({ id }) => h.waitForPhase(id, 'Blocked', 30_000)));

    const requests = Array.from({ length: 12 }, () => h.request({ pipeline }));
    const ids = await Promise.all(requests.map((r) => h.start(r)));
    // Some have run, most are still queued.
    await h.waitFor(ids[0]!, (s) => s.pipelineRuns.length === 1, 60_000, 'the first PipelineRun');
    const statuses = await Promise.all(ids.map((id) => h.client.status(id)));
    const waiting = statuses.filter(
      (s) => !['Completed', 'Failed', 'Skipped', 'Cancelled'].includes(s.phase),
    );
    console.log(`matching killed with ${waiting.length}/${ids.length} remediations not finished`);
    expect(waiting.length).toBeGreaterThanOrEqual(6);

    await temporal.kill('matching', 'SIGKILL');
    const killedAt = Date.now();
    await sleep(2_000);
    await temporal.start('matching');
    console.log(`matching down for ${((Date.now() - killedAt) / 1000).toFixed(1)}s, restart included`);
    expect(Date.now()).toBeLessThan(blockedUntil - 3_000); // the timers fire after the restart

    const ends = await Promise.all(ids.map((id) => h.result(id, 240_000)));
    console.log(
      `all ${ids.length} ended ${((Date.now() - killedAt) / 1000).toFixed(1)}s after the kill; the worker kept running: ${worker.child.exitCode === null}`,
    );
    expect(worker.child.exitCode).toBeNull(); // the same worker process, reconnected by its SDK
    for (const [i, end] of ends.entries()) {
      expect(end).toMatchObject({ phase: 'Completed', attempts: 1 });
      expect(await h.pipelineRunsOf(ids[i]!)).toEqual(end.pipelineRuns);
      expect(end.pipelineRuns).toHaveLength(1);
      expect(end.timeline.filter((t) => t.event === 'pipelineRunFinished')).toHaveLength(1);
      expect(await h.client.target(targetKey(requests[i]!.target))).toMatchObject({
        fencingToken: 1,
        lock: null,
        consecutiveFailures: 0,
        lastSuccess: { remediationId: ids[i], pipelineRun: end.pipelineRuns[0] },
      });
    }
    const lateness = await expectWaitsEndedOnTime(h, blocked, blockedUntil, 3_000);
    console.log(`waits ended ${lateness.join(', ')} ms after blockedUntil`);
  });
});
