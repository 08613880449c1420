/**
 * The ledger's transitions as tables: given a persisted state and one input at a fixed `now`,
 * the next state (the fields that matter), the verdict, the fencing token and the effects.
 * Invariant tags (I1 … I8) name the safety guarantee a row pins down.
 */
import { defaultPolicyConfig } from '../../../src/domain/config';
import {
  abandonRun,
  auditApproval,
  recordDryRun,
  auditOverride,
  beginRun,
  clearTarget,
  finishOnFingerprint,
  finishOnTarget,
  pruneWaiters,
  recordOutcome,
  route,
  routeQuestions,
  runsToObserve,
  wakeQuestions,
  type Caller,
  type Effect,
  type ObservedRun,
  type OutcomeInput,
} from '../../../src/domain/ledger';
import {
  type BlockReason,
  emptyFingerprintState,
  emptyTargetState,
  type Failure,
  type FingerprintState,
  type LockWaiter,
  type TargetLock,
  type TargetState,
  type UnsettledRun,
} from '../../../src/domain/model';
import type { RoutingVerdict } from '../../../src/domain/routing';

const T = Date.parse('2026-03-02T10:00:00.000Z');
const SEC = 1_000;
const MIN = 60 * SEC;
const at = (ms: number): string => new Date(ms).toISOString();
const policy = defaultPolicyConfig;
const KEY = 'prod/Deployment/api';
const DEADLINE = T + 60 * MIN;

const caller = (id: string): Caller => ({ remediationId: id, workflowId: `wf-${id}`, runId: 'run-1' });
const wf = (id: string): string => `wf-${id}`;

function target(patch: Partial<TargetState> = {}): TargetState {
  return { ...emptyTargetState(KEY), version: '7', ...patch };
}
function fingerprint(patch: Partial<FingerprintState> = {}): FingerprintState {
  return { ...emptyFingerprintState('prod/F', 'F'), ...patch };
}
function lock(id: string, fencingToken: number, run: TargetLock['run'] = null): TargetLock {
  return {
    remediationId: id,
    workflowId: wf(id),
    runId: 'run-1',
    acquiredAt: at(T - 10 * MIN),
    fencingToken,
    run,
  };
}
const runOf = (pipelineRun: string, notAfter = T + 20 * MIN) => ({ pipelineRun, notAfter: at(notAfter) });
function waiter(id: string, since = T - 5 * MIN, parked: LockWaiter['parked'] = null): LockWaiter {
  return { remediationId: id, workflowId: wf(id), since: at(since), parked };
}
const parkedUntil = (until: number, reason = 'ExponentialBackoff') => ({ reason, until: at(until) });
function unsettled(id: string, fencingToken: number, notAfter = T + 20 * MIN): UnsettledRun {
  return {
    remediationId: id,
    workflowId: wf(id),
    pipelineRun: `pr-${id}`,
    fencingToken,
    notAfter: at(notAfter),
    since: at(T - MIN),
  };
}
const claim = (id: string) => ({ remediationId: id, workflowId: wf(id), since: at(T - 3 * MIN) });

const stepFailed: Failure = {
  category: 'StepFailed',
  wasExecutionFailure: true,
  reason: 'Failed',
  message: 'step fix exited 1',
};
const imagePull: Failure = {
  category: 'ImagePullFailed',
  wasExecutionFailure: false,
  reason: 'TaskRunImagePullFailed',
  message: 'image not found',
};

/** The verdict without free text, for table comparison. */
function shape(v: RoutingVerdict) {
  switch (v.kind) {
    case 'run':
      return { kind: v.kind, takeover: v.takeover?.remediationId ?? null };
    case 'wait':
      return {
        kind: v.kind,
        reason: v.reason,
        blockKind: v.blockKind,
        until: v.until,
        recheckAt: v.recheckAt,
      };
    case 'end':
      return { kind: v.kind, reason: v.reason, blockedUntil: v.blockedUntil, duplicateOf: v.duplicateOf };
  }
}
const run = (takeover: string | null = null) => ({ kind: 'run' as const, takeover });
const waitLock = (recheckAt = T + policy.lockRecheckIntervalMs) => ({
  kind: 'wait' as const,
  reason: 'ResourceBusy' as const,
  blockKind: 'lock' as const,
  until: null,
  recheckAt,
});
const waitSettling = (recheckAt = T + policy.orphanRecheckIntervalMs) => waitLock(recheckAt);
const waitManual = (reason: BlockReason) => ({
  kind: 'wait' as const,
  reason,
  blockKind: 'manual' as const,
  until: null,
  recheckAt: T + policy.lockRecheckIntervalMs,
});
const waitTemporary = (reason: BlockReason, until: number) => ({
  kind: 'wait' as const,
  reason,
  blockKind: 'temporary' as const,
  until,
  recheckAt: until,
});
const wake = (id: string, cause: string): Effect => ({ kind: 'wake', workflowId: wf(id), cause });
const cancel = (pipelineRun: string, why: string): Effect => ({
  kind: 'cancelPipelineRun',
  pipelineRun,
  why,
});

// ------------------------------------------------------------------------------------ route

interface RouteRow {
  title: string;
  given: { target?: Partial<TargetState>; fingerprint?: Partial<FingerprintState> };
  caller?: string;
  closed?: string[];
  runs?: Record<string, ObservedRun>;
  now?: number;
  deadline?: number;
  actionId?: string;
  expect: {
    verdict: ReturnType<typeof shape>;
    fencingToken: number | null;
    target?: Record<string, unknown>;
    fingerprint?: Record<string, unknown>;
    effects: Effect[];
  };
}

function doRoute(
  row: Pick<RouteRow, 'given' | 'caller' | 'closed' | 'runs' | 'now' | 'deadline' | 'actionId'>,
) {
  const current = { target: target(row.given.target), fingerprint: fingerprint(row.given.fingerprint) };
  const result = route(
    current,
    {
      caller: caller(row.caller ?? 'A'),
      actionId: row.actionId ?? 'restart',
      deadline: row.deadline ?? DEADLINE,
      overrideActive: false,
    },
    { closed: new Set((row.closed ?? []).map(wf)), runs: new Map(Object.entries(row.runs ?? {})) },
    row.now ?? T,
    policy,
  );
  return { current, result };
}

const lockOfA = (fencingToken: number) => ({
  remediationId: 'A',
  workflowId: wf('A'),
  runId: 'run-1',
  acquiredAt: at(T),
  fencingToken,
  run: null,
});
const orphanSettled = (outcome: string, token = 4, id = 'B') =>
  expect.objectContaining({
    action: 'orphanSettled',
    by: 'A',
    at: at(T),
    details: { pipelineRun: `pr-${id}`, remediationId: id, fencingToken: token, outcome },
  });
const earlierClear = { action: 'clear' as const, by: 'alice', reason: 'checked', at: at(T - 60 * MIN) };
const takeoverAudit = (pipelineRun: string | null, token = 4, id = 'B') =>
  expect.objectContaining({
    action: 'lockTakeover',
    by: 'A',
    at: at(T),
    details: { previousHolder: id, previousToken: token, pipelineRun },
  });

describe('route', () => {
  const rows: RouteRow[] = [
    // --------------------------------------------------------------- the fingerprint claim
    {
      title: 'first pass on an empty ledger: claims the fingerprint and takes the lock with token 1',
      given: {},
      expect: {
        verdict: run(),
        fencingToken: 1,
        target: { lock: lockOfA(1), fencingToken: 1, waiters: [] },
        fingerprint: { active: { remediationId: 'A', workflowId: wf('A'), since: at(T) } },
        effects: [],
      },
    },
    {
      title: 'first pass that must wait still claims the fingerprint (a waiter counts as in progress)',
      given: { target: { nextAllowedExecution: at(T + 2 * MIN), consecutiveFailures: 1 } },
      expect: {
        verdict: waitTemporary('ExponentialBackoff', T + 2 * MIN),
        fencingToken: null,
        target: { lock: null, fencingToken: 0, waiters: [] },
        fingerprint: { active: { remediationId: 'A', workflowId: wf('A'), since: at(T) } },
        effects: [],
      },
    },
    {
      title: 'a pass of the claimant itself keeps the claim as it was',
      given: { fingerprint: { active: claim('A') } },
      expect: {
        verdict: run(),
        fencingToken: 1,
        fingerprint: { active: claim('A') },
        effects: [],
      },
    },
    {
      title: "I2: a closed claimant's claim is reclaimed by the next pass",
      given: { fingerprint: { active: claim('B') } },
      closed: ['B'],
      expect: {
        verdict: run(),
        fencingToken: 1,
        fingerprint: { active: { remediationId: 'A', workflowId: wf('A'), since: at(T) } },
        effects: [],
      },
    },
    // ------------------------------------------------------------ takeover of a closed holder
    {
      title:
        'I2: a closed holder without a run intent: lock freed, its token marked recorded, takeover audited, caller takes token+1',
      given: { target: { lock: lock('B', 4), fencingToken: 4, recordedThrough: 3, audit: [earlierClear] } },
      closed: ['B'],
      expect: {
        verdict: run('B'),
        fencingToken: 5,
        target: {
          lock: lockOfA(5),
          fencingToken: 5,
          recordedThrough: 4,
          unsettled: null,
          audit: [earlierClear, takeoverAudit(null)],
        },
        effects: [],
      },
    },
    {
      title:
        'I2: a freed lock the queue head cannot take (it waits on backoff): it parks and the next unparked waiter is woken',
      given: {
        target: {
          lock: lock('B', 4),
          fencingToken: 4,
          recordedThrough: 3,
          nextAllowedExecution: at(T + 2 * MIN),
          waiters: [waiter('A'), waiter('C')],
        },
      },
      closed: ['B'],
      expect: {
        verdict: waitTemporary('ExponentialBackoff', T + 2 * MIN),
        fencingToken: null,
        target: {
          lock: null,
          fencingToken: 4,
          recordedThrough: 4,
          waiters: [waiter('A', T - 5 * MIN, parkedUntil(T + 2 * MIN)), waiter('C')],
        },
        effects: [wake('C', 'the lock is free')],
      },
    },
    {
      title:
        'I1: a closed holder WITH a run intent becomes unsettled; the caller queues and waits ResourceBusy, polled at the orphan interval',
      given: {
        target: {
          lock: lock('B', 4, runOf('pr-B')),
          fencingToken: 4,
          recordedThrough: 3,
          waiters: [waiter('C')],
        },
      },
      closed: ['B'],
      expect: {
        verdict: waitSettling(),
        fencingToken: null,
        target: {
          lock: null,
          fencingToken: 4,
          recordedThrough: 3,
          unsettled: {
            remediationId: 'B',
            workflowId: wf('B'),
            pipelineRun: 'pr-B',
            fencingToken: 4,
            notAfter: at(T + 20 * MIN),
            since: at(T),
          },
          waiters: [waiter('C'), { remediationId: 'A', workflowId: wf('A'), since: at(T), parked: null }],
          audit: [takeoverAudit('pr-B')],
        },
        // Nobody is woken while the orphaned run may still be going.
        effects: [],
      },
    },
    {
      title: 'I1: the orphan poll is capped at the deadline',
      given: { target: { lock: lock('B', 4, runOf('pr-B')), fencingToken: 4, recordedThrough: 3 } },
      closed: ['B'],
      deadline: T + 2 * SEC,
      expect: {
        verdict: waitSettling(T + 2 * SEC),
        fencingToken: null,
        target: { lock: null, unsettled: expect.objectContaining({ pipelineRun: 'pr-B' }) },
        effects: [],
      },
    },
    {
      title:
        'I1: a closed holder whose run is observed succeeded in the same pass: settled, then the caller runs',
      given: {
        target: {
          lock: lock('B', 4, runOf('pr-B')),
          fencingToken: 4,
          recordedThrough: 3,
          audit: [earlierClear],
        },
      },
      closed: ['B'],
      runs: { 'pr-B': { state: 'succeeded' } },
      expect: {
        verdict: run('B'),
        fencingToken: 5,
        target: {
          lock: lockOfA(5),
          unsettled: null,
          recordedThrough: 4,
          lastSuccess: { actionId: '', remediationId: 'B', pipelineRun: 'pr-B', at: at(T) },
          audit: [earlierClear, takeoverAudit('pr-B'), orphanSettled('Succeeded')],
        },
        effects: [],
      },
    },
    {
      title: 'a live lock holder: the caller queues, waits ResourceBusy and nobody is woken',
      given: { target: { lock: lock('B', 4), fencingToken: 4 } },
      expect: {
        verdict: waitLock(),
        fencingToken: null,
        target: {
          lock: lock('B', 4),
          waiters: [{ remediationId: 'A', workflowId: wf('A'), since: at(T), parked: null }],
        },
        effects: [],
      },
    },
    // ------------------------------------------------------------------ settling an orphan
    {
      title:
        'I1/I3: unsettled run observed succeeded: recorded under its remediation and token, cleared, audited',
      given: {
        target: {
          unsettled: unsettled('B', 4),
          fencingToken: 4,
          recordedThrough: 3,
          consecutiveFailures: 2,
          nextAllowedExecution: at(T - MIN),
        },
      },
      runs: { 'pr-B': { state: 'succeeded' } },
      expect: {
        verdict: run(),
        fencingToken: 5,
        target: {
          unsettled: null,
          recordedThrough: 4,
          consecutiveFailures: 0,
          nextAllowedExecution: null,
          lastSuccess: { actionId: '', remediationId: 'B', pipelineRun: 'pr-B', at: at(T) },
          lock: lockOfA(5),
          audit: [orphanSettled('Succeeded')],
        },
        effects: [],
      },
    },
    {
      title:
        'I1/I3: unsettled run observed failed before user code: counter +1, backoff from the mid jitter sample',
      given: {
        target: {
          unsettled: unsettled('B', 4),
          fencingToken: 4,
          recordedThrough: 3,
          waiters: [waiter('A'), waiter('C')],
        },
      },
      runs: { 'pr-B': { state: 'failed', failure: imagePull } },
      expect: {
        // backoff(1) with sample 0.5 is exactly the base: 60s.
        verdict: waitTemporary('ExponentialBackoff', T + MIN),
        fencingToken: null,
        target: {
          unsettled: null,
          recordedThrough: 4,
          consecutiveFailures: 1,
          nextAllowedExecution: at(T + MIN),
          lastFailure: { ...imagePull, pipelineRun: 'pr-B', remediationId: 'B', at: at(T) },
          manualReview: null,
          audit: [orphanSettled('ImagePullFailed')],
          // The caller keeps its place at the head, parked for the backoff (I8).
          waiters: [waiter('A', T - 5 * MIN, parkedUntil(T + MIN)), waiter('C')],
        },
        // The target is free again: the queue head hears about it.
        effects: [wake('C', 'the lock is free')],
      },
    },
    {
      title: 'I1/I5: unsettled run observed failed after user code: manual review under the orphan',
      given: { target: { unsettled: unsettled('B', 4), fencingToken: 4, recordedThrough: 3 } },
      runs: { 'pr-B': { state: 'failed', failure: stepFailed } },
      expect: {
        verdict: waitManual('PreviousExecutionFailed'),
        fencingToken: null,
        target: {
          unsettled: null,
          recordedThrough: 4,
          consecutiveFailures: 0,
          manualReview: expect.objectContaining({ required: true, remediationId: 'B', since: at(T) }),
          lastFailure: expect.objectContaining({
            category: 'StepFailed',
            pipelineRun: 'pr-B',
            remediationId: 'B',
          }),
          audit: [orphanSettled('StepFailed')],
        },
        effects: [],
      },
    },
    {
      title: 'I6: unsettled run that disappeared: PipelineRunDeleted execution failure, manual review',
      given: { target: { unsettled: unsettled('B', 4), fencingToken: 4, recordedThrough: 3 } },
      runs: { 'pr-B': { state: 'missing' } },
      expect: {
        verdict: waitManual('PreviousExecutionFailed'),
        fencingToken: null,
        target: {
          unsettled: null,
          recordedThrough: 4,
          lastFailure: expect.objectContaining({
            category: 'PipelineRunDeleted',
            wasExecutionFailure: true,
            pipelineRun: 'pr-B',
            remediationId: 'B',
          }),
          manualReview: expect.objectContaining({ required: true, remediationId: 'B' }),
          audit: [orphanSettled('PipelineRunDeleted')],
        },
        effects: [],
      },
    },
    {
      title: 'I1: unsettled run still running before notAfter: keeps waiting, no cancel',
      given: { target: { unsettled: unsettled('B', 4), fencingToken: 4, recordedThrough: 3 } },
      runs: { 'pr-B': { state: 'running' } },
      expect: {
        verdict: waitSettling(),
        fencingToken: null,
        target: { unsettled: unsettled('B', 4), recordedThrough: 3, audit: [] },
        effects: [],
      },
    },
    {
      title: 'I4: unsettled run still running at notAfter: cancelled, still unsettled',
      given: { target: { unsettled: unsettled('B', 4, T), fencingToken: 4, recordedThrough: 3 } },
      runs: { 'pr-B': { state: 'running' } },
      expect: {
        verdict: waitSettling(),
        fencingToken: null,
        target: { unsettled: unsettled('B', 4, T), recordedThrough: 3, manualReview: null },
        effects: [cancel('pr-B', 'ran past its timeout plus the watch grace')],
      },
    },
    {
      title:
        'I4/I1: unsettled run still running at notAfter + watch grace: cancelled and counted as WatchTimedOut, but kept unsettled until it is seen to stop',
      given: {
        target: {
          unsettled: unsettled('B', 4, T - policy.watchGraceMs),
          fencingToken: 4,
          recordedThrough: 3,
        },
      },
      runs: { 'pr-B': { state: 'running' } },
      expect: {
        verdict: waitManual('PreviousExecutionFailed'),
        fencingToken: null,
        target: {
          unsettled: unsettled('B', 4, T - policy.watchGraceMs),
          recordedThrough: 4,
          lastFailure: expect.objectContaining({ category: 'WatchTimedOut', wasExecutionFailure: true }),
          manualReview: expect.objectContaining({ required: true, remediationId: 'B' }),
          audit: [],
        },
        effects: [cancel('pr-B', 'ran past its timeout plus the watch grace')],
      },
    },
    {
      title:
        'I1: unsettled run not observed (the store did not answer): keeps waiting, even long past notAfter',
      given: {
        target: {
          unsettled: unsettled('B', 4, T - 2 * policy.watchGraceMs),
          fencingToken: 4,
          recordedThrough: 3,
        },
      },
      expect: {
        verdict: waitSettling(),
        fencingToken: null,
        target: { unsettled: unsettled('B', 4, T - 2 * policy.watchGraceMs), recordedThrough: 3 },
        effects: [],
      },
    },
    {
      title: 'I3: an unsettled run whose token is already recorded is cleared without counting again',
      given: {
        target: { unsettled: unsettled('B', 4), fencingToken: 4, recordedThrough: 4, consecutiveFailures: 1 },
      },
      runs: { 'pr-B': { state: 'failed', failure: imagePull } },
      expect: {
        verdict: run(),
        fencingToken: 5,
        target: { unsettled: null, consecutiveFailures: 1, nextAllowedExecution: null, lastFailure: null },
        effects: [],
      },
    },
    // ------------------------------------------------------------------------- the queue
    {
      title: 'I8: an unparked waiter ahead blocks: the caller queues behind it and the head is woken',
      given: { target: { waiters: [waiter('B')] } },
      expect: {
        verdict: waitLock(),
        fencingToken: null,
        target: {
          lock: null,
          waiters: [waiter('B'), { remediationId: 'A', workflowId: wf('A'), since: at(T), parked: null }],
        },
        effects: [wake('B', 'the lock is free')],
      },
    },
    {
      title: 'I8: a parked waiter ahead does not block; its place is kept',
      given: { target: { waiters: [waiter('B', T - 5 * MIN, parkedUntil(T + MIN))], fencingToken: 2 } },
      expect: {
        verdict: run(),
        fencingToken: 3,
        target: { lock: lockOfA(3), waiters: [waiter('B', T - 5 * MIN, parkedUntil(T + MIN))] },
        effects: [],
      },
    },
    {
      title: 'I8: a waiter whose parking ran out (until = now) blocks again',
      given: { target: { waiters: [waiter('B', T - 5 * MIN, parkedUntil(T))] } },
      expect: {
        verdict: waitLock(),
        fencingToken: null,
        target: {
          waiters: [
            waiter('B', T - 5 * MIN, parkedUntil(T)),
            expect.objectContaining({ remediationId: 'A' }),
          ],
        },
        effects: [wake('B', 'the lock is free')],
      },
    },
    {
      title: 'I8: a queued waiter that meets a temporary block keeps its place, parked until recheckAt',
      given: {
        target: {
          waiters: [waiter('A'), waiter('C')],
          nextAllowedExecution: at(T + 2 * MIN),
          consecutiveFailures: 1,
        },
      },
      expect: {
        verdict: waitTemporary('ExponentialBackoff', T + 2 * MIN),
        fencingToken: null,
        target: {
          waiters: [
            waiter('A', T - 5 * MIN, { reason: 'ExponentialBackoff', until: at(T + 2 * MIN) }),
            waiter('C'),
          ],
        },
        effects: [wake('C', 'the lock is free')],
      },
    },
    {
      title: 'I8: a queued waiter that meets a manual block is parked until its recheck',
      given: {
        target: {
          waiters: [waiter('A')],
          manualReview: { required: true, reason: 'x', since: at(T - MIN), remediationId: 'old' },
        },
      },
      expect: {
        verdict: waitManual('PreviousExecutionFailed'),
        fencingToken: null,
        target: {
          waiters: [
            waiter('A', T - 5 * MIN, {
              reason: 'PreviousExecutionFailed',
              until: at(T + policy.lockRecheckIntervalMs),
            }),
          ],
        },
        effects: [],
      },
    },
    {
      title: 'a caller that is not queued and waits on another block passes the wake on to the queue head',
      given: {
        target: {
          waiters: [waiter('B')],
          manualReview: { required: true, reason: 'x', since: at(T - MIN), remediationId: 'old' },
        },
      },
      expect: {
        verdict: waitManual('PreviousExecutionFailed'),
        fencingToken: null,
        target: { waiters: [waiter('B')] },
        effects: [wake('B', 'the lock is free')],
      },
    },
    {
      title: 'ResourceBusy enqueues once: a queued (parked) waiter keeps its place and is unparked',
      given: {
        target: {
          lock: lock('B', 4),
          fencingToken: 4,
          waiters: [waiter('A', T - 5 * MIN, parkedUntil(T + MIN)), waiter('C')],
        },
      },
      expect: {
        verdict: waitLock(),
        fencingToken: null,
        target: { waiters: [waiter('A'), waiter('C')] },
        effects: [],
      },
    },
    {
      title: 'run: the head of the queue takes the lock with fencingToken + 1 and leaves the queue',
      given: { target: { waiters: [waiter('A'), waiter('C')], fencingToken: 7, recordedThrough: 7 } },
      expect: {
        verdict: run(),
        fencingToken: 8,
        target: { lock: lockOfA(8), fencingToken: 8, waiters: [waiter('C')] },
        effects: [],
      },
    },
    {
      title: 'a retried pass that already holds the lock keeps its token (no new acquisition)',
      given: { target: { lock: lock('A', 8), fencingToken: 8, recordedThrough: 7 } },
      expect: {
        verdict: run(),
        fencingToken: 8,
        target: { lock: lock('A', 8), fencingToken: 8 },
        effects: [],
      },
    },
    {
      title: 'I2: closed waiters are pruned wherever they stand; the live one ahead still blocks',
      given: { target: { waiters: [waiter('B'), waiter('C'), waiter('D')] } },
      closed: ['B', 'D'],
      expect: {
        verdict: waitLock(),
        fencingToken: null,
        target: { waiters: [waiter('C'), expect.objectContaining({ remediationId: 'A' })] },
        effects: [wake('C', 'the lock is free')],
      },
    },
    {
      title: 'I2: a dead queue head does not hold back the next live one',
      given: { target: { waiters: [waiter('B'), waiter('A')], fencingToken: 1, recordedThrough: 1 } },
      closed: ['B'],
      expect: { verdict: run(), fencingToken: 2, target: { waiters: [], lock: lockOfA(2) }, effects: [] },
    },
    {
      title: 'an end at the deadline leaves the queue; the lock holder is not woken',
      given: { target: { lock: lock('B', 4), fencingToken: 4, waiters: [waiter('A'), waiter('C')] } },
      now: DEADLINE,
      expect: {
        verdict: { kind: 'end', reason: 'ResourceBusy', blockedUntil: null, duplicateOf: null },
        fencingToken: null,
        target: { waiters: [waiter('C')], lock: lock('B', 4) },
        effects: [],
      },
    },
    {
      title: 'a temporary block beyond the deadline ends at once, leaves the queue and passes the wake on',
      given: {
        target: {
          waiters: [waiter('A'), waiter('C')],
          nextAllowedExecution: at(DEADLINE + MIN),
          consecutiveFailures: 3,
        },
      },
      expect: {
        verdict: {
          kind: 'end',
          reason: 'ExponentialBackoff',
          blockedUntil: DEADLINE + MIN,
          duplicateOf: null,
        },
        fencingToken: null,
        target: { waiters: [waiter('C')] },
        effects: [wake('C', 'the lock is free')],
      },
    },
  ];

  it.each(rows)('$title', (row) => {
    const { result } = doRoute(row);
    expect(shape(result.verdict)).toEqual(row.expect.verdict);
    expect(result.fencingToken).toBe(row.expect.fencingToken);
    if (row.expect.target) expect(result.target).toMatchObject(row.expect.target);
    if (row.expect.fingerprint) expect(result.fingerprint).toMatchObject(row.expect.fingerprint);
    expect(result.effects).toEqual(row.expect.effects);
  });

  it('S6: a duplicate writes nothing and notifies the original, even when the pass found things to reclaim', () => {
    const { current, result } = doRoute({
      given: {
        target: { lock: lock('B', 4), fencingToken: 4, waiters: [waiter('D')] },
        fingerprint: { active: claim('C') },
      },
      closed: ['B', 'D'],
    });
    expect(shape(result.verdict)).toEqual({
      kind: 'end',
      reason: 'DuplicateInProgress',
      blockedUntil: null,
      duplicateOf: 'C',
    });
    expect(result.fencingToken).toBeNull();
    // The very same objects: the activity sees nothing to write.
    expect(result.target).toBe(current.target);
    expect(result.fingerprint).toBe(current.fingerprint);
    expect(result.effects).toEqual([
      { kind: 'notifyDuplicate', workflowId: wf('C'), remediationId: 'A', at: at(T) },
    ]);
  });

  it('the verdict carries the taken-over lock (for status and audit)', () => {
    const { result } = doRoute({ given: { target: { lock: lock('B', 4), fencingToken: 4 } }, closed: ['B'] });
    expect(result.verdict.kind === 'run' && result.verdict.takeover).toEqual(lock('B', 4));
  });

  it('does not mutate its input', () => {
    const given = {
      target: { lock: lock('B', 4, runOf('pr-B')), fencingToken: 4, waiters: [waiter('C'), waiter('D')] },
      fingerprint: { active: claim('B') },
    };
    const { current } = doRoute({ given, closed: ['B', 'D'] });
    expect(current.target).toEqual(target(given.target));
    expect(current.fingerprint).toEqual(fingerprint(given.fingerprint));
  });

  // A retried routing pass (the write landed, the reply was lost) finds the lock already its own.
  // Remediations that queued behind the lock in between must not hold the holder back: it carries
  // on with its token (found by this table: it used to queue behind them, and the target stalled).
  it('a retried pass holding the lock runs on even when others queued behind it', () => {
    const { result } = doRoute({
      given: {
        target: { lock: lock('A', 8), fencingToken: 8, recordedThrough: 7, waiters: [waiter('C')] },
      },
    });
    expect(shape(result.verdict)).toEqual(run());
    expect(result.fencingToken).toBe(8);
  });
});

describe('routeQuestions / runsToObserve / wakeQuestions / pruneWaiters', () => {
  it.each([
    {
      title: 'asks about another holder, another claimant and every unparked waiter when not queued',
      target: {
        lock: lock('B', 3),
        waiters: [waiter('C'), waiter('D', T, parkedUntil(T + MIN)), waiter('E')],
      },
      fingerprint: { active: claim('F') },
      expected: {
        lockHolder: { workflowId: wf('B'), runId: 'run-1' },
        claimant: wf('F'),
        queue: [wf('C'), wf('E')],
      },
    },
    {
      title: 'asks nothing about itself; only the waiters ahead of its own place',
      target: { lock: lock('A', 3), waiters: [waiter('C'), waiter('A'), waiter('E')] },
      fingerprint: { active: claim('A') },
      expected: { lockHolder: null, claimant: null, queue: [wf('C')] },
    },
    {
      title: 'a lock of the same workflow but another run is a different holder',
      target: { lock: { ...lock('A', 3), runId: 'run-0' } },
      fingerprint: {},
      expected: { lockHolder: { workflowId: wf('A'), runId: 'run-0' }, claimant: null, queue: [] },
    },
  ])('$title', ({ target: t, fingerprint: f, expected }) => {
    expect(routeQuestions(target(t), fingerprint(f), caller('A'), T)).toEqual(expected);
  });

  it('runsToObserve: the unsettled run and a closed holder’s begun run, nothing for a live holder', () => {
    const t = target({ lock: lock('B', 4, runOf('pr-B')), unsettled: unsettled('Z', 2) });
    expect(runsToObserve(t, new Set([wf('B')]))).toEqual(['pr-Z', 'pr-B']);
    expect(runsToObserve(t, new Set())).toEqual(['pr-Z']);
    expect(runsToObserve(target({ lock: lock('B', 4) }), new Set([wf('B')]))).toEqual([]);
  });

  it('wakeQuestions: unparked waiters in queue order', () => {
    const t = target({
      waiters: [waiter('B', T, parkedUntil(T + 1)), waiter('C'), waiter('D', T, parkedUntil(T))],
    });
    expect(wakeQuestions(t, T)).toEqual([wf('C'), wf('D')]);
  });

  it('pruneWaiters: drops closed waiters anywhere, and returns the same object when none is closed', () => {
    const t = target({ waiters: [waiter('B'), waiter('C'), waiter('D')] });
    expect(pruneWaiters(t, new Set([wf('B'), wf('D')])).waiters).toEqual([waiter('C')]);
    expect(pruneWaiters(t, new Set([wf('X')]))).toBe(t);
  });
});

// --------------------------------------------------------------------------------- beginRun

describe('beginRun', () => {
  const intent = (patch: Partial<Parameters<typeof beginRun>[1]> = {}) => ({
    remediationId: 'A',
    fencingToken: 5,
    pipelineRun: 'pr-A-5',
    notAfter: T + 35 * MIN,
    deadline: DEADLINE,
    ...patch,
  });
  it.each([
    {
      title: 'I4: refused at the deadline, even for the lock holder',
      state: { lock: lock('A', 5) },
      input: intent({ deadline: T }),
      expected: { kind: 'refused', reason: 'DeadlineExceeded' },
    },
    {
      title: 'I4: refused after the deadline',
      state: { lock: lock('A', 5) },
      input: intent({ deadline: T - 1 }),
      expected: { kind: 'refused', reason: 'DeadlineExceeded' },
    },
    {
      title: 'LockLost: the lock is free',
      state: {},
      input: intent(),
      expected: { kind: 'refused', reason: 'LockLost' },
    },
    {
      title: 'LockLost: the lock was taken over by another remediation',
      state: { lock: lock('B', 6) },
      input: intent(),
      expected: { kind: 'refused', reason: 'LockLost' },
    },
    {
      title: 'LockLost: the lock is ours but from another acquisition (token)',
      state: { lock: lock('A', 6) },
      input: intent(),
      expected: { kind: 'refused', reason: 'LockLost' },
    },
    {
      title: 'I1: writes the run intent on the lock one ms before the deadline',
      state: { lock: lock('A', 5) },
      input: intent({ deadline: T + 1 }),
      expected: {
        kind: 'begin',
        changed: true,
        target: { lock: { ...lock('A', 5), run: { pipelineRun: 'pr-A-5', notAfter: at(T + 35 * MIN) } } },
      },
    },
  ])('$title', ({ state, input, expected }) => {
    expect(beginRun(target(state), input, T)).toMatchObject(expected);
  });

  it('the refusal message names the holder and token', () => {
    const result = beginRun(target({ lock: lock('B', 6) }), intent(), T);
    expect(result.kind === 'refused' && result.message).toMatch(
      /held by B with fencing token 6.*not by A with token 5/,
    );
  });

  it('is idempotent: a retried begin with the same PipelineRun changes nothing', () => {
    const first = beginRun(target({ lock: lock('A', 5) }), intent(), T);
    if (first.kind !== 'begin') throw new Error('expected begin');
    const again = beginRun(first.target, intent({ notAfter: T + 99 * MIN }), T + SEC);
    expect(again).toEqual({ kind: 'begin', target: first.target, changed: false });
    if (again.kind === 'begin') expect(again.target).toBe(first.target);
  });
});

describe('abandonRun', () => {
  const begun = () => target({ lock: lock('A', 5, runOf('pr-A-5')) });
  const input = { remediationId: 'A', fencingToken: 5, pipelineRun: 'pr-A-5' };
  it('withdraws this acquisition’s run intent, keeping the lock', () => {
    expect(abandonRun(begun(), input)).toEqual({
      target: target({ lock: lock('A', 5, null) }),
      changed: true,
    });
  });
  it.each([
    { title: 'another PipelineRun', state: begun(), input: { ...input, pipelineRun: 'pr-A-other' } },
    { title: 'another token', state: begun(), input: { ...input, fencingToken: 4 } },
    { title: 'another remediation', state: begun(), input: { ...input, remediationId: 'B' } },
    { title: 'no intent', state: target({ lock: lock('A', 5) }), input },
    { title: 'no lock', state: target(), input },
  ])('changes nothing for $title', ({ state, input: i }) => {
    const result = abandonRun(state, i);
    expect(result.changed).toBe(false);
    expect(result.target).toBe(state);
  });
});

// ---------------------------------------------------------------------------- recordOutcome

describe('recordOutcome', () => {
  const outcome = (patch: Partial<OutcomeInput> = {}): OutcomeInput => ({
    remediationId: 'A',
    actionId: 'restart',
    pipelineRun: 'pr-A-5',
    fencingToken: 5,
    outcome: { succeeded: true },
    jitterSample: 0.5,
    ...patch,
  });
  const holding = (patch: Partial<TargetState> = {}) =>
    target({ lock: lock('A', 5, runOf('pr-A-5')), fencingToken: 5, recordedThrough: 4, ...patch });

  interface RecordRow {
    title: string;
    state: TargetState;
    input: OutcomeInput;
    retry?: boolean;
    expect: {
      recorded: boolean;
      backoffMs: number | null;
      target: Record<string, unknown>;
      effects: Effect[];
    };
  }
  const rows: RecordRow[] = [
    {
      title:
        'S16: success resets the counters, sets lastSuccess, releases and wakes the next unparked waiter',
      state: holding({
        consecutiveFailures: 3,
        nextAllowedExecution: at(T - MIN),
        waiters: [waiter('B', T, parkedUntil(T + MIN)), waiter('C')],
      }),
      input: outcome(),
      expect: {
        recorded: true,
        backoffMs: null,
        target: {
          consecutiveFailures: 0,
          nextAllowedExecution: null,
          lastSuccess: { actionId: 'restart', remediationId: 'A', pipelineRun: 'pr-A-5', at: at(T) },
          recordedThrough: 5,
          lock: null,
          manualReview: null,
        },
        effects: [wake('C', 'lock released')],
      },
    },
    {
      title:
        'S13: pre-execution failure: counter +1, next allowed from the jitter sample (n=2, sample 0.75 → 126s)',
      state: holding({ consecutiveFailures: 1, nextAllowedExecution: at(T - MIN) }),
      input: outcome({ outcome: { succeeded: false, failure: imagePull }, jitterSample: 0.75 }),
      expect: {
        recorded: true,
        backoffMs: 126 * SEC,
        target: {
          consecutiveFailures: 2,
          nextAllowedExecution: at(T + 126 * SEC),
          lastFailure: { ...imagePull, pipelineRun: 'pr-A-5', remediationId: 'A', at: at(T) },
          manualReview: null,
          recordedThrough: 5,
          lock: null,
        },
        effects: [],
      },
    },
    {
      title: 'S13: first pre-execution failure with the lowest sample is clamped to the base (60s)',
      state: holding(),
      input: outcome({ outcome: { succeeded: false, failure: imagePull }, jitterSample: 0 }),
      expect: {
        recorded: true,
        backoffMs: 60 * SEC,
        target: { consecutiveFailures: 1, nextAllowedExecution: at(T + 60 * SEC) },
        effects: [],
      },
    },
    {
      title: 'S15: execution failure sets manual review; counters untouched',
      state: holding({ consecutiveFailures: 2, nextAllowedExecution: at(T - MIN) }),
      input: outcome({ outcome: { succeeded: false, failure: stepFailed } }),
      expect: {
        recorded: true,
        backoffMs: null,
        target: {
          consecutiveFailures: 2,
          nextAllowedExecution: at(T - MIN),
          manualReview: {
            required: true,
            reason: 'StepFailed (Failed) in PipelineRun pr-A-5: step fix exited 1',
            since: at(T),
            remediationId: 'A',
          },
          lastFailure: { ...stepFailed, pipelineRun: 'pr-A-5', remediationId: 'A', at: at(T) },
          recordedThrough: 5,
          lock: null,
        },
        effects: [],
      },
    },
    {
      title: 'S18: cancelled marks the token recorded without touching counters, releases and wakes',
      state: holding({ consecutiveFailures: 2, nextAllowedExecution: at(T + MIN), waiters: [waiter('B')] }),
      input: outcome({ outcome: { cancelled: true } }),
      expect: {
        recorded: true,
        backoffMs: null,
        target: {
          consecutiveFailures: 2,
          nextAllowedExecution: at(T + MIN),
          lastFailure: null,
          lastSuccess: null,
          manualReview: null,
          recordedThrough: 5,
          lock: null,
        },
        effects: [wake('B', 'lock released')],
      },
    },
    {
      title: 'I3/I5: a retried record after an operator clear does not set manual review again',
      state: target({
        fencingToken: 5,
        recordedThrough: 5,
        manualReview: null,
        lastFailure: { ...stepFailed, pipelineRun: 'pr-A-5', remediationId: 'A', at: at(T - MIN) },
      }),
      input: outcome({ outcome: { succeeded: false, failure: stepFailed } }),
      expect: {
        recorded: false,
        backoffMs: null,
        target: { manualReview: null, recordedThrough: 5, consecutiveFailures: 0 },
        effects: [],
      },
    },
    {
      title: 'I3: a retried record after another remediation recorded does not count twice',
      state: target({
        fencingToken: 6,
        recordedThrough: 6,
        consecutiveFailures: 2,
        nextAllowedExecution: at(T + 2 * MIN),
        lastFailure: { ...imagePull, pipelineRun: 'pr-B-6', remediationId: 'B', at: at(T - SEC) },
      }),
      input: outcome({ outcome: { succeeded: false, failure: imagePull } }),
      expect: {
        recorded: false,
        backoffMs: null,
        target: {
          consecutiveFailures: 2,
          nextAllowedExecution: at(T + 2 * MIN),
          lastFailure: expect.objectContaining({ pipelineRun: 'pr-B-6' }),
          recordedThrough: 6,
        },
        effects: [],
      },
    },
    {
      title: 'I3: a record whose token is ≤ recordedThrough changes nothing but still releases its own lock',
      state: holding({ recordedThrough: 5, consecutiveFailures: 1, waiters: [waiter('B')] }),
      input: outcome({ outcome: { succeeded: false, failure: imagePull } }),
      expect: {
        recorded: false,
        backoffMs: null,
        target: { consecutiveFailures: 1, nextAllowedExecution: null, lastFailure: null, lock: null },
        effects: [wake('B', 'lock released')],
      },
    },
    {
      title: 'I3: a record of a PipelineRun already recorded (by name) changes nothing',
      state: target({
        fencingToken: 9,
        recordedThrough: 0,
        lastSuccess: { actionId: 'restart', remediationId: 'A', pipelineRun: 'pr-A-5', at: at(T - MIN) },
      }),
      input: outcome({ fencingToken: 9, outcome: { succeeded: false, failure: stepFailed } }),
      expect: {
        recorded: false,
        backoffMs: null,
        target: { manualReview: null, recordedThrough: 0 },
        effects: [],
      },
    },
    {
      title: 'fencing: a late record does not release a lock taken over by someone else, and wakes nobody',
      state: target({ lock: lock('C', 7), fencingToken: 7, recordedThrough: 6, waiters: [waiter('B')] }),
      input: outcome(),
      retry: true,
      expect: { recorded: false, backoffMs: null, target: { lock: lock('C', 7) }, effects: [] },
    },
    {
      title: 'fencing: a record of an older token of the same remediation leaves its newer lock alone',
      state: target({ lock: lock('A', 8), fencingToken: 8, recordedThrough: 7 }),
      input: outcome(),
      expect: { recorded: false, backoffMs: null, target: { lock: lock('A', 8) }, effects: [] },
    },
    {
      title: 'I1: a late record by the orphan itself records and clears unsettled',
      state: target({ unsettled: unsettled('B', 4), fencingToken: 4, recordedThrough: 3 }),
      input: outcome({ remediationId: 'B', pipelineRun: 'pr-B', fencingToken: 4 }),
      expect: {
        recorded: true,
        backoffMs: null,
        target: {
          unsettled: null,
          recordedThrough: 4,
          lastSuccess: expect.objectContaining({ remediationId: 'B', pipelineRun: 'pr-B' }),
        },
        effects: [],
      },
    },
    {
      title:
        'I1: a late retried record by the orphan (already settled by someone else) still clears unsettled',
      state: target({ unsettled: unsettled('B', 4), fencingToken: 4, recordedThrough: 4 }),
      input: outcome({ remediationId: 'B', pipelineRun: 'pr-B', fencingToken: 4 }),
      expect: {
        recorded: false,
        backoffMs: null,
        target: { unsettled: null, lastSuccess: null },
        effects: [],
      },
    },
    {
      title: 'a record for another remediation’s unsettled token does not clear it',
      state: target({ unsettled: unsettled('B', 4), fencingToken: 4, recordedThrough: 4 }),
      input: outcome({ remediationId: 'A', fencingToken: 4 }),
      expect: { recorded: false, backoffMs: null, target: { unsettled: unsettled('B', 4) }, effects: [] },
    },
    {
      title: 'a retried record (retry=true) finding the lock already free wakes the next unparked waiter',
      state: target({
        fencingToken: 5,
        recordedThrough: 5,
        waiters: [waiter('B', T, parkedUntil(T + MIN)), waiter('C')],
      }),
      input: outcome(),
      retry: true,
      expect: {
        recorded: false,
        backoffMs: null,
        target: { lock: null },
        effects: [wake('C', 'lock released (retried record)')],
      },
    },
    {
      title: 'a first attempt (retry=false) finding the lock already free wakes nobody',
      state: target({ fencingToken: 5, recordedThrough: 5, waiters: [waiter('C')] }),
      input: outcome(),
      expect: { recorded: false, backoffMs: null, target: { lock: null }, effects: [] },
    },
    {
      title: 'a retried record wakes nobody while an unsettled run is pending',
      state: target({
        fencingToken: 5,
        recordedThrough: 5,
        unsettled: unsettled('Z', 5),
        waiters: [waiter('C')],
      }),
      input: outcome({ fencingToken: 3 }),
      retry: true,
      expect: { recorded: false, backoffMs: null, target: { unsettled: unsettled('Z', 5) }, effects: [] },
    },
  ];

  it.each(rows)('$title', (row) => {
    const result = recordOutcome(row.state, row.input, T, policy, row.retry ?? false);
    expect(result.recorded).toBe(row.expect.recorded);
    expect(result.backoffMs).toBe(row.expect.backoffMs);
    expect(result.target).toMatchObject(row.expect.target);
    expect(result.effects).toEqual(row.expect.effects);
  });

  it('I3: a record already seen returns the very same state when it holds nothing', () => {
    const state = target({ fencingToken: 5, recordedThrough: 5, consecutiveFailures: 2 });
    const result = recordOutcome(
      state,
      outcome({ outcome: { succeeded: false, failure: stepFailed } }),
      T,
      policy,
      true,
    );
    expect(result.target).toBe(state);
  });

  it('I3: recording the same outcome twice equals recording it once (except the lock release)', () => {
    const input = outcome({ outcome: { succeeded: false, failure: imagePull }, jitterSample: 0.3 });
    const once = recordOutcome(holding(), input, T, policy);
    const twice = recordOutcome(once.target, input, T + MIN, policy, true);
    expect(twice.target).toEqual(once.target);
    expect(twice.recorded).toBe(false);
  });

  // The orphan's own late record frees the target (unsettled cleared, no lock): like every other
  // release it wakes the queue head (found by this table: it used to wake nobody).
  it('a late record by the orphan that clears unsettled wakes the queue head', () => {
    const state = target({
      unsettled: unsettled('B', 4),
      fencingToken: 4,
      recordedThrough: 3,
      waiters: [waiter('C')],
    });
    const result = recordOutcome(
      state,
      outcome({ remediationId: 'B', pipelineRun: 'pr-B', fencingToken: 4 }),
      T,
      policy,
    );
    expect(result.effects).toEqual([expect.objectContaining({ kind: 'wake', workflowId: wf('C') })]);
  });
});

// ---------------------------------------------------------------------------- finishOnTarget

describe('finishOnTarget', () => {
  interface FinishRow {
    title: string;
    state: TargetState;
    who?: string;
    retry?: boolean;
    expect: { changed: boolean; target: Record<string, unknown>; effects: Effect[] };
  }
  const rows: FinishRow[] = [
    {
      title: 'a waiter leaves the queue; with the lock free the next waiter (not itself) is woken',
      state: target({ waiters: [waiter('A'), waiter('B')] }),
      expect: {
        changed: true,
        target: { waiters: [waiter('B')], lock: null },
        effects: [wake('B', 'A finished')],
      },
    },
    {
      title: 'a waiter leaves the queue; the lock held by another is left alone and nobody is woken',
      state: target({ lock: lock('C', 3), waiters: [waiter('A'), waiter('B')] }),
      expect: { changed: true, target: { waiters: [waiter('B')], lock: lock('C', 3) }, effects: [] },
    },
    {
      title: 'the holder without a run intent frees the lock and marks its token recorded',
      state: target({ lock: lock('A', 5), fencingToken: 5, recordedThrough: 4, waiters: [waiter('B')] }),
      expect: {
        changed: true,
        target: { lock: null, recordedThrough: 5, unsettled: null, waiters: [waiter('B')] },
        effects: [wake('B', 'A finished')],
      },
    },
    {
      title: 'I1: the holder with an unrecorded run intent leaves it unsettled instead of freeing the target',
      state: target({
        lock: lock('A', 5, runOf('pr-A-5')),
        fencingToken: 5,
        recordedThrough: 4,
        waiters: [waiter('B')],
      }),
      expect: {
        changed: true,
        target: {
          lock: null,
          recordedThrough: 4,
          unsettled: {
            remediationId: 'A',
            workflowId: wf('A'),
            pipelineRun: 'pr-A-5',
            fencingToken: 5,
            notAfter: at(T + 20 * MIN),
            since: at(T),
          },
        },
        effects: [],
      },
    },
    {
      title: 'the holder whose run was recorded frees the lock, nothing unsettled',
      state: target({
        lock: lock('A', 5, runOf('pr-A-5')),
        fencingToken: 5,
        recordedThrough: 5,
        waiters: [waiter('B')],
      }),
      expect: {
        changed: true,
        target: { lock: null, recordedThrough: 5, unsettled: null },
        effects: [wake('B', 'A finished')],
      },
    },
    {
      title: 'the holder skips parked waiters when waking',
      state: target({
        lock: lock('A', 5),
        fencingToken: 5,
        waiters: [waiter('B', T, parkedUntil(T + MIN)), waiter('C')],
      }),
      expect: { changed: true, target: { lock: null }, effects: [wake('C', 'A finished')] },
    },
    {
      title: 'neither holder nor queued: nothing changes, nobody woken',
      state: target({ waiters: [waiter('B')] }),
      expect: { changed: false, target: { waiters: [waiter('B')] }, effects: [] },
    },
    {
      title: 'a retried finish (the first released and died before waking) wakes the next waiter',
      state: target({ waiters: [waiter('B')] }),
      retry: true,
      expect: {
        changed: false,
        target: { waiters: [waiter('B')] },
        effects: [wake('B', 'A finished (retried)')],
      },
    },
    {
      title: 'a retried finish wakes nobody while the lock is held by another',
      state: target({ lock: lock('C', 2), waiters: [waiter('B')] }),
      retry: true,
      expect: { changed: false, target: { lock: lock('C', 2) }, effects: [] },
    },
    {
      title: 'a retried finish wakes nobody while an unsettled run is pending',
      state: target({ unsettled: unsettled('Z', 2), waiters: [waiter('B')] }),
      retry: true,
      expect: { changed: false, target: { unsettled: unsettled('Z', 2) }, effects: [] },
    },
    {
      title: 'a lock of another workflow with the same remediation id is not ours',
      state: target({ lock: { ...lock('A', 5), workflowId: 'wf-other' } }),
      expect: { changed: false, target: { lock: { ...lock('A', 5), workflowId: 'wf-other' } }, effects: [] },
    },
  ];
  it.each(rows)('$title', (row) => {
    const result = finishOnTarget(
      row.state,
      { caller: caller(row.who ?? 'A'), phase: 'Completed' },
      T,
      row.retry ?? false,
    );
    expect(result.changed).toBe(row.expect.changed);
    expect(result.target).toMatchObject(row.expect.target);
    expect(result.effects).toEqual(row.expect.effects);
    if (!row.expect.changed) expect(result.target).toBe(row.state);
  });
});

// ----------------------------------------------------------------------- finishOnFingerprint

describe('finishOnFingerprint', () => {
  const claimed = (patch: Partial<FingerprintState> = {}) =>
    fingerprint({
      active: claim('A'),
      consecutiveFailedRemediations: 2,
      lastFailureAt: at(T - 30 * MIN),
      duplicates: { count: 2, lastAt: at(T - 20 * MIN) },
      ...patch,
    });
  it.each([
    {
      title: 'Failed: counter +1, lastFailureAt = now, claim released',
      phase: 'Failed' as const,
      expected: { active: null, consecutiveFailedRemediations: 3, lastFailureAt: at(T) },
    },
    {
      title: 'Completed: counter back to 0, lastFailureAt kept',
      phase: 'Completed' as const,
      expected: { active: null, consecutiveFailedRemediations: 0, lastFailureAt: at(T - 30 * MIN) },
    },
    {
      title: 'Skipped: counter untouched',
      phase: 'Skipped' as const,
      expected: { active: null, consecutiveFailedRemediations: 2, lastFailureAt: at(T - 30 * MIN) },
    },
    {
      title: 'Cancelled: counter untouched',
      phase: 'Cancelled' as const,
      expected: { active: null, consecutiveFailedRemediations: 2, lastFailureAt: at(T - 30 * MIN) },
    },
  ])('the claimant: $title', ({ phase, expected }) => {
    const result = finishOnFingerprint(claimed(), { caller: caller('A'), phase }, T);
    expect(result.changed).toBe(true);
    expect(result.fingerprint).toMatchObject({
      ...expected,
      duplicates: { count: 2, lastAt: at(T - 20 * MIN) },
    });
  });

  it('S35 Completed but Ineffective (verification): counted as a failed remediation for the breaker', () => {
    const result = finishOnFingerprint(
      claimed(),
      { caller: caller('A'), phase: 'Completed', ineffective: true },
      T,
    );
    expect(result.fingerprint).toMatchObject({
      active: null,
      consecutiveFailedRemediations: 3,
      lastFailureAt: at(T),
    });
  });

  it.each(['Failed', 'Completed'] as const)(
    'a non-claimant finishing %s moves nothing (a duplicate, or a retried release)',
    (phase) => {
      const state = claimed({ active: claim('B') });
      const result = finishOnFingerprint(state, { caller: caller('A'), phase }, T);
      expect(result).toEqual({ fingerprint: state, changed: false });
      const released = claimed({ active: null });
      expect(finishOnFingerprint(released, { caller: caller('A'), phase }, T).fingerprint).toBe(released);
    },
  );

  it('S6: the duplicates the claimant counted are added to the persisted count', () => {
    const result = finishOnFingerprint(
      claimed(),
      { caller: caller('A'), phase: 'Completed', duplicates: { count: 3, lastAt: at(T - MIN) } },
      T,
    );
    expect(result.fingerprint.duplicates).toEqual({ count: 5, lastAt: at(T - MIN) });
  });

  it('S6: zero duplicates leave the persisted count as it was', () => {
    const result = finishOnFingerprint(
      claimed(),
      { caller: caller('A'), phase: 'Completed', duplicates: { count: 0, lastAt: null } },
      T,
    );
    expect(result.fingerprint.duplicates).toEqual({ count: 2, lastAt: at(T - 20 * MIN) });
  });
});

// ------------------------------------------------------------------------ operator actions

describe('clearTarget', () => {
  it('refuses a target that has no record, naming the key', () => {
    const result = clearTarget({ ...emptyTargetState(KEY) }, { by: 'alice', reason: 'fixed' }, T);
    expect(result).toEqual({
      kind: 'notFound',
      message: expect.stringContaining(`target ${KEY} has no ledger record`),
    });
  });

  it('S7/S9: lifts manual review and ExhaustedRetries, unparks every waiter, audits who/when/why', () => {
    const lastFailure = { ...stepFailed, pipelineRun: 'pr-B', remediationId: 'B', at: at(T - MIN) };
    const state = target({
      consecutiveFailures: 5,
      nextAllowedExecution: at(T + 5 * MIN),
      manualReview: { required: true, reason: 'StepFailed', since: at(T - MIN), remediationId: 'B' },
      lastFailure,
      lock: lock('C', 3),
      unsettled: unsettled('Z', 2),
      fencingToken: 3,
      recordedThrough: 2,
      waiters: [waiter('D', T - MIN, parkedUntil(T + MIN, 'PreviousExecutionFailed')), waiter('E')],
    });
    const result = clearTarget(state, { by: 'alice', reason: 'rolled back by hand' }, T);
    expect(result).toEqual({
      kind: 'cleared',
      before: { manualReviewRequired: true, consecutiveFailures: 5, nextAllowedExecution: at(T + 5 * MIN) },
      target: {
        ...state,
        manualReview: null,
        consecutiveFailures: 0,
        nextAllowedExecution: null,
        waiters: [waiter('D', T - MIN), waiter('E')],
        audit: [
          { action: 'clear', by: 'alice', reason: 'rolled back by hand', at: at(T), remediationId: 'alice' },
        ],
      },
    });
    // The lock, the unsettled run, the failure history and the fencing are not an operator's to lift.
    if (result.kind === 'cleared') {
      expect(result.target.lock).toEqual(lock('C', 3));
      expect(result.target.unsettled).toEqual(unsettled('Z', 2));
      expect(result.target.lastFailure).toEqual(lastFailure);
      expect(result.target.recordedThrough).toBe(2);
    }
  });

  it('clearing a clean target still audits', () => {
    const result = clearTarget(target(), { by: 'bob', reason: 'just in case' }, T);
    expect(result).toMatchObject({
      kind: 'cleared',
      before: { manualReviewRequired: false, consecutiveFailures: 0, nextAllowedExecution: null },
      target: { audit: [expect.objectContaining({ action: 'clear', by: 'bob' })] },
    });
  });
});

describe('auditOverride', () => {
  it('appends an override entry naming the remediation and what it skips', () => {
    const state = target({ audit: [{ action: 'clear', by: 'x', reason: 'y', at: at(T - MIN) }] });
    const next = auditOverride(
      state,
      { remediationId: 'A', by: 'alice', reason: 'urgent', skips: 'RecentlyRemediated' },
      T,
    );
    expect(next.audit).toEqual([
      state.audit[0],
      {
        action: 'override',
        by: 'alice',
        reason: 'urgent',
        at: at(T),
        remediationId: 'A',
        details: { skips: 'RecentlyRemediated' },
      },
    ]);
    expect(state.audit).toHaveLength(1);
  });
});

describe('approval and dry runs in the ledger (docs/behaviour.md#verification-approval-dry-run)', () => {
  const caller = { remediationId: 'r1', workflowId: 'remediation-r1', runId: 'run-1' };
  const T0 = Date.parse('2026-01-01T00:00:00Z');

  it('S36 a remediation that passes every check but awaits approval blocks AwaitingApproval and takes no lock', () => {
    const target = emptyTargetState('prod/Deployment/api');
    const fingerprint = emptyFingerprintState('prod/f1', 'f1');
    const next = route(
      { target, fingerprint },
      {
        caller,
        actionId: 'restart',
        deadline: T0 + 3_600_000,
        overrideActive: false,
        awaitingApproval: true,
      },
      { closed: new Set(), runs: new Map() },
      T0,
      policy,
    );
    expect(next.verdict).toMatchObject({
      kind: 'wait',
      reason: 'AwaitingApproval',
      blockKind: 'manual',
      until: null,
    });
    expect(next.fencingToken).toBeNull();
    expect(next.target.lock).toBeNull();
    expect(next.target.waiters).toEqual([]);
    // It keeps its fingerprint claim: a duplicate of it is still a duplicate.
    expect(next.fingerprint.active?.remediationId).toBe('r1');
    // Approved: the next pass takes the lock.
    const approved = route(
      { target: next.target, fingerprint: next.fingerprint },
      {
        caller,
        actionId: 'restart',
        deadline: T0 + 3_600_000,
        overrideActive: false,
        awaitingApproval: false,
      },
      { closed: new Set(), runs: new Map() },
      T0 + 1000,
      policy,
    );
    expect(approved.verdict.kind).toBe('run');
    expect(approved.target.lock?.remediationId).toBe('r1');
  });

  it('S36 awaiting approval never asks for it while another check blocks', () => {
    const target = {
      ...emptyTargetState('prod/Deployment/api'),
      nextAllowedExecution: new Date(T0 + 60_000).toISOString(),
    };
    const next = route(
      { target, fingerprint: emptyFingerprintState('prod/f1', 'f1') },
      {
        caller,
        actionId: 'restart',
        deadline: T0 + 3_600_000,
        overrideActive: false,
        awaitingApproval: true,
      },
      { closed: new Set(), runs: new Map() },
      T0,
      policy,
    );
    expect(next.verdict).toMatchObject({ kind: 'wait', reason: 'ExponentialBackoff' });
  });

  it('S36 an approval or rejection is audited; S37 a dry run leaves counters, lock and manual review alone', () => {
    const target = { ...emptyTargetState('prod/Deployment/api'), consecutiveFailures: 2 };
    const audited = auditApproval(
      target,
      { remediationId: 'r1', by: 'alice', reason: 'ok', decision: 'approve', actionId: 'a' },
      T0,
    );
    expect(audited.audit.at(-1)).toMatchObject({
      action: 'approve',
      by: 'alice',
      reason: 'ok',
      remediationId: 'r1',
    });
    const record = {
      actionId: 'a',
      remediationId: 'r1',
      at: new Date(T0).toISOString(),
      wouldRun: {
        pipelineRun: 'rem-x-1-1',
        pipeline: 'p',
        params: { name: 'api' },
        serviceAccountName: null,
      },
      pipelineExists: true,
      accepted: true,
      rejection: null,
    };
    const dry = recordDryRun(audited, record);
    expect(dry).toEqual({ ...audited, lastDryRun: record });
  });
});
