import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { InvalidRequestError, targetKey } from '../../../src/domain/request';
import { REMEDIATION_WORKFLOW } from '../../../src/temporal-contract';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

describe('clean path and idempotency', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker();
  });
  afterAll(() => h.close());

  it('S1: no state → one PipelineRun succeeds → Completed, counters reset, lock released', async () => {
    const pipeline = await h.definePipeline('succeed', 200);
    const request = h.request({ pipeline });
    const id = await h.start(request);
    const status = await h.result(id);

    expect(status).toMatchObject({ phase: 'Completed', reason: 'Succeeded', attempts: 1, failure: null });
    expect(status.pipelineRuns).toHaveLength(1);
    expect(await h.pipelineRunsOf(id)).toEqual(status.pipelineRuns);
    const target = await h.client.target(targetKey(request.target));
    expect(target).toMatchObject({
      consecutiveFailures: 0,
      nextAllowedExecution: null,
      manualReviewRequired: false,
      lock: null,
    });
    expect(target.lastSuccess).toMatchObject({ actionId: 'restart-deployment', remediationId: id });
    expect(target.fencingToken).toBe(1);
  });

  it('S3: the same request id twice → one remediation, one PipelineRun', async () => {
    const pipeline = await h.definePipeline('succeed', 500);
    const id = uniqueName('req');
    const request = h.request({ pipeline, id });
    const [first, second] = await Promise.all([h.client.start(request), h.client.start(request)]);
    expect([first.started, second.started].sort()).toEqual([false, true]);
    expect(first.workflowId).toBe(second.workflowId);
    await h.result(id);
    const third = await h.client.start(request); // after it closed, too
    expect(third.started).toBe(false);
    expect(await h.pipelineRunsOf(id)).toHaveLength(1);
  });

  it('S2: invalid requests are rejected with field errors before anything starts or is written', async () => {
    const pipeline = await h.definePipeline('succeed');
    const good = h.request({ pipeline });
    const bad = [
      { ...good, target: { ...good.target, kind: 'deployment' } },
      { ...good, signal: { ...good.signal, fingerprint: '' } },
      { ...good, action: { ...good.action, params: { big: 'x'.repeat(5000) } } },
    ];
    const fields: string[][] = [];
    for (const request of bad) {
      const error = await h.client.start({ ...request, id: uniqueName('bad') }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidRequestError);
      fields.push((error as InvalidRequestError).errors.map((e) => e.field));
    }
    expect(fields[0]).toContain('target.kind');
    expect(fields[1]).toContain('signal.fingerprint');
    expect(fields[2]!.some((f) => f.startsWith('action.params'))).toBe(true);
    expect(await h.client.list({ target: targetKey(good.target) })).toEqual([]);
    expect((await h.ledger.getTarget(targetKey(good.target))).version).toBeNull();
  });

  it('S2: a start that bypasses the client (plain Temporal start) fails at once with the field errors and writes nothing', async () => {
    const pipeline = await h.definePipeline('succeed');
    const good = h.request({ pipeline });
    const bad = {
      ...good,
      target: { ...good.target, kind: 'deployment' },
      action: { ...good.action, params: { 'not a param name': 'x' } },
      deadline: 'soon',
    };
    const id = uniqueName('raw-bad');
    const handle = await h.client.client.workflow.start(REMEDIATION_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: id,
      args: [{ request: bad }],
    });
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidRequestError');
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect(cause!.message).toMatch(/target\.kind/);
    expect(cause!.message).toMatch(/action\.params/);
    expect(cause!.message).toMatch(/deadline/);
    expect((await h.ledger.getTarget(targetKey(good.target))).version).toBeNull();
    expect(await h.pipelineRunsOf(id)).toEqual([]);
  });
});
