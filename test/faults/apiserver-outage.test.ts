import { targetKey } from '../../src/domain/request';
import { sleep } from '../integration/support/remediation-harness';
import { useFaultStack } from './support/fault-stack';

describe('fault: Kubernetes API server outage', () => {
  const fault = useFaultStack();

  it('S21: API server unavailable for 20s during execution → activities retry; nothing lost or duplicated', async () => {
    const { stack, h } = fault;
    const pipeline = await h.definePipeline('succeed', 10_000);
    await h.startWorker();
    const request = h.request({ pipeline });
    const id = await h.start(request);
    await h.waitFor(id, (s) => s.pipelineRuns.length === 1, 60_000, 'the PipelineRun watch');
    const [run] = await h.pipelineRunsOf(id);
    expect((await h.runs.observe(h.info.executionNamespace, run!))?.state).toBe('running');

    // etcd and the API server both go down; etcd's data dir, the certificates and ports are kept.
    await stack.stopKubeApi();
    await expect(h.ledger.getTarget(targetKey(request.target))).rejects.toThrow();
    await sleep(20_000);
    // The PipelineRun's 10s ran out during the outage: its end can only be written after the restart.
    expect(await h.client.status(id)).toMatchObject({ phase: 'Executing' });
    const upStart = Date.now();
    await stack.startKubeApi();
    const up = Date.now();
    console.log(`S21: API server back ${((up - upStart) / 1000).toFixed(1)}s after the restart began`);

    const end = await h.result(id, 120_000);
    console.log(
      `S21: remediation completed ${((Date.parse(end.timeline.at(-1)!.at) - up) / 1000).toFixed(1)}s after the API server was back`,
    );
    expect(end).toMatchObject({ phase: 'Completed', attempts: 1, pipelineRuns: [run] });
    expect(end.timeline.filter((t) => t.event === 'pipelineRunFinished')).toHaveLength(1);
    expect(await h.pipelineRunsOf(id)).toEqual([run]);
    expect(await h.client.target(targetKey(request.target))).toMatchObject({
      consecutiveFailures: 0,
      nextAllowedExecution: null,
      lock: null,
      waiters: [],
      fencingToken: 1,
      lastSuccess: { remediationId: id, pipelineRun: run },
    });
  });
});
