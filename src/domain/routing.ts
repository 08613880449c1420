/**
 * The routing decision table as one pure function. It imports neither Temporal nor
 * Kubernetes, is given the time, and returns a verdict with its reason and when to look again.
 */
import type { BudgetBlock, BudgetVerdict } from './budget';
import type { PolicyConfig } from './config';
import { formatDuration } from './duration';
import {
  BlockReason,
  type FingerprintState,
  type TargetLock,
  type TargetState,
  type Timestamp,
} from './model';

export interface RoutingInput {
  remediationId: string;
  workflowId: string;
  actionId: string;
  target: TargetState;
  fingerprint: FingerprintState;
  /** Epoch ms. */
  now: number;
  /** Epoch ms: no PipelineRun may start at or after it. */
  deadline: number;
  config: PolicyConfig;
  /** Skip the temporary blocks 1, 6, 7 once (never 2 or 5; 3 and 4 need a clear). */
  overrideActive: boolean;
  /** The lock holder's workflow is closed, so its lock is stale and may be taken over. */
  lockHolderClosed: boolean;
  /** Check 8, worked out over the budget records (src/domain/budget.ts); absent: no budget applies. */
  budget?: BudgetVerdict;
}

export interface CheckResult {
  check: BlockReason;
  blocked: boolean;
  /** Blocked, but skipped by an operator override. */
  overridden?: boolean;
  /** The numbers behind the result, for status and audit. */
  detail: string;
}

export type RoutingVerdict =
  | { kind: 'run'; takeover: TargetLock | null; checks: CheckResult[]; message: string }
  | {
      kind: 'wait';
      reason: BlockReason;
      blockKind: 'temporary' | 'manual' | 'lock';
      /** When a temporary block lifts (epoch ms); null for manual/lock blocks (lifted by an event). */
      until: number | null;
      /**
       * When to run the checks again even without a wake-up (epoch ms): `until` for a temporary
       * block; for manual/lock blocks `now + lockRecheckIntervalMs`, capped at the deadline.
       */
      recheckAt: number;
      checks: CheckResult[];
      message: string;
      /** Set when a budget blocks (BudgetExceeded): which one, its numbers and until when. */
      budget?: BudgetBlock;
    }
  | {
      kind: 'end';
      reason: BlockReason | 'DeadlineExceeded';
      blockedUntil: number | null;
      duplicateOf: string | null;
      checks: CheckResult[];
      message: string;
      budget?: BudgetBlock;
    };

type BlockKindOf = 'temporary' | 'terminal' | 'manual' | 'lock';
interface Evaluated extends CheckResult {
  kind: BlockKindOf;
  until: number | null;
  duplicateOf?: string;
  /** Blocked by an unsettled PipelineRun: looked at again sooner than an ordinary lock wait. */
  settling?: boolean;
  /** Temporary, yet an override never skips it (budgets). */
  notOverridable?: boolean;
  budget?: BudgetBlock;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const inHuman = (ms: number, now: number): string => `${iso(ms)} (in ${formatDuration(ms - now)})`;

/** Persisted timestamps are written by this product; a malformed one is corruption, never "no block". */
function toMs(ts: Timestamp, field: string): number {
  const ms = Date.parse(ts);
  if (Number.isNaN(ms))
    throw new Error(`routing: persisted ${field} is not an ISO timestamp: ${JSON.stringify(ts)}`);
  return ms;
}

/**
 * Remediations queued for the lock ahead of `self` (FIFO; not queued = behind everybody queued).
 * A waiter parked on another block keeps its place but holds nobody back until its block lifts (I8).
 */
export function waitersAhead(target: TargetState, self: string, now: number): string[] {
  const position = target.waiters.findIndex((w) => w.remediationId === self);
  const ahead = position < 0 ? target.waiters : target.waiters.slice(0, position);
  return ahead.filter((w) => w.remediationId !== self && !isParked(w, now)).map((w) => w.remediationId);
}

export function isParked(waiter: TargetState['waiters'][number], now: number): boolean {
  return !!waiter.parked && Date.parse(waiter.parked.until) > now;
}

function evaluate(input: RoutingInput): Evaluated[] {
  const { target, fingerprint: fp, now, config, remediationId: self } = input;
  const out: Evaluated[] = [];

  // 1. ConsecutiveFailures — per fingerprint; half-open once the cooldown has passed.
  {
    const count = fp.consecutiveFailedRemediations;
    const threshold = config.consecutiveFailureThreshold;
    const until =
      fp.lastFailureAt === null
        ? null
        : toMs(fp.lastFailureAt, 'fingerprint.lastFailureAt') + config.fingerprintCooldownMs;
    const blocked = count >= threshold && until !== null && now < until;
    out.push({
      check: BlockReason.ConsecutiveFailures,
      kind: 'temporary',
      blocked,
      until: blocked ? until : null,
      detail: blocked
        ? `fingerprint ${fp.key} has ${count} consecutive failed remediations (threshold ${threshold}); cooldown of ${formatDuration(config.fingerprintCooldownMs)} after the last failure ends at ${inHuman(until, now)}`
        : count >= threshold && until !== null
          ? `fingerprint ${fp.key} has ${count} consecutive failed remediations (threshold ${threshold}) but the cooldown ended at ${iso(until)}: one trial run allowed`
          : `fingerprint ${fp.key} has ${count} consecutive failed remediations (threshold ${threshold})`,
    });
  }

  // 2. DuplicateInProgress — another remediation owns this fingerprint.
  {
    const active = fp.active;
    const blocked = active !== null && active.remediationId !== self;
    out.push({
      check: BlockReason.DuplicateInProgress,
      kind: 'terminal',
      blocked,
      until: null,
      ...(blocked ? { duplicateOf: active.remediationId } : {}),
      detail: blocked
        ? `remediation ${active.remediationId} of fingerprint ${fp.key} is in progress since ${active.since}`
        : `no other remediation of fingerprint ${fp.key} is in progress`,
    });
  }

  // 3. PreviousExecutionFailed — an execution failure may have changed the cluster: a human decides.
  {
    const review = target.manualReview;
    const blocked = review?.required === true;
    out.push({
      check: BlockReason.PreviousExecutionFailed,
      kind: 'manual',
      blocked,
      until: null,
      detail: blocked
        ? `target ${target.key} needs manual review since ${review.since} (remediation ${review.remediationId}: ${review.reason}); clear it to continue`
        : `target ${target.key} needs no manual review`,
    });
  }

  // 4. ExhaustedRetries — too many pre-execution failures in a row on this target.
  {
    const count = target.consecutiveFailures;
    const max = config.maxConsecutiveFailures;
    const blocked = count >= max;
    out.push({
      check: BlockReason.ExhaustedRetries,
      kind: 'manual',
      blocked,
      until: null,
      detail: blocked
        ? `target ${target.key} has ${count} consecutive pre-execution failures (limit ${max}); clear it to continue`
        : `target ${target.key} has ${count} consecutive pre-execution failures (limit ${max})`,
    });
  }

  // 5. ResourceBusy — one remediation per target at a time, granted in arrival order; and nobody
  //    at all while a closed remediation's PipelineRun may still be running (I1).
  {
    const lock = target.lock;
    const heldByOther = lock !== null && lock.remediationId !== self;
    const stale = heldByOther && input.lockHolderClosed;
    // Holding the lock already (a retried pass whose first answer was lost): the queue is behind us.
    const ahead = lock?.remediationId === self ? [] : waitersAhead(target, self, now);
    const orphan = target.unsettled ?? null;
    const blocked = orphan !== null || (heldByOther && !stale) || ahead.length > 0;
    let detail: string;
    if (orphan !== null) {
      detail = `target ${target.key}: PipelineRun ${orphan.pipelineRun} of closed remediation ${orphan.remediationId} (fencing token ${orphan.fencingToken}) must stop and be recorded before anyone runs (cancelled if still running at ${orphan.notAfter})`;
    } else if (heldByOther && !stale) {
      detail = `target ${target.key} is locked by remediation ${lock.remediationId} since ${lock.acquiredAt} (fencing token ${lock.fencingToken}); ${ahead.length} waiter(s) ahead`;
    } else if (ahead.length > 0) {
      detail = `target ${target.key} lock is ${stale ? 'stale' : 'free'} but ${ahead.length} waiter(s) arrived earlier (next: ${ahead[0]})`;
    } else if (stale) {
      detail = `target ${target.key} lock of remediation ${lock.remediationId} is stale (its workflow is closed) and will be taken over`;
    } else {
      detail = `target ${target.key} lock is ${lock ? 'held by this remediation' : 'free'}`;
    }
    out.push({
      check: BlockReason.ResourceBusy,
      kind: 'lock',
      blocked,
      until: null,
      detail,
      ...(orphan ? { settling: true } : {}),
    });
  }

  // 6. RecentlyRemediated — the same action just succeeded here; give it time to take effect.
  {
    const success = target.lastSuccess;
    const sameAction = success !== null && success.actionId === input.actionId;
    const until = sameAction
      ? toMs(success.at, 'target.lastSuccess.at') + config.recentlyRemediatedCooldownMs
      : null;
    const blocked = until !== null && now < until;
    out.push({
      check: BlockReason.RecentlyRemediated,
      kind: 'temporary',
      blocked,
      until: blocked ? until : null,
      detail: blocked
        ? `action ${input.actionId} succeeded on ${target.key} at ${success?.at ?? ''}; cooldown of ${formatDuration(config.recentlyRemediatedCooldownMs)} ends at ${inHuman(until, now)}`
        : sameAction
          ? `action ${input.actionId} last succeeded on ${target.key} at ${success?.at ?? ''}, outside the ${formatDuration(config.recentlyRemediatedCooldownMs)} cooldown`
          : `action ${input.actionId} has no recent success on ${target.key}`,
    });
  }

  // 7. ExponentialBackoff — the target's next allowed execution after pre-execution failures.
  {
    const next =
      target.nextAllowedExecution === null
        ? null
        : toMs(target.nextAllowedExecution, 'target.nextAllowedExecution');
    const blocked = next !== null && next > now;
    out.push({
      check: BlockReason.ExponentialBackoff,
      kind: 'temporary',
      blocked,
      until: blocked ? next : null,
      detail: blocked
        ? `target ${target.key} has ${target.consecutiveFailures} consecutive pre-execution failure(s); next allowed execution at ${inHuman(next, now)}`
        : `target ${target.key} has no pending backoff`,
    });
  }

  // 8. BudgetExceeded — the blast radius: slots per scope at once, starts per window.
  if (input.budget) {
    const b = input.budget;
    out.push({
      check: BlockReason.BudgetExceeded,
      kind: b.kind,
      blocked: b.blocked,
      until: b.until,
      detail: b.detail,
      notOverridable: true,
      ...(b.block ? { budget: b.block } : {}),
    });
  }

  // An override skips temporary blocks once: never the duplicate, lock, manual or budget ones.
  if (input.overrideActive) {
    for (const c of out) if (c.blocked && c.kind === 'temporary' && !c.notOverridable) c.overridden = true;
  }
  return out;
}

const publicCheck = ({ check, blocked, overridden, detail }: Evaluated): CheckResult =>
  overridden ? { check, blocked, overridden, detail } : { check, blocked, detail };

/**
 * Decides whether a remediation may run now. Checks, in this order; the first hit wins:
 *
 * 1. `ConsecutiveFailures` — fingerprint failed ≥ threshold remediations and now < lastFailureAt +
 *    cooldown → wait (temporary) until then; afterwards one trial run is allowed (half-open).
 * 2. `DuplicateInProgress` — another remediation is active for the fingerprint → end, `duplicateOf`.
 * 3. `PreviousExecutionFailed` — target needs manual review → wait (manual) for a clear.
 * 4. `ExhaustedRetries` — target consecutiveFailures ≥ maxConsecutiveFailures → wait (manual).
 * 5. `ResourceBusy` — lock held by another live remediation, or free/stale but with earlier
 *    waiters queued (FIFO; not queued = last) → wait (lock). A lock held by self is free.
 * 6. `RecentlyRemediated` — same action succeeded on the target < cooldown ago → wait (temporary).
 * 7. `ExponentialBackoff` — target nextAllowedExecution > now → wait (temporary) until it.
 * 8. `BudgetExceeded` — a budget's concurrent slots are all held → wait (lock, woken on release);
 *    its window is full → wait (temporary) until the oldest start ages out; earlier waiters → wait.
 *
 * An active override skips 1, 6 and 7 (never 8) (marked `overridden`). Deadline: a temporary block lifting
 * at or after the deadline ends at once with that reason and `blockedUntil` (waiting could not
 * lead to a run, since nothing runs at or after the deadline); a manual or lock block ends with
 * its reason once now ≥ deadline; with no block, now ≥ deadline ends `DeadlineExceeded`.
 * Otherwise `run`, with `takeover` set to the stale lock being replaced (if any).
 */
export function decide(input: RoutingInput): RoutingVerdict {
  const { now, deadline } = input;
  const evaluated = evaluate(input);
  const checks = evaluated.map(publicCheck);
  const hit = evaluated.find((c) => c.blocked && !c.overridden);

  if (hit) {
    const why = `${hit.check}: ${hit.detail}`;
    const budget = hit.budget ? { budget: hit.budget } : {};
    if (hit.kind === 'terminal') {
      return {
        kind: 'end',
        reason: hit.check,
        blockedUntil: null,
        duplicateOf: hit.duplicateOf ?? null,
        checks,
        message: `Skipped — ${why}`,
      };
    }
    if (hit.kind === 'temporary') {
      const until = hit.until ?? now;
      if (until >= deadline) {
        return {
          kind: 'end',
          reason: hit.check,
          blockedUntil: until,
          duplicateOf: null,
          checks,
          message: `Ended — ${why}; that is not before the deadline ${iso(deadline)}`,
          ...budget,
        };
      }
      return {
        kind: 'wait',
        reason: hit.check,
        blockKind: 'temporary',
        until,
        recheckAt: until,
        checks,
        message: `Blocked until ${inHuman(until, now)} — ${why}`,
        ...budget,
      };
    }
    if (now >= deadline) {
      return {
        kind: 'end',
        reason: hit.check,
        blockedUntil: null,
        duplicateOf: null,
        checks,
        message: `Ended at the deadline ${iso(deadline)} — ${why}`,
        ...budget,
      };
    }
    // An unsettled run is polled (nobody will signal when it stops); the other waits are woken.
    const interval = hit.settling
      ? (input.config.orphanRecheckIntervalMs ?? input.config.lockRecheckIntervalMs)
      : input.config.lockRecheckIntervalMs;
    const recheckAt = Math.min(now + interval, deadline);
    const waitingFor =
      hit.check === BlockReason.BudgetExceeded
        ? 'a budget slot'
        : hit.kind === 'lock'
          ? 'the target lock'
          : 'an operator to clear the target';
    return {
      kind: 'wait',
      reason: hit.check,
      blockKind: hit.kind,
      until: null,
      recheckAt,
      checks,
      message: `Blocked waiting for ${waitingFor} (deadline ${inHuman(deadline, now)}) — ${why}`,
      ...budget,
    };
  }

  if (now >= deadline) {
    return {
      kind: 'end',
      reason: 'DeadlineExceeded',
      blockedUntil: null,
      duplicateOf: null,
      checks,
      message: `Ended — the deadline ${iso(deadline)} has passed (${formatDuration(now - deadline)} ago); no PipelineRun may start`,
    };
  }

  const lock = input.target.lock;
  const takeover =
    lock !== null && lock.remediationId !== input.remediationId && input.lockHolderClosed ? lock : null;
  const skipped = evaluated.filter((c) => c.overridden).map((c) => c.check);
  const notes = [
    skipped.length ? `override skipped ${skipped.join(', ')}` : '',
    takeover
      ? `taking over the stale lock of remediation ${takeover.remediationId} (fencing token ${takeover.fencingToken})`
      : '',
  ].filter(Boolean);
  return {
    kind: 'run',
    takeover,
    checks,
    message: `All checks passed${notes.length ? `; ${notes.join('; ')}` : ''}; deadline ${inHuman(deadline, now)}`,
  };
}
