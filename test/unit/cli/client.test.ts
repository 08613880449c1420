/**
 * RemediationClient.wait, .result and .clear over a fake Temporal client: `wait` notices a workflow
 * that closed without a final phase (and follows continue-as-new); `wait` and `result` answer the
 * final status of a remediation that ended Failed (its workflow failed with RemediationFailed);
 * `clear` refuses a target the ledger has no record of, before starting anything, and maps the
 * worker's refusal to the same error.
 */
import {
  WorkflowContinuedAsNewError,
  WorkflowFailedError,
  type Client,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  RetryState,
  TerminatedFailure,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import {
  RemediationClient,
  RemediationClosedError,
  TargetNotFoundError,
  finalStatusOf,
  type ClosedWorkflowStatus,
} from '../../../src/client';
import { emptyTargetState, type TargetState } from '../../../src/domain/model';
import { InvalidRequestError } from '../../../src/domain/request';
import type { Ledger } from '../../../src/ports/ledger';
import type { RemediationStatus } from '../../../src/temporal-contract';

function status(overrides: Partial<RemediationStatus> = {}): RemediationStatus {
  return {
    id: 'r1',
    phase: 'Blocked',
    blockReason: 'PreviousExecutionFailed',
    blockKind: 'manual',
    blockedUntil: null,
    message: 'waiting for an operator',
    reason: null,
    duplicateOf: null,
    duplicates: 0,
    attempts: 1,
    pipelineRuns: ['rem-r1-1'],
    target: 'prod/Deployment/api',
    fingerprint: 'fp',
    action: 'restart',
    deadline: '2026-03-01T13:04:10.000Z',
    failure: null,
    override: null,
    timeline: [],
    ...overrides,
  };
}

/** How many polls a test allows: the bug was polling forever, so more than this fails the test. */
const MAX_POLLS = 25;

/**
 * A Temporal client whose workflow's runs are `describes` in order (the last one repeats) and
 * whose status query answers `queries` in order (the last one repeats).
 */
function fakeTemporal(options: {
  describes: { status: WorkflowExecutionStatusName; runId?: string }[];
  queries?: RemediationStatus[];
  result?: (runId: string) => Promise<unknown>;
  /** What the handle's own result() (following runs) settles with. */
  handleResult?: () => Promise<unknown>;
}) {
  let polls = 0;
  let described = 0;
  const describe = jest.fn(() => {
    const d = options.describes[Math.min(described++, options.describes.length - 1)]!;
    return Promise.resolve({ runId: d.runId ?? 'run-1', status: { name: d.status } });
  });
  const query = jest.fn(() => {
    if (++polls > MAX_POLLS) return Promise.reject(new Error(`still polling after ${MAX_POLLS} queries`));
    const queries = options.queries ?? [status()];
    return Promise.resolve(queries[Math.min(polls - 1, queries.length - 1)]!);
  });
  const result = jest.fn((_workflowId: string, runId: string) =>
    options.result ? options.result(runId) : Promise.reject(new Error('unexpected result()')),
  );
  const handleResult = jest.fn(() =>
    options.handleResult ? options.handleResult() : Promise.reject(new Error('unexpected handle.result()')),
  );
  const execute = jest.fn();
  const client = {
    workflow: {
      getHandle: (workflowId: string) => ({ workflowId, describe, query, result: handleResult }),
      result,
      execute,
    },
  } as unknown as Client;
  return { client, describe, query, result, handleResult, execute };
}

const failed = (message: string, cause: Error) =>
  new WorkflowFailedError(message, cause, RetryState.NON_RETRYABLE_FAILURE);

/** What the workflow of a remediation that ended Failed throws, as the client sees it. */
const remediationFailed = (final: RemediationStatus) =>
  failed(
    'Workflow execution failed',
    ApplicationFailure.create({
      type: 'RemediationFailed',
      message: `remediation ${final.id} ended Failed`,
      nonRetryable: true,
      details: [final],
    }),
  );

describe('wait: a workflow that closes without a final phase', () => {
  it.each<[string, WorkflowExecutionStatusName, Error, ClosedWorkflowStatus, string]>([
    [
      'terminated',
      'TERMINATED',
      failed('stuck, cleaning up by hand', new TerminatedFailure('stuck, cleaning up by hand')),
      'TERMINATED',
      'remediation r1 was terminated (Temporal status TERMINATED): stuck, cleaning up by hand',
    ],
    [
      'timed out',
      'TIMED_OUT',
      failed(
        'Workflow execution timed out',
        new TimeoutFailure('Workflow execution timed out', undefined, TimeoutType.START_TO_CLOSE),
      ),
      'TIMED_OUT',
      'remediation r1 timed out (Temporal status TIMED_OUT): Workflow execution timed out',
    ],
    [
      'failed as a workflow',
      'FAILED',
      failed(
        'Workflow execution failed',
        ApplicationFailure.create({ message: 'invalid remediation request: deadline', type: 'X' }),
      ),
      'FAILED',
      'remediation r1 failed (Temporal status FAILED): invalid remediation request: deadline',
    ],
    [
      'cancelled at the Temporal level',
      'CANCELLED',
      failed('Workflow execution cancelled', new CancelledFailure('Workflow canceled')),
      'CANCELED',
      'remediation r1 was cancelled (Temporal status CANCELED): Workflow canceled',
    ],
  ])(
    'when it was %s then wait rejects saying what Temporal says',
    async (_t, name, error, closed, message) => {
      const temporal = fakeTemporal({
        describes: [{ status: 'RUNNING' }, { status: 'RUNNING' }, { status: name, runId: 'run-7' }],
        result: () => Promise.reject(error),
      });
      const seen: RemediationStatus[] = [];
      const rejection = new RemediationClient(temporal.client).wait('r1', (s) => seen.push(s), 0);
      await expect(rejection).rejects.toBeInstanceOf(RemediationClosedError);
      const e = (await rejection.catch((x: unknown) => x)) as RemediationClosedError;
      expect(e.message).toBe(message);
      expect(e).toMatchObject({
        id: 'r1',
        workflowId: 'remediation-r1',
        runId: 'run-7',
        temporalStatus: closed,
        lastStatus: status(),
      });
      expect(temporal.result).toHaveBeenCalledWith('remediation-r1', 'run-7', { followRuns: false });
      expect(seen).toEqual([status()]);
    },
  );

  it('when it is terminated while blocked then wait stops instead of polling the stale status forever', async () => {
    const temporal = fakeTemporal({
      describes: [{ status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'TERMINATED' }],
      result: () => Promise.reject(failed('by hand', new TerminatedFailure('by hand'))),
    });
    await expect(new RemediationClient(temporal.client).wait('r1', () => {}, 0)).rejects.toThrow(
      'remediation r1 was terminated (Temporal status TERMINATED): by hand',
    );
    expect(temporal.query.mock.calls.length).toBeLessThan(MAX_POLLS);
  });

  it('when it closed before the first poll then there is no last status', async () => {
    const temporal = fakeTemporal({
      describes: [{ status: 'TERMINATED' }],
      result: () => Promise.reject(failed('Workflow execution terminated', new TerminatedFailure(undefined))),
    });
    const e = (await new RemediationClient(temporal.client)
      .wait('r1', () => {}, 0)
      .catch((x: unknown) => x)) as RemediationClosedError;
    expect(e).toBeInstanceOf(RemediationClosedError);
    expect(e.lastStatus).toBeNull();
    expect(temporal.query).not.toHaveBeenCalled(); // a closed run's query could hang without a worker
  });

  it('when it completed between polls then the final status is its result', async () => {
    const final = status({ phase: 'Completed', reason: 'Succeeded', blockReason: null, message: 'done' });
    const temporal = fakeTemporal({
      describes: [{ status: 'RUNNING' }, { status: 'COMPLETED' }],
      result: () => Promise.resolve(final),
    });
    const seen: RemediationStatus[] = [];
    await expect(new RemediationClient(temporal.client).wait('r1', (s) => seen.push(s), 0)).resolves.toEqual(
      final,
    );
    expect(seen).toEqual([status(), final]);
  });

  it('when it completed without a final phase then wait rejects with COMPLETED', async () => {
    const temporal = fakeTemporal({
      describes: [{ status: 'COMPLETED' }],
      result: () => Promise.resolve(status()),
    });
    await expect(new RemediationClient(temporal.client).wait('r1', () => {}, 0)).rejects.toMatchObject({
      temporalStatus: 'COMPLETED',
      message: 'remediation r1 completed without a final phase (Temporal status COMPLETED)',
    });
  });

  it('when it continued as new then wait follows the same workflow id to the new run', async () => {
    const final = status({ phase: 'Skipped', reason: 'DeadlineExceeded', blockReason: null });
    const temporal = fakeTemporal({
      describes: [
        { status: 'RUNNING', runId: 'run-1' },
        { status: 'CONTINUED_AS_NEW', runId: 'run-1' },
        { status: 'COMPLETED', runId: 'run-1' }, // a describe racing the hand-over
        { status: 'RUNNING', runId: 'run-2' },
      ],
      queries: [status(), status({ attempts: 2 }), final],
      result: (runId) =>
        runId === 'run-1'
          ? Promise.reject(new WorkflowContinuedAsNewError('continued as new', 'run-2'))
          : Promise.reject(new Error('unexpected')),
    });
    await expect(new RemediationClient(temporal.client).wait('r1', () => {}, 0)).resolves.toEqual(final);
  });

  it('when it ended Failed then the workflow failed (RemediationFailed) and wait returns the final status it carries', async () => {
    const final = status({ phase: 'Failed', reason: 'ExecutionFailed', blockReason: null });
    const temporal = fakeTemporal({
      describes: [{ status: 'RUNNING' }, { status: 'FAILED', runId: 'run-3' }],
      result: () => Promise.reject(remediationFailed(final)),
    });
    const seen: RemediationStatus[] = [];
    await expect(new RemediationClient(temporal.client).wait('r1', (s) => seen.push(s), 0)).resolves.toEqual(
      final,
    );
    expect(seen).toEqual([status(), final]);
    expect(temporal.result).toHaveBeenCalledWith('remediation-r1', 'run-3', { followRuns: false });
  });

  it('when a RemediationFailed failure carries no final status then wait rejects as for any failed workflow', async () => {
    const temporal = fakeTemporal({
      describes: [{ status: 'FAILED' }],
      result: () => Promise.reject(remediationFailed(status())),
    });
    await expect(new RemediationClient(temporal.client).wait('r1', () => {}, 0)).rejects.toMatchObject({
      name: 'RemediationClosedError',
      temporalStatus: 'FAILED',
    });
  });

  it('when it stays open then wait returns at the first terminal phase, as before', async () => {
    const final = status({ phase: 'Failed', reason: 'ExecutionFailed', blockReason: null });
    const temporal = fakeTemporal({ describes: [{ status: 'RUNNING' }], queries: [status(), final] });
    await expect(new RemediationClient(temporal.client).wait('r1', () => {}, 0)).resolves.toEqual(final);
    expect(temporal.result).not.toHaveBeenCalled();
  });
});

describe('result: the final status without polling the worker', () => {
  it('when the workflow completed then it is the workflow result', async () => {
    const final = status({ phase: 'Skipped', reason: 'DuplicateInProgress', blockReason: null });
    const temporal = fakeTemporal({
      describes: [{ status: 'COMPLETED' }],
      handleResult: () => Promise.resolve(final),
    });
    await expect(new RemediationClient(temporal.client).result('r1')).resolves.toEqual(final);
    expect(temporal.query).not.toHaveBeenCalled();
  });

  it('when it ended Failed then it is the final status the RemediationFailed failure carries, not an exception', async () => {
    const final = status({ phase: 'Failed', reason: 'ExponentialBackoff', blockReason: null });
    const temporal = fakeTemporal({
      describes: [{ status: 'FAILED' }],
      handleResult: () => Promise.reject(remediationFailed(final)),
    });
    await expect(new RemediationClient(temporal.client).result('r1')).resolves.toEqual(final);
    expect(temporal.query).not.toHaveBeenCalled();
  });

  it('when it was terminated then it rejects with RemediationClosedError saying what Temporal says', async () => {
    const temporal = fakeTemporal({
      describes: [{ status: 'TERMINATED', runId: 'run-9' }],
      handleResult: () => Promise.reject(failed('by hand', new TerminatedFailure('by hand'))),
    });
    const e = (await new RemediationClient(temporal.client)
      .result('r1')
      .catch((x: unknown) => x)) as RemediationClosedError;
    expect(e).toBeInstanceOf(RemediationClosedError);
    expect(e).toMatchObject({
      runId: 'run-9',
      temporalStatus: 'TERMINATED',
      reason: 'by hand',
      lastStatus: null,
    });
  });

  it('when the call itself fails then that error is passed on', async () => {
    const temporal = fakeTemporal({
      describes: [{ status: 'RUNNING' }],
      handleResult: () => Promise.reject(new Error('connection refused')),
    });
    await expect(new RemediationClient(temporal.client).result('r1')).rejects.toThrow('connection refused');
  });
});

describe("finalStatusOf: the error a failed remediation's workflow result throws", () => {
  it('unwraps the final status from a WorkflowFailedError caused by RemediationFailed', () => {
    const final = status({ phase: 'Failed', reason: 'ExecutionFailed', blockReason: null });
    expect(finalStatusOf(remediationFailed(final))).toEqual(final);
  });

  it('is null for any other failure', () => {
    const other = ApplicationFailure.create({
      type: 'InvalidRequestError',
      details: [status({ phase: 'Failed' })],
    });
    expect(finalStatusOf(failed('Workflow execution failed', other))).toBeNull();
    expect(finalStatusOf(new Error('boom'))).toBeNull();
    expect(finalStatusOf(undefined)).toBeNull();
  });
});

describe('clear: a target the ledger has no record of', () => {
  const cleared = {
    target: 'prod/Deployment/api',
    cleared: { manualReviewRequired: true, consecutiveFailures: 2, nextAllowedExecution: null },
    woken: [],
  };

  function ledgerWith(getTarget: (key: string) => Promise<TargetState>): Ledger {
    return { getTarget: jest.fn(getTarget) } as unknown as Ledger;
  }

  it('when the ledger has no record then it refuses before starting anything', async () => {
    const temporal = fakeTemporal({ describes: [] });
    const ledger = ledgerWith((key) => Promise.resolve(emptyTargetState(key)));
    const client = new RemediationClient(temporal.client, { ledger });
    const refusal = client.clear('prod/Deployment/apj', 'fixed', 'alice');
    await expect(refusal).rejects.toBeInstanceOf(TargetNotFoundError);
    await expect(refusal).rejects.toMatchObject({
      refusedBy: 'client',
      message: expect.stringContaining(
        'target prod/Deployment/apj has no ledger record: nothing to clear',
      ) as unknown,
    });
    expect(temporal.execute).not.toHaveBeenCalled();
  });

  it('when the ledger has the record then the clearTarget workflow runs', async () => {
    const temporal = fakeTemporal({ describes: [] });
    temporal.execute.mockResolvedValue(cleared);
    const ledger = ledgerWith((key) => Promise.resolve({ ...emptyTargetState(key), version: '7' }));
    const client = new RemediationClient(temporal.client, { ledger });
    await expect(client.clear('prod/Deployment/api', 'fixed', 'alice')).resolves.toEqual(cleared);
    expect(temporal.execute).toHaveBeenCalledWith(
      'clearTarget',
      expect.objectContaining({ args: [{ target: 'prod/Deployment/api', reason: 'fixed', by: 'alice' }] }),
    );
  });

  it('when the ledger cannot be read then it says why and leaves the check to the worker', async () => {
    const temporal = fakeTemporal({ describes: [] });
    temporal.execute.mockResolvedValue(cleared);
    const ledger = ledgerWith(() => Promise.reject(new Error('connect ECONNREFUSED')));
    const onLedgerUnreadable = jest.fn();
    const client = new RemediationClient(temporal.client, { ledger });
    await expect(
      client.clear('prod/Deployment/api', 'fixed', 'alice', { onLedgerUnreadable }),
    ).resolves.toEqual(cleared);
    expect(onLedgerUnreadable).toHaveBeenCalledWith(new Error('connect ECONNREFUSED'));
  });

  it('when the ledger does not answer then the check gives up after 10s', async () => {
    jest.useFakeTimers();
    try {
      const temporal = fakeTemporal({ describes: [] });
      temporal.execute.mockResolvedValue(cleared);
      const ledger = ledgerWith(() => new Promise<TargetState>(() => {}));
      const onLedgerUnreadable = jest.fn();
      const done = new RemediationClient(temporal.client, { ledger }).clear('prod/Deployment/api', 'x', 'a', {
        onLedgerUnreadable,
      });
      await jest.advanceTimersByTimeAsync(10_000);
      await expect(done).resolves.toEqual(cleared);
      expect(onLedgerUnreadable).toHaveBeenCalledWith(new Error('no answer within 10s'));
    } finally {
      jest.useRealTimers();
    }
  });

  it('when the worker refuses with TargetNotFoundError then that is the error, with its message', async () => {
    const temporal = fakeTemporal({ describes: [] });
    const message = 'target prod/Deployment/apj has no ledger record: nothing to clear';
    temporal.execute.mockRejectedValue(
      failed(
        'Workflow execution failed',
        new ActivityFailure(
          'Activity task failed',
          'clearTarget',
          '1',
          RetryState.NON_RETRYABLE_FAILURE,
          'worker',
          ApplicationFailure.nonRetryable(message, 'TargetNotFoundError'),
        ),
      ),
    );
    const refusal = new RemediationClient(temporal.client).clear('prod/Deployment/apj', 'x', 'a');
    await expect(refusal).rejects.toBeInstanceOf(TargetNotFoundError);
    await expect(refusal).rejects.toMatchObject({ refusedBy: 'worker', message });
  });

  it.each(['', '  '])('when by is %p then clear and override refuse naming by', async (by) => {
    const temporal = fakeTemporal({ describes: [] });
    const client = new RemediationClient(temporal.client);
    for (const call of [
      () => client.clear('prod/Deployment/api', 'x', by),
      () => client.override('r1', 'x', by),
    ]) {
      const error = (await call().catch((e: unknown) => e)) as InvalidRequestError;
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error.errors.map((e) => e.field)).toEqual(['by']);
    }
    expect(temporal.execute).not.toHaveBeenCalled();
  });

  it.each([
    ['a missing by', undefined, 'x', 'by', 'required', /^is required/],
    ['a by over 256 characters', 'b'.repeat(257), 'x', 'by', 'maxLength', /at most 256 characters, got 257/],
    ['a reason over 1024 characters', 'alice', 'r'.repeat(1025), 'reason', 'maxLength', /at most 1024/],
  ])(
    'when given %s then clear and override refuse naming the field and start nothing',
    async (_, by, reason, field, rule, message) => {
      const temporal = fakeTemporal({ describes: [] });
      const client = new RemediationClient(temporal.client);
      for (const call of [
        () => client.clear('prod/Deployment/api', reason, by as string),
        () => client.override('r1', reason, by as string),
      ]) {
        const error = (await call().catch((e: unknown) => e)) as InvalidRequestError;
        expect(error).toBeInstanceOf(InvalidRequestError);
        expect(error.errors).toEqual([{ field, rule, message: expect.stringMatching(message) as unknown }]);
        expect(error.message).toContain(`${field}: `);
      }
      expect(temporal.execute).not.toHaveBeenCalled();
    },
  );

  it('when by and reason are exactly at their bounds (in characters, not UTF-16 units) then clear goes ahead', async () => {
    const temporal = fakeTemporal({ describes: [] });
    temporal.execute.mockResolvedValue(cleared);
    const client = new RemediationClient(temporal.client);
    await expect(client.clear('prod/Deployment/api', 'é'.repeat(1024), '🔧'.repeat(256))).resolves.toEqual(
      cleared,
    );
  });
});

describe('target: the view of `remediate target --json`', () => {
  it('keeps every field it had and adds auditDropped, the count the bounded trail dropped', async () => {
    const key = 'prod/Deployment/api';
    const entry = { action: 'clear' as const, by: 'alice', reason: 'x', at: '2026-03-01T12:00:00.000Z' };
    const ledger = {
      getTarget: jest.fn(() =>
        Promise.resolve({ ...emptyTargetState(key), version: '9', audit: [entry], auditDropped: 12 }),
      ),
    } as unknown as Ledger;
    const view = await new RemediationClient(fakeTemporal({ describes: [] }).client, { ledger }).target(key);
    expect(Object.keys(view)).toEqual([
      'key',
      'consecutiveFailures',
      'nextAllowedExecution',
      'manualReviewRequired',
      'manualReview',
      'lock',
      'waiters',
      'fencingToken',
      'lastSuccess',
      'lastFailure',
      'audit',
      'auditDropped',
    ]);
    expect(view).toMatchObject({ audit: [entry], auditDropped: 12 });
  });
});
