import { targetKey } from '../../src/domain/request';
import { spawnWorker, type WorkerProcess } from '../../src/dev/stack/worker-process';
import { useFaultStack } from './support/fault-stack';

describe('fault: worker crash', () => {
  const workers: WorkerProcess[] = [];
  const fault = useFaultStack(() => Promise.all(workers.map((w) => w.stop('SIGKILL'))));

  it('S19: worker SIGKILLed while the PipelineRun runs → a new worker adopts it; exactly one PipelineRun; outcome recorded once', async () => {
    const { stack, h } = fault;
    const pipeline = await h.definePipeline('succeed', 15_000);
    const first = spawnWorker(stack.info, h.taskQueue);
    workers.push(first);
    await first.ready;

    const request = h.request({ pipeline });
    const id = await h.start(request);
    await h.waitFor(id, (s) => s.pipelineRuns.length === 1, 60_000, 'the PipelineRun watch');
    const [run] = await h.pipelineRunsOf(id);
    expect(run).toBeDefined();
    // Still running: the crash really lands mid-PipelineRun.
    expect((await h.runs.observe(h.info.executionNamespace, run!))?.state).toBe('running');

    first.child.kill('SIGKILL');
    expect(await first.stop()).toBeNull(); // exit code null: killed by the signal, no cleanup ran
    expect(first.child.signalCode).toBe('SIGKILL');
    const killedAt = Date.now();

    const second = spawnWorker(stack.info, h.taskQueue);
    workers.push(second);
    await second.ready;

    // The dead worker's watch is retried on the new worker once its 30s heartbeat timeout expires.
    const end = await h.result(id, 180_000);
    const recoveredAfterMs = Date.parse(end.timeline.at(-1)!.at) - killedAt;
    console.log(`S19: remediation ended ${(recoveredAfterMs / 1000).toFixed(1)}s after the SIGKILL`);

    expect(end).toMatchObject({ phase: 'Completed', attempts: 1, pipelineRuns: [run] });
    expect(end.timeline.filter((t) => t.event === 'pipelineRunFinished')).toHaveLength(1);
    expect(await h.pipelineRunsOf(id)).toEqual([run]);
    const target = await h.client.target(targetKey(request.target));
    expect(target).toMatchObject({
      fencingToken: 1,
      lock: null,
      consecutiveFailures: 0,
      lastSuccess: { remediationId: id, pipelineRun: run },
    });
  });
});
