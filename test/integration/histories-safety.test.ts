/**
 * Records real histories of the safety-invariant paths that histories.test.ts does not take, and
 * replays them against the current workflow code: a create refused at the deadline, a watch
 * bounded by notAfter, a cancel after the run finished (settled and recorded), and a manual wait
 * that continues as new (its first and its last run). With RECORD_HISTORIES=<tag> they are written
 * to test/fixtures/histories/, where the unit suite's replay test guards later workflow changes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { targetKey } from '../../src/domain/request';
import type {
  PipelineRunCreated,
  PipelineRunOutcome,
  PipelineRunRequest,
  PipelineRuns,
} from '../../src/ports/pipeline-runs';
import { remediationWorkflowId } from '../../src/temporal-contract';
import { RemediationHarness, sleep, uniqueName, workflowBundle } from './support/remediation-harness';

const fixtures = join(__dirname, '../fixtures/histories');

/** Pipelines whose names start with these prefixes meet the matching fault. */
const OUTAGE = 'outage'; // every create fails (API server unreachable)
const STUCK = 'stuck'; // the controller enforces no timeout
const BLIND = 'blind'; // the watch does not see the end

function steered(real: PipelineRuns): PipelineRuns {
  const pipelineOf = new Map<string, string>();
  const create = async (request: PipelineRunRequest): Promise<PipelineRunCreated> => {
    if (request.pipeline.startsWith(OUTAGE)) {
      throw new Error('connect ECONNREFUSED: API server unreachable (fault injection)');
    }
    pipelineOf.set(request.name, request.pipeline);
    return real.create(request.pipeline.startsWith(STUCK) ? { ...request, timeout: '0' } : request);
  };
  const waitForCompletion: PipelineRuns['waitForCompletion'] = async (namespace, name, options) => {
    if (!pipelineOf.get(name)?.startsWith(BLIND)) return real.waitForCompletion(namespace, name, options);
    for (;;) {
      if (options.signal?.aborted) {
        throw new DOMException(`stopped waiting for PipelineRun ${namespace}/${name}`, 'AbortError');
      }
      options.onProgress?.({ state: 'running' } as PipelineRunOutcome);
      await sleep(200);
    }
  };
  return new Proxy(real, {
    get: (target, property, receiver) => {
      if (property === 'create') return create;
      if (property === 'waitForCompletion') return waitForCompletion;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('workflow histories of the safety-invariant paths', () => {
  const h = new RemediationHarness();
  const long = new RemediationHarness();

  beforeAll(async () => {
    await Promise.all([h.open(), long.open()]);
    await h.startWorker({ pipelineRunTimeout: '2s', watchGrace: '1s' }, { pipelineRuns: steered });
    await long.startWorker({ continueAsNewAfterEvents: 50, lockRecheckInterval: '200ms' });
  });
  afterAll(() => Promise.all([h.close(), long.close()]));

  async function replayAndMaybeRecord(
    harness: RemediationHarness,
    name: string,
    workflowId: string,
    runId?: string,
  ): Promise<void> {
    const history = await harness.client.client.workflow.getHandle(workflowId, runId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
    const tag = process.env.RECORD_HISTORIES;
    if (tag) writeFileSync(join(fixtures, `${name}-${tag}.json`), historyToJSON(history));
  }

  it('S25: histories of the refused create (I4), the bounded watch (I4), the settled cancel (I7) and continue-as-new (I9) replay deterministically', async () => {
    // I4: every create fails until past the deadline; the retry past it is refused.
    const refused = await h.start(h.request({ pipeline: uniqueName(OUTAGE), deadline: '3s' }));
    expect(await h.result(refused)).toMatchObject({ phase: 'Skipped', reason: 'DeadlineExceeded' });

    // I4: a run that never ends on its own is cancelled at notAfter (2 s timeout + 1 s grace).
    const stuck = await h.definePipeline('hang', 0, uniqueName(STUCK));
    const watched = await h.start(h.request({ pipeline: stuck }));
    expect(await h.result(watched)).toMatchObject({
      phase: 'Failed',
      failure: { category: 'WatchTimedOut' },
    });

    // I7: the run finished, the watch had not seen it; a cancel settles it and records its success.
    const blind = await h.definePipeline('succeed', 0, uniqueName(BLIND));
    const settled = await h.start(h.request({ pipeline: blind }));
    const executing = await h.waitFor(settled, (s) => s.pipelineRuns.length === 1, 30_000, 'executing');
    const run = executing.pipelineRuns[0]!;
    const until = Date.now() + 30_000;
    while ((await h.runs.observe(h.info.executionNamespace, run))?.state !== 'succeeded') {
      if (Date.now() > until) throw new Error(`${run} did not succeed`);
      await sleep(200);
    }
    await h.client.cancel(settled);
    expect(await h.result(settled)).toMatchObject({ phase: 'Cancelled' });
    expect((await h.ledger.getTarget(executing.target)).lastSuccess).toMatchObject({ pipelineRun: run });

    // I9: a manual wait continues as new; a clear then wakes the latest run, which runs.
    const failing = await long.definePipeline('fail-step');
    const broken = long.request({ pipeline: failing });
    expect(await long.result(await long.start(broken))).toMatchObject({ phase: 'Failed' });
    const succeed = await long.definePipeline('succeed');
    const continued = await long.start({ ...long.request({ pipeline: succeed }), target: broken.target });
    await long.waitFor(continued, (s) => s.blockReason === 'PreviousExecutionFailed', 30_000, 'manual block');
    let runs = await long.workflowRuns(continued);
    const deadline = Date.now() + 60_000;
    while (!runs.some((r) => r.status === 'CONTINUED_AS_NEW')) {
      if (Date.now() > deadline) throw new Error(`no continue-as-new: ${JSON.stringify(runs)}`);
      await sleep(300);
      runs = await long.workflowRuns(continued);
    }
    await long.client.clear(targetKey(broken.target), 'recording histories', 'ci');
    expect(await long.result(continued)).toMatchObject({ phase: 'Completed' });
    runs = await long.workflowRuns(continued);
    const first = runs[runs.length - 1]!;
    const last = runs[0]!;
    expect(first.status).toBe('CONTINUED_AS_NEW');
    expect(last.status).toBe('COMPLETED');

    for (const [name, id] of Object.entries({ refused, watched, settled })) {
      await replayAndMaybeRecord(h, name, remediationWorkflowId(id));
    }
    await replayAndMaybeRecord(long, 'continued-first', remediationWorkflowId(continued), first.runId);
    await replayAndMaybeRecord(long, 'continued-last', remediationWorkflowId(continued), last.runId);
  });
});
