import { emptyTargetState } from '../../src/domain/model';
import { targetKey } from '../../src/domain/request';
import { sleep } from '../integration/support/remediation-harness';
import { useFaultStack } from './support/fault-stack';

describe('fault: Temporal server restart', () => {
  const fault = useFaultStack();

  it('S20: Temporal server restarted (SQLite) during a durable wait → the wait resumes and ends on time', async () => {
    const { stack, h } = fault;
    const pipeline = await h.definePipeline('succeed');
    const worker = await h.startWorker();
    const request = h.request({ pipeline });
    const key = targetKey(request.target);
    // A pending backoff after one pre-execution failure: a temporary block with a known end.
    const blockedUntil = Date.now() + 25_000;
    await h.ledger.putTarget({
      ...emptyTargetState(key),
      consecutiveFailures: 1,
      nextAllowedExecution: new Date(blockedUntil).toISOString(),
    });

    const id = await h.start(request);
    const blocked = await h.waitForPhase(id, 'Blocked', 30_000);
    expect(blocked).toMatchObject({
      blockReason: 'ExponentialBackoff',
      blockKind: 'temporary',
      blockedUntil: new Date(blockedUntil).toISOString(),
    });

    const down = Date.now();
    await stack.stopTemporal();
    await sleep(5_000);
    await stack.startTemporal();
    const up = Date.now();
    console.log(`S20: Temporal down for ${((up - down) / 1000).toFixed(1)}s (restart included)`);
    expect(up).toBeLessThan(blockedUntil - 3_000); // the timer must fire after the restart

    const end = await h.result(id, 120_000);
    expect(end).toMatchObject({ phase: 'Completed', attempts: 1 });
    // The same worker, never restarted: its SDK reconnected on its own.
    expect(worker.getState()).toBe('RUNNING');

    const secondPass = end.timeline.find((t) => t.event === 'routing' && t.message === 'routing pass 2');
    expect(secondPass).toBeDefined();
    const lateness = Date.parse(secondPass!.at) - blockedUntil;
    const created = end.timeline.find((t) => t.event === 'pipelineRunCreated');
    console.log(
      `S20: wait ended ${lateness} ms after blockedUntil; PipelineRun created ${Date.parse(created!.at) - blockedUntil} ms after`,
    );
    expect(lateness).toBeGreaterThanOrEqual(0); // never early
    expect(lateness).toBeLessThan(2_000);

    expect(await h.pipelineRunsOf(id)).toHaveLength(1);
    expect(await h.client.target(key)).toMatchObject({
      consecutiveFailures: 0,
      nextAllowedExecution: null,
      lock: null,
      fencingToken: 1,
    });
  });
});
