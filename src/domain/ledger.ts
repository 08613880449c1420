/**
 * The ledger as a pure state machine: every change to the persisted target and fingerprint
 * records is one function of (state, input, now) returning the next state, a verdict and the
 * effects to carry out after the compare-and-swap write lands (wake a waiter, tell an original
 * about a duplicate, cancel a run). Activities only read, call one of these, write and notify.
 *
 * The guarantees these transitions keep (docs/safety.md, checked by the simulation after every
 * step): one PipelineRun per target at a time, even after a takeover (I1); nothing held by a
 * closed workflow (I2); one record per outcome (I3); no run after the deadline (I4); manual review
 * lifted only by a clear (I5); FIFO kept for parked waiters (I8).
 */
import { backoff } from './backoff';
import * as budgets from './budget';
import type { PolicyConfig } from './config';
import {
  FailureCategory,
  type AuditEntry,
  type BudgetState,
  type DryRunRecord,
  type Failure,
  type FingerprintState,
  type LockWaiter,
  type Phase,
  type TargetLock,
  type TargetState,
  type UnsettledRun,
} from './model';
import { decide, isParked, waitersAhead, type RoutingVerdict } from './routing';

/** Who is asking: a remediation is one workflow id; a lock is held by one run of it. */
export interface Caller {
  remediationId: string;
  workflowId: string;
  runId: string;
}

export type Effect =
  | { kind: 'wake'; workflowId: string; cause: string }
  | { kind: 'notifyDuplicate'; workflowId: string; remediationId: string; at: string }
  | { kind: 'cancelPipelineRun'; pipelineRun: string; why: string };

/** A PipelineRun as routing needs to know it: still running, finished (classified), or gone. */
export type ObservedRun =
  | { state: 'running' }
  | { state: 'succeeded' }
  | { state: 'failed'; failure: Failure }
  | { state: 'missing' };

const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (ts: string): number => Date.parse(ts);

/** The lock is held by exactly this run of this remediation. */
export function holdsLock(lock: TargetLock | null, caller: Caller): boolean {
  return lock !== null && lock.workflowId === caller.workflowId && lock.runId === caller.runId;
}

// ------------------------------------------------------------------------------------- routing

/** Whose liveness a routing pass must know before it can decide (the activity asks Temporal). */
export interface RouteQuestions {
  /** Is the lock holder's run closed? */
  lockHolder: { workflowId: string; runId: string } | null;
  /** Is the fingerprint claimant closed? */
  claimant: string | null;
  /** Waiters that hold this caller back, in queue order: ask until the first live one. */
  queue: string[];
  /** Per budget record, its waiters but this caller in queue order: ask each until its first live one. */
  budgetQueues?: string[][];
}

export function routeQuestions(
  target: TargetState,
  fingerprint: FingerprintState,
  caller: Caller,
  now: number,
  budgetStates: readonly BudgetState[] = [],
): RouteQuestions {
  const lock = target.lock;
  const claim = fingerprint.active;
  const position = target.waiters.findIndex((w) => w.remediationId === caller.remediationId);
  const ahead = position < 0 ? target.waiters : target.waiters.slice(0, position);
  // The whole queue but the caller: whoever is first once the caller has left must be alive to be woken.
  const budgetQueues = budgetStates.map((state) =>
    state.waiters.filter((w) => w.remediationId !== caller.remediationId).map((w) => w.workflowId),
  );
  return {
    lockHolder: lock && !holdsLock(lock, caller) ? { workflowId: lock.workflowId, runId: lock.runId } : null,
    claimant: claim && claim.remediationId !== caller.remediationId ? claim.workflowId : null,
    queue: ahead.filter((w) => !isParked(w, now)).map((w) => w.workflowId),
    ...(budgetStates.length ? { budgetQueues } : {}),
  };
}

/** PipelineRuns a routing pass must observe once liveness is known: the unsettled one, and a closed holder's. */
export function runsToObserve(target: TargetState, closed: ReadonlySet<string>): string[] {
  const lock = target.lock;
  const orphaned = lock?.run && closed.has(lock.workflowId) ? lock.run.pipelineRun : undefined;
  return [target.unsettled?.pipelineRun, orphaned].filter((name): name is string => !!name);
}

export interface RouteAnswers {
  /** Workflow ids found closed (for the lock holder: that run is closed). */
  closed: ReadonlySet<string>;
  /** Observations of the runs asked about. */
  runs: ReadonlyMap<string, ObservedRun>;
  /**
   * Budget slots (holderId) whose holder is closed and whose target shows no lock or unsettled run
   * of that acquisition any more: free to reclaim (I2).
   */
  deadSlots?: ReadonlySet<string>;
}

export interface RouteInput {
  caller: Caller;
  actionId: string;
  deadline: number;
  overrideActive: boolean;
  /** The action needs an approval not given yet: passing every check blocks AwaitingApproval, lock untaken. */
  awaitingApproval?: boolean;
  /** The budgets that apply (src/domain/budget.ts), their records given in `current.budgets` in the same order. */
  budgets?: budgets.ApplicableBudget[];
}

export interface RouteTransition {
  target: TargetState;
  fingerprint: FingerprintState;
  /** The budget records, in the order given; written before the target on `run`, after it otherwise. */
  budgets: BudgetState[];
  verdict: RoutingVerdict;
  /** Set when the verdict is `run`: the fencing token of this acquisition. */
  fencingToken: number | null;
  effects: Effect[];
}

/**
 * One routing pass: reclaim what the dead hold (I2), settle a stopped orphaned run (I1, I3), run
 * the checks, then claim the fingerprint, queue, park or take the lock — all in one write.
 */
export function route(
  current: { target: TargetState; fingerprint: FingerprintState; budgets?: BudgetState[] },
  input: RouteInput,
  answers: RouteAnswers,
  now: number,
  policy: PolicyConfig,
): RouteTransition {
  const { caller } = input;
  const at = iso(now);
  const effects: Effect[] = [];
  let target = current.target;
  let fingerprint = current.fingerprint;
  const applicable = input.budgets ?? [];
  const deadSlots = answers.deadSlots ?? new Set<string>();
  let budgetStates = (current.budgets ?? []).map((state) =>
    budgets.reclaim(state, deadSlots, answers.closed),
  );

  // A claimant whose workflow closed holds nothing (I2): its remediation will never end it.
  if (
    fingerprint.active &&
    fingerprint.active.remediationId !== caller.remediationId &&
    answers.closed.has(fingerprint.active.workflowId)
  ) {
    fingerprint = { ...fingerprint, active: null };
  }

  const reclaimed = reclaimTarget(target, caller, answers, now, policy, effects);
  target = reclaimed.target;
  const takeover = reclaimed.takeover;

  const budgetCheck = applicable.length ? budgets.checkBudgets(applicable, budgetStates, caller, now) : null;
  const decided = decide({
    remediationId: caller.remediationId,
    workflowId: caller.workflowId,
    actionId: input.actionId,
    target,
    fingerprint,
    now,
    deadline: input.deadline,
    config: policy,
    overrideActive: input.overrideActive,
    lockHolderClosed: false,
    ...(budgetCheck ? { budget: budgetCheck } : {}),
  });
  // Approval is asked only of a remediation that could run now, and it waits holding no lock.
  const verdict: RoutingVerdict =
    decided.kind === 'run' && input.awaitingApproval
      ? {
          kind: 'wait',
          reason: 'AwaitingApproval',
          blockKind: 'manual',
          until: null,
          recheckAt: Math.min(input.deadline, now + policy.lockRecheckIntervalMs),
          checks: decided.checks,
          message:
            'every check passed; waiting for an operator to approve or reject it (no lock is held meanwhile)',
        }
      : decided;
  const withTakeover: RoutingVerdict =
    verdict.kind === 'run' && takeover ? { ...verdict, takeover } : verdict;

  if (verdict.kind === 'end' && verdict.reason === 'DuplicateInProgress') {
    // No write: in an alert storm hundreds of duplicates would contend on one record. The
    // original counts them and persists the count when it releases its claim.
    const original = current.fingerprint.active;
    if (original)
      effects.push({
        kind: 'notifyDuplicate',
        workflowId: original.workflowId,
        remediationId: caller.remediationId,
        at,
      });
    return {
      target: current.target,
      fingerprint: current.fingerprint,
      budgets: current.budgets ?? [],
      verdict: withTakeover,
      fencingToken: null,
      effects,
    };
  }

  // A remediation claims its fingerprint on its first routing pass, waiting or not.
  if (verdict.kind !== 'end' && fingerprint.active === null) {
    fingerprint = {
      ...fingerprint,
      active: { remediationId: caller.remediationId, workflowId: caller.workflowId, since: at },
    };
  }

  const queued = target.waiters.some((w) => w.remediationId === caller.remediationId);
  let fencingToken: number | null = null;
  if (verdict.kind === 'run') {
    if (holdsLock(target.lock, caller)) {
      fencingToken = target.lock!.fencingToken; // a retried pass: we already hold it
    } else {
      fencingToken = target.fencingToken + 1;
      target = {
        ...target,
        fencingToken,
        lock: {
          remediationId: caller.remediationId,
          workflowId: caller.workflowId,
          runId: caller.runId,
          acquiredAt: at,
          fencingToken,
          run: null,
        },
      };
    }
    target = withoutWaiter(target, caller.remediationId);
  } else if (verdict.kind === 'wait' && verdict.reason === 'ResourceBusy') {
    const self: LockWaiter = {
      remediationId: caller.remediationId,
      workflowId: caller.workflowId,
      since: at,
      parked: null,
    };
    target = queued
      ? {
          ...target,
          waiters: target.waiters.map((w) =>
            w.remediationId === caller.remediationId ? { ...w, parked: null } : w,
          ),
        }
      : { ...target, waiters: [...target.waiters, self] };
  } else if (verdict.kind === 'wait' && verdict.reason === 'AwaitingApproval') {
    // Waiting for a person, not for the lock: no place in the queue either (it routes again when approved).
    target = withoutWaiter(target, caller.remediationId);
  } else if (verdict.kind === 'wait' && queued) {
    // Another block: keep the place in the queue, parked until the block is looked at again (I8).
    const parked = { reason: verdict.reason, until: iso(verdict.recheckAt) };
    target = {
      ...target,
      waiters: target.waiters.map((w) => (w.remediationId === caller.remediationId ? { ...w, parked } : w)),
    };
  } else if (verdict.kind === 'end') {
    target = withoutWaiter(target, caller.remediationId);
  }

  // The lock is free and we did not take it (we wait on something else, or it was just reclaimed
  // or settled): pass the wake on, so a wake that reached the wrong waiter is never lost.
  if (target.lock === null && verdict.kind !== 'run') {
    wakeNext(target, caller, 'the lock is free', effects, now);
  }

  // Budgets: a slot of each comes with the lock; blocked by some, queue for those; otherwise leave
  // them all (a slot held without the lock — a pass that lost its race for it — goes back).
  const blocking = new Set(
    verdict.kind === 'wait' && verdict.reason === 'BudgetExceeded' ? (budgetCheck?.blocking ?? []) : [],
  );
  const holdsTargetLock = holdsLock(target.lock, caller);
  budgetStates = budgetStates.map((state, i) => {
    const { policy: budget } = applicable[i]!;
    if (verdict.kind === 'run')
      return budgets.takeSlot(
        state,
        caller,
        {
          targetKey: target.key,
          fencingToken: fencingToken!,
          windowMs: budget.maxPerWindow?.windowMs ?? null,
        },
        now,
      );
    if (blocking.has(state.key)) return budgets.queueFor(state, caller, now);
    return budgets.leave(state, caller, !holdsTargetLock, budget, now).state;
  });
  // Room left (a slot reclaimed or given back, a waiter gone): the first live waiter hears of it,
  // so a wake that reached the wrong remediation, or none, is never lost.
  budgetStates.forEach((state, i) => {
    const head = state.waiters.find(
      (w) => w.remediationId !== caller.remediationId && !answers.closed.has(w.workflowId),
    );
    if (head && budgets.hasRoom(state, applicable[i]!.policy, now))
      effects.push({ kind: 'wake', workflowId: head.workflowId, cause: `budget ${state.key} has room` });
  });
  return { target, fingerprint, budgets: budgetStates, verdict: withTakeover, fencingToken, effects };
}

/**
 * What the dead hold on a target, reclaimed (I1, I2): a closed lock holder's lock is freed (a run it
 * may have started becomes unsettled), closed waiters leave the queue, and an unsettled run that
 * has stopped is settled. Every routing pass does this; so does a pass that reclaims a dead
 * holder's budget slot on that holder's target.
 */
export function reclaimTarget(
  current: TargetState,
  caller: Caller,
  answers: RouteAnswers,
  now: number,
  policy: PolicyConfig,
  effects: Effect[],
): { target: TargetState; takeover: TargetLock | null } {
  const at = iso(now);
  let target = current;
  let takeover: TargetLock | null = null;
  const lock = target.lock;
  if (lock && !holdsLock(lock, caller) && answers.closed.has(lock.workflowId)) {
    takeover = lock;
    const run = lock.run ?? null;
    target = {
      ...target,
      lock: null,
      recordedThrough: run ? target.recordedThrough : Math.max(target.recordedThrough, lock.fencingToken),
      unsettled: run ? { ...unsettledFrom(lock, run), since: at } : target.unsettled,
      audit: [
        ...target.audit,
        audit(
          'lockTakeover',
          caller.remediationId,
          at,
          `holder ${lock.remediationId} (${lock.workflowId}) is closed`,
          {
            previousHolder: lock.remediationId,
            previousToken: lock.fencingToken,
            pipelineRun: run?.pipelineRun ?? null,
          },
        ),
      ],
    };
  }
  target = pruneWaiters(target, answers.closed);
  if (target.unsettled)
    target = settleOrphan(
      target,
      answers.runs.get(target.unsettled.pipelineRun),
      caller,
      now,
      policy,
      effects,
    );
  return { target, takeover };
}

/**
 * A dead budget-slot holder's target, reclaimed by someone routing elsewhere: as a routing pass on
 * that target would, and the lock, if that freed it, is passed on to the first waiter.
 */
export function reclaimForBudget(
  current: TargetState,
  caller: Caller,
  answers: RouteAnswers,
  now: number,
  policy: PolicyConfig,
): { target: TargetState; effects: Effect[] } {
  const effects: Effect[] = [];
  const { target } = reclaimTarget(current, caller, answers, now, policy, effects);
  if (current.lock !== null || current.unsettled !== null)
    // Nobody excluded: the caller may be a waiter of this very target, and wakes itself then.
    wakeNext(target, null, 'the lock is free (a dead holder reclaimed)', effects, now);
  return { target, effects };
}

/**
 * An orphaned run is settled once it has stopped: its outcome is recorded under its own
 * remediation and fencing token, exactly as its remediation would have. Still running past its
 * timeout plus grace: cancelled; past another grace: counted as an execution failure (its effect
 * is unknown) — the manual review that follows keeps everybody off the target.
 */
function settleOrphan(
  target: TargetState,
  observed: ObservedRun | undefined,
  caller: Caller,
  now: number,
  policy: PolicyConfig,
  effects: Effect[],
): TargetState {
  const orphan = target.unsettled!;
  if (observed === undefined) return target; // not looked at (the store did not answer): keep waiting
  const record = (outcome: OutcomeInput['outcome']) =>
    recordOutcome(
      target,
      {
        remediationId: orphan.remediationId,
        actionId: orphan.actionId ?? null,
        pipelineRun: orphan.pipelineRun,
        fencingToken: orphan.fencingToken,
        outcome,
        jitterSample: 0.5,
      },
      now,
      policy,
    ).target;
  if (observed.state === 'running') {
    if (now < ms(orphan.notAfter)) return target;
    effects.push({
      kind: 'cancelPipelineRun',
      pipelineRun: orphan.pipelineRun,
      why: 'ran past its timeout plus the watch grace',
    });
    // Long past it: counted as an execution failure now (manual review keeps everybody off), but
    // it stays unsettled until it is seen to stop, so not even a clear lets anyone run beside it.
    if (now < ms(orphan.notAfter) + policy.watchGraceMs) return target;
    return {
      ...record({ succeeded: false, failure: watchTimedOut(orphan.pipelineRun, orphan.notAfter) }),
      unsettled: orphan,
    };
  }
  const outcome: OutcomeInput['outcome'] =
    observed.state === 'succeeded'
      ? { succeeded: true }
      : {
          succeeded: false,
          failure: observed.state === 'failed' ? observed.failure : disappeared(orphan.pipelineRun),
        };
  const recorded = record(outcome);
  return {
    ...recorded,
    unsettled: null,
    audit: [
      ...recorded.audit,
      audit(
        'orphanSettled',
        caller.remediationId,
        iso(now),
        `PipelineRun ${orphan.pipelineRun} of closed remediation ${orphan.remediationId} stopped; outcome recorded`,
        {
          pipelineRun: orphan.pipelineRun,
          remediationId: orphan.remediationId,
          fencingToken: orphan.fencingToken,
          outcome: outcome.succeeded ? 'Succeeded' : outcome.failure.category,
        },
      ),
    ],
  };
}

export function disappeared(pipelineRun: string): Failure {
  return {
    category: FailureCategory.PipelineRunDeleted,
    wasExecutionFailure: true,
    reason: 'PipelineRunDeleted',
    message: `PipelineRun ${pipelineRun} disappeared before its outcome was recorded; whether user steps ran is unknown`,
  };
}

export function watchTimedOut(pipelineRun: string, notAfter: string): Failure {
  return {
    category: FailureCategory.WatchTimedOut,
    wasExecutionFailure: true,
    reason: 'WatchTimedOut',
    message: `PipelineRun ${pipelineRun} had not finished by ${notAfter} (its timeout plus the watch grace); it was cancelled and its effect is unknown`,
  };
}

// -------------------------------------------------------------------------------- run intent

export type BeginRunResult =
  | { kind: 'begin'; target: TargetState; changed: boolean }
  | { kind: 'refused'; reason: 'DeadlineExceeded' | 'LockLost'; message: string };

/**
 * Written just before the create: from here on the run may exist, so if this remediation's
 * workflow closes its lock turns into an unsettled run instead of being freed (I1). Refused at or
 * after the deadline (I4), and when the lock is no longer this acquisition's (fenced).
 */
export function beginRun(
  target: TargetState,
  input: {
    remediationId: string;
    fencingToken: number;
    pipelineRun: string;
    notAfter: number;
    deadline: number;
    /** Recorded with the run so a settled success still counts for RecentlyRemediated. */
    actionId?: string;
  },
  now: number,
): BeginRunResult {
  if (now >= input.deadline) {
    return {
      kind: 'refused',
      reason: 'DeadlineExceeded',
      message: `the deadline ${iso(input.deadline)} has passed (${iso(now)}); no PipelineRun may start`,
    };
  }
  const lock = target.lock;
  if (!lock || lock.remediationId !== input.remediationId || lock.fencingToken !== input.fencingToken) {
    return {
      kind: 'refused',
      reason: 'LockLost',
      message: `target ${target.key} lock is ${lock ? `held by ${lock.remediationId} with fencing token ${lock.fencingToken}` : 'free'}, not by ${input.remediationId} with token ${input.fencingToken}`,
    };
  }
  if (lock.run?.pipelineRun === input.pipelineRun) return { kind: 'begin', target, changed: false };
  return {
    kind: 'begin',
    target: {
      ...target,
      lock: {
        ...lock,
        run: {
          pipelineRun: input.pipelineRun,
          notAfter: iso(input.notAfter),
          ...(input.actionId !== undefined ? { actionId: input.actionId } : {}),
        },
      },
    },
    changed: true,
  };
}

/**
 * A create refused at the deadline after an earlier attempt wrote the intent: the run was
 * verifiably never created (the caller looked), so the intent is withdrawn and the lock can be freed.
 */
export function abandonRun(
  target: TargetState,
  input: { remediationId: string; fencingToken: number; pipelineRun: string },
): { target: TargetState; changed: boolean } {
  const lock = target.lock;
  if (
    !lock ||
    lock.remediationId !== input.remediationId ||
    lock.fencingToken !== input.fencingToken ||
    lock.run?.pipelineRun !== input.pipelineRun
  )
    return { target, changed: false };
  return { target: { ...target, lock: { ...lock, run: null } }, changed: true };
}

// --------------------------------------------------------------------------------- outcomes

export interface OutcomeInput {
  remediationId: string;
  /** Null when settling an orphan: its action is not known here, so RecentlyRemediated keys on null. */
  actionId: string | null;
  pipelineRun: string;
  fencingToken: number;
  /** `cancelled`: stopped by an operator's cancel; not counted as a failure. */
  outcome: { succeeded: true } | { succeeded: false; failure: Failure } | { cancelled: true };
  /** Replay-safe sample in [0, 1) for the backoff jitter. */
  jitterSample: number;
}

export interface OutcomeTransition {
  target: TargetState;
  /** False when this acquisition's outcome was already recorded (a retry): nothing changed but the lock. */
  recorded: boolean;
  backoffMs: number | null;
  effects: Effect[];
}

/**
 * Records one acquisition's outcome and releases its lock, exactly once (I3): identified by the
 * fencing token (and, for records written before tokens were tracked, the PipelineRun name), so a
 * retry after other records landed — or after an operator cleared the target — changes nothing.
 */
export function recordOutcome(
  target: TargetState,
  input: OutcomeInput,
  now: number,
  policy: PolicyConfig,
  /** A retried attempt: the first may have released the lock and died before it woke anyone. */
  retry = false,
): OutcomeTransition {
  const at = iso(now);
  const effects: Effect[] = [];
  const seen =
    input.fencingToken <= target.recordedThrough ||
    target.lastSuccess?.pipelineRun === input.pipelineRun ||
    target.lastFailure?.pipelineRun === input.pipelineRun;
  let next = target;
  let backoffMs: number | null = null;
  if (!seen) {
    next = { ...next, recordedThrough: Math.max(next.recordedThrough, input.fencingToken) };
    const outcome = input.outcome;
    if ('cancelled' in outcome) {
      // Counters untouched: a cancel is nobody's failure.
    } else if (outcome.succeeded) {
      next = {
        ...next,
        consecutiveFailures: 0,
        nextAllowedExecution: null,
        lastSuccess: {
          actionId: input.actionId ?? '',
          remediationId: input.remediationId,
          pipelineRun: input.pipelineRun,
          at,
        },
      };
    } else {
      const failure = outcome.failure;
      const lastFailure = {
        ...failure,
        pipelineRun: input.pipelineRun,
        remediationId: input.remediationId,
        at,
      };
      if (failure.wasExecutionFailure) {
        next = {
          ...next,
          lastFailure,
          manualReview: {
            required: true,
            reason: `${failure.category} (${failure.reason}) in PipelineRun ${input.pipelineRun}: ${failure.message}`,
            since: at,
            remediationId: input.remediationId,
          },
        };
      } else {
        const failures = next.consecutiveFailures + 1;
        backoffMs = backoff(failures, policy.backoff, () => input.jitterSample);
        next = {
          ...next,
          lastFailure,
          consecutiveFailures: failures,
          nextAllowedExecution: iso(now + backoffMs),
        };
      }
    }
  }
  // The orphan's own late record settles it as well.
  if (
    next.unsettled?.fencingToken === input.fencingToken &&
    next.unsettled.remediationId === input.remediationId
  ) {
    next = { ...next, unsettled: null };
    wakeNext(next, null, 'an unsettled run was recorded', effects, now);
  }
  // Fencing: only the holder of this token releases; a taken-over lock stays with its new holder.
  if (next.lock?.remediationId === input.remediationId && next.lock.fencingToken === input.fencingToken) {
    const run = next.lock.run ?? null;
    // A run announced under another name than the one recorded may still be going: settle it first.
    const orphan =
      run && run.pipelineRun !== input.pipelineRun
        ? { ...unsettledFrom(next.lock, run), since: iso(now) }
        : next.unsettled;
    next = { ...next, lock: null, unsettled: orphan };
    wakeNext(next, null, 'lock released', effects, now);
  } else if (seen && retry && next.lock === null) {
    wakeNext(next, null, 'lock released (retried record)', effects, now);
  }
  return { target: next, recorded: !seen, backoffMs, effects };
}

// ---------------------------------------------------------------------------------- release

export interface FinishInput {
  caller: Caller;
  phase: Phase;
  /** It ran and succeeded but did not help (verification Ineffective): a failed remediation for the breaker. */
  ineffective?: boolean;
  duplicates?: { count: number; lastAt: string | null };
}

/** Leaving the target: out of the queue, lock released (a begun, unrecorded run stays unsettled). */
export function finishOnTarget(
  target: TargetState,
  input: FinishInput,
  now: number,
  /** A retried attempt: the first may have released the lock and died before it woke anyone. */
  retry = false,
): { target: TargetState; changed: boolean; effects: Effect[] } {
  const { caller } = input;
  const holds =
    target.lock?.remediationId === caller.remediationId && target.lock.workflowId === caller.workflowId;
  const queued = target.waiters.some((w) => w.remediationId === caller.remediationId);
  if (!holds && !queued) {
    const effects: Effect[] = [];
    if (retry) wakeNext(target, caller, `${caller.remediationId} finished (retried)`, effects, now);
    return { target, changed: false, effects };
  }
  let next = withoutWaiter(target, caller.remediationId);
  const effects: Effect[] = [];
  if (holds) {
    const lock = target.lock!;
    const run = lock.run ?? null;
    next = {
      ...next,
      lock: null,
      // A run that was begun and never recorded may still be going: it must be settled first (I1).
      unsettled:
        run && lock.fencingToken > target.recordedThrough
          ? { ...unsettledFrom(lock, run), since: iso(now) }
          : next.unsettled,
      recordedThrough: run ? next.recordedThrough : Math.max(next.recordedThrough, lock.fencingToken),
    };
  }
  wakeNext(next, caller, `${caller.remediationId} finished`, effects, now);
  return { target: next, changed: true, effects };
}

/** Releasing the fingerprint claim moves its counter: Failed +1, Completed → 0, the rest untouched. */
export function finishOnFingerprint(
  fingerprint: FingerprintState,
  input: FinishInput,
  now: number,
): { fingerprint: FingerprintState; changed: boolean } {
  // Only the claimant moves the counter, so a retried release never counts twice.
  if (fingerprint.active?.remediationId !== input.caller.remediationId)
    return { fingerprint, changed: false };
  const next: FingerprintState = { ...fingerprint, active: null };
  if (input.duplicates && input.duplicates.count > 0) {
    next.duplicates = {
      count: fingerprint.duplicates.count + input.duplicates.count,
      lastAt: input.duplicates.lastAt,
    };
  }
  if (input.phase === 'Completed' && !input.ineffective) next.consecutiveFailedRemediations = 0;
  if (input.phase === 'Failed' || input.ineffective) {
    next.consecutiveFailedRemediations = fingerprint.consecutiveFailedRemediations + 1;
    next.lastFailureAt = iso(now);
  }
  return { fingerprint: next, changed: true };
}

// --------------------------------------------------------------------------- operator actions

export type ClearTransition =
  | {
      kind: 'cleared';
      target: TargetState;
      before: {
        manualReviewRequired: boolean;
        consecutiveFailures: number;
        nextAllowedExecution: string | null;
      };
    }
  | { kind: 'notFound'; message: string };

/** Operator clear: lifts manual review and ExhaustedRetries, unparks the queue, audits. */
export function clearTarget(
  target: TargetState,
  input: { by: string; reason: string },
  now: number,
): ClearTransition {
  if (target.version === null) {
    return {
      kind: 'notFound',
      message: `target ${target.key} has no ledger record: nothing to clear (check the key's spelling and case)`,
    };
  }
  return {
    kind: 'cleared',
    before: {
      manualReviewRequired: target.manualReview?.required ?? false,
      consecutiveFailures: target.consecutiveFailures,
      nextAllowedExecution: target.nextAllowedExecution,
    },
    target: {
      ...target,
      manualReview: null,
      consecutiveFailures: 0,
      nextAllowedExecution: null,
      // Everybody waited on the same block: the queue order decides again.
      waiters: target.waiters.map((w) => ({ ...w, parked: null })),
      audit: [...target.audit, audit('clear', input.by, iso(now), input.reason)],
    },
  };
}

/** An operator approved or rejected a remediation awaiting approval: audited on its target. */
export function auditApproval(
  target: TargetState,
  input: {
    remediationId: string;
    by: string;
    reason: string;
    decision: 'approve' | 'reject';
    actionId: string;
  },
  now: number,
): TargetState {
  return auditOperator(target, input.decision, input, { actionId: input.actionId }, now);
}

/** A dry run in place of the PipelineRun: recorded on the target; counters, lock and manual review untouched. */
export function recordDryRun(target: TargetState, record: DryRunRecord): TargetState {
  return { ...target, lastDryRun: record };
}

export function auditOverride(
  target: TargetState,
  input: { remediationId: string; by: string; reason: string; skips: string },
  now: number,
): TargetState {
  return auditOperator(target, 'override', input, { skips: input.skips }, now);
}

/** One operator action on a remediation, appended to its target's audit trail. */
function auditOperator(
  target: TargetState,
  action: AuditEntry['action'],
  input: { remediationId: string; by: string; reason: string },
  details: AuditEntry['details'],
  now: number,
): TargetState {
  return {
    ...target,
    audit: [...target.audit, audit(action, input.by, iso(now), input.reason, details, input.remediationId)],
  };
}

// ---------------------------------------------------------------------------------- helpers

function audit(
  action: AuditEntry['action'],
  by: string,
  at: string,
  reason: string,
  details?: AuditEntry['details'],
  remediationId: string = by,
): AuditEntry {
  return { action, by, reason, at, remediationId, ...(details ? { details } : {}) };
}

function unsettledFrom(lock: TargetLock, run: NonNullable<TargetLock['run']>): Omit<UnsettledRun, 'since'> {
  return {
    remediationId: lock.remediationId,
    workflowId: lock.workflowId,
    pipelineRun: run.pipelineRun,
    fencingToken: lock.fencingToken,
    notAfter: run.notAfter,
    ...(run.actionId !== undefined ? { actionId: run.actionId } : {}),
  };
}

function withoutWaiter(target: TargetState, remediationId: string): TargetState {
  return target.waiters.some((w) => w.remediationId === remediationId)
    ? { ...target, waiters: target.waiters.filter((w) => w.remediationId !== remediationId) }
    : target;
}

/**
 * Wakes the first waiter that may take the lock now. Parked waiters are skipped; the waker's
 * activity drops dead waiters before deciding, so a dead head never hides the next live one (I2).
 */
function wakeNext(
  target: TargetState,
  caller: Caller | null,
  cause: string,
  effects: Effect[],
  now: number,
): void {
  if (target.lock !== null || target.unsettled !== null) return;
  const next = target.waiters.find((w) => w.remediationId !== caller?.remediationId && !isParked(w, now));
  if (next) effects.push({ kind: 'wake', workflowId: next.workflowId, cause });
}

/** The unparked waiters in queue order: whoever releases the lock asks these until the first live one. */
export function wakeQuestions(target: TargetState, now: number): string[] {
  return target.waiters.filter((w) => !isParked(w, now)).map((w) => w.workflowId);
}

/** Drops waiters whose workflow is closed, wherever they stand in the queue (I2). */
export function pruneWaiters(target: TargetState, closed: ReadonlySet<string>): TargetState {
  return target.waiters.some((w) => closed.has(w.workflowId))
    ? { ...target, waiters: target.waiters.filter((w) => !closed.has(w.workflowId)) }
    : target;
}

export { waitersAhead };
