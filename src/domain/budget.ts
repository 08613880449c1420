/**
 * Blast-radius budgets as pure functions of (state, input, now). A budget limits, per scope key,
 * how many remediations hold a target lock at once (`maxConcurrent`) and how many take one within
 * a sliding window (`maxPerWindow`). A remediation takes a slot of every budget that applies to it
 * in the same routing pass as the target lock, and gives it back only once that lock is released
 * and no run of it is left unsettled, so every PipelineRun that may be executing is covered by a
 * slot. A slot whose holder closed is reclaimed once its target shows no lock or unsettled run of
 * that acquisition (I2).
 */
import type { BudgetPolicy } from './config';
import { globMatches } from './catalog';
import { formatDuration } from './duration';
import {
  emptyBudgetState,
  type BudgetHolder,
  type BudgetScope,
  type BudgetState,
  type TargetState,
} from './model';

/** A budget as it applies to one remediation: its policy and the record it counts in. */
export interface ApplicableBudget {
  policy: BudgetPolicy;
  scopeKey: string;
  /** The ledger record's key: `<budget name>:<scope key>`. */
  key: string;
}

/** Who asks: the remediation and this run of its workflow. */
export interface BudgetCaller {
  remediationId: string;
  workflowId: string;
  runId: string;
}

/** What status shows for a budget block: which budget, its numbers, and until when. */
export interface BudgetBlock {
  budget: string;
  scope: BudgetScope;
  key: string;
  limit: number;
  used: number;
  /** When a window-limited budget allows the next start; null for a concurrency limit (woken on release). */
  until: string | null;
  /** `maxConcurrent` or `maxPerWindow`; `queue` when the budget has room but earlier waiters go first. */
  limitedBy: 'maxConcurrent' | 'maxPerWindow' | 'queue';
}

export interface BudgetVerdict {
  blocked: boolean;
  /** `lock`: woken when a slot is released; `temporary`: lifts at `until`. */
  kind: 'lock' | 'temporary';
  until: number | null;
  detail: string;
  block: BudgetBlock | null;
}

/** Record keys hold the namespace, so the cluster scope (and cluster-scoped targets) need words of their own. */
export const CLUSTER_SCOPE_KEY = '*';
const NO_NAMESPACE = '(cluster-scoped)';

export function scopeKeyOf(scope: BudgetScope, namespace: string, actionId: string): string {
  const ns = namespace || NO_NAMESPACE;
  switch (scope) {
    case 'cluster':
      return CLUSTER_SCOPE_KEY;
    case 'namespace':
      return ns;
    case 'action':
      return actionId;
    case 'namespace+action':
      return `${ns}/${actionId}`;
  }
}

/** The namespace in a target key `[cluster::]namespace/Kind/name` (empty for `Kind/name`). */
export function namespaceOfTargetKey(key: string): string {
  const sep = key.indexOf('::');
  const parts = (sep >= 0 ? key.slice(sep + 2) : key).split('/');
  return parts.length === 3 ? parts[0]! : '';
}

/** The budgets that count and limit a remediation of `actionId` on a target in `namespace`. */
export function applicableBudgets(
  budgets: readonly BudgetPolicy[],
  namespace: string,
  actionId: string,
): ApplicableBudget[] {
  return budgets
    .filter(
      (b) =>
        (b.match.actions === null || b.match.actions.includes(actionId)) &&
        (b.match.namespaces === null || b.match.namespaces.some((glob) => globMatches(glob, namespace))),
    )
    .map((policy) => {
      const scopeKey = scopeKeyOf(policy.scope, namespace, actionId);
      return { policy, scopeKey, key: `${policy.name}:${scopeKey}` };
    });
}

export function emptyBudgetFor(applicable: ApplicableBudget): BudgetState {
  return emptyBudgetState(
    applicable.key,
    applicable.policy.name,
    applicable.policy.scope,
    applicable.scopeKey,
  );
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function holdsSlot(
  state: BudgetState,
  caller: Pick<BudgetCaller, 'remediationId' | 'workflowId'>,
): boolean {
  return state.holders.some(
    (h) => h.remediationId === caller.remediationId && h.workflowId === caller.workflowId,
  );
}

export function holderId(holder: Pick<BudgetHolder, 'workflowId' | 'runId'>): string {
  return `${holder.workflowId}/${holder.runId}`;
}

/**
 * A closed holder's slot may be reclaimed once its target shows neither its lock nor its unsettled
 * run: until then a PipelineRun of it may still be executing, and the slot is what covers it.
 */
export function slotIsDead(holder: BudgetHolder, target: TargetState): boolean {
  const locked = target.lock?.fencingToken === holder.fencingToken;
  const unsettled = target.unsettled?.fencingToken === holder.fencingToken;
  return !locked && !unsettled;
}

/** Starts within the window ending at `now`, oldest first (but the one `except` names). */
function startsInWindow(
  state: BudgetState,
  windowMs: number,
  now: number,
  except?: { remediationId: string; since: string },
): number[] {
  return state.starts
    .filter((s) => !(except && s.remediationId === except.remediationId && s.at === except.since))
    .map((s) => Date.parse(s.at))
    .filter((at) => at > now - windowMs)
    .sort((a, b) => a - b);
}

/** Waiters queued ahead of `self` (not queued = behind everybody queued). */
export function budgetWaitersAhead(state: BudgetState, self: string): string[] {
  const position = state.waiters.findIndex((w) => w.remediationId === self);
  const ahead = position < 0 ? state.waiters : state.waiters.slice(0, position);
  return ahead.filter((w) => w.remediationId !== self).map((w) => w.remediationId);
}

/** One budget's verdict for `caller` (who does not hold a slot of it yet). */
function evaluateOne(
  applicable: ApplicableBudget,
  state: BudgetState,
  caller: BudgetCaller,
  now: number,
): BudgetVerdict {
  const { policy } = applicable;
  const name = `budget ${policy.name} (${policy.scope} ${applicable.scopeKey})`;
  const free: BudgetVerdict = { blocked: false, kind: 'lock', until: null, detail: '', block: null };
  // A slot still held is a retried pass whose answer was lost: its run has not started, so its
  // old start does not count, and the window is asked again (others may have started meanwhile).
  const held = state.holders.find(
    (h) => h.remediationId === caller.remediationId && h.workflowId === caller.workflowId,
  );
  if (held && policy.maxPerWindow === null)
    return { ...free, detail: `${name}: this remediation holds a slot` };
  const others = state.holders.filter((h) => h.remediationId !== caller.remediationId);
  const block = (limitedBy: BudgetBlock['limitedBy'], limit: number, used: number, until: number | null) => ({
    budget: policy.name,
    scope: policy.scope,
    key: applicable.scopeKey,
    limit,
    used,
    until: until === null ? null : iso(until),
    limitedBy,
  });
  if (!held && policy.maxConcurrent !== null && others.length >= policy.maxConcurrent) {
    return {
      blocked: true,
      kind: 'lock',
      until: null,
      detail: `${name}: ${others.length} of ${policy.maxConcurrent} concurrent slot(s) in use (by ${others.map((h) => h.remediationId).join(', ')}); woken when one is released`,
      block: block('maxConcurrent', policy.maxConcurrent, others.length, null),
    };
  }
  if (policy.maxPerWindow !== null) {
    const { count, windowMs } = policy.maxPerWindow;
    const starts = startsInWindow(state, windowMs, now, held);
    if (starts.length >= count) {
      // The start that must age out before one more fits.
      const until = starts[starts.length - count]! + windowMs;
      return {
        blocked: true,
        kind: 'temporary',
        until,
        detail: `${name}: ${starts.length} of ${count} start(s) within ${formatDuration(windowMs)}; the next fits at ${iso(until)} (in ${formatDuration(until - now)})`,
        block: block('maxPerWindow', count, starts.length, until),
      };
    }
  }
  if (held) return { ...free, detail: `${name}: this remediation holds a slot` };
  const ahead = budgetWaitersAhead(state, caller.remediationId);
  if (ahead.length > 0) {
    const limit = policy.maxConcurrent ?? policy.maxPerWindow!.count;
    return {
      blocked: true,
      kind: 'lock',
      until: null,
      detail: `${name} has room but ${ahead.length} remediation(s) queued earlier go first (next: ${ahead[0]})`,
      block: block('queue', limit, others.length, null),
    };
  }
  const used =
    policy.maxConcurrent !== null ? `${others.length} of ${policy.maxConcurrent} slot(s) in use` : '';
  const window =
    policy.maxPerWindow !== null
      ? `${startsInWindow(state, policy.maxPerWindow.windowMs, now).length} of ${policy.maxPerWindow.count} start(s) within ${formatDuration(policy.maxPerWindow.windowMs)}`
      : '';
  return { ...free, detail: `${name}: ${[used, window].filter(Boolean).join(', ')}` };
}

/**
 * Check 8: the first budget (in policy order) that blocks, or a pass naming every budget's numbers.
 * `states` holds one state per applicable budget, in the same order.
 */
export function checkBudgets(
  applicable: readonly ApplicableBudget[],
  states: readonly BudgetState[],
  caller: BudgetCaller,
  now: number,
): BudgetVerdict & { blocking: string[] } {
  const verdicts = applicable.map((a, i) => evaluateOne(a, states[i]!, caller, now));
  const blocking = applicable.filter((_, i) => verdicts[i]!.blocked).map((a) => a.key);
  const first = verdicts.find((v) => v.blocked);
  if (first) return { ...first, blocking };
  return {
    blocked: false,
    kind: 'lock',
    until: null,
    block: null,
    blocking,
    detail: verdicts.length ? verdicts.map((v) => v.detail).join('; ') : 'no budget applies',
  };
}

// ----------------------------------------------------------------------------- transitions

/** Drops holders whose slots are dead (closed, nothing of theirs left on their target) and closed waiters. */
export function reclaim(
  state: BudgetState,
  deadHolders: ReadonlySet<string>,
  closedWaiters: ReadonlySet<string>,
): BudgetState {
  const holders = state.holders.filter((h) => !deadHolders.has(holderId(h)));
  const waiters = state.waiters.filter((w) => !closedWaiters.has(w.workflowId));
  return holders.length === state.holders.length && waiters.length === state.waiters.length
    ? state
    : { ...state, holders, waiters };
}

/**
 * Takes the caller's slot for the lock acquisition `fencingToken` on `targetKey`, counts the start
 * and leaves the queue. A slot already held (a retried pass, whose first answer was lost) is taken
 * again: its start moves to now, since its run starts only after the answer that gets through.
 */
export function takeSlot(
  state: BudgetState,
  caller: BudgetCaller,
  input: { targetKey: string; fencingToken: number; windowMs: number | null },
  now: number,
): BudgetState {
  const at = iso(now);
  const held = state.holders.find(
    (h) => h.remediationId === caller.remediationId && h.workflowId === caller.workflowId,
  );
  const holder: BudgetHolder = {
    remediationId: caller.remediationId,
    workflowId: caller.workflowId,
    runId: caller.runId,
    targetKey: input.targetKey,
    fencingToken: input.fencingToken,
    since: at,
  };
  const { windowMs } = input;
  // Starts older than the window count for nothing any more: the record stays small.
  const starts =
    windowMs === null
      ? []
      : state.starts.filter(
          (s) =>
            Date.parse(s.at) > now - windowMs &&
            !(held && s.remediationId === held.remediationId && s.at === held.since),
        );
  return {
    ...state,
    holders: [...state.holders.filter((h) => h !== held), holder],
    starts: windowMs === null ? [] : [...starts, { remediationId: caller.remediationId, at }],
    waiters: state.waiters.filter((w) => w.remediationId !== caller.remediationId),
  };
}

/** Joins the queue (FIFO) unless already queued. */
export function queueFor(state: BudgetState, caller: BudgetCaller, now: number): BudgetState {
  if (state.waiters.some((w) => w.remediationId === caller.remediationId)) return state;
  return {
    ...state,
    waiters: [
      ...state.waiters,
      { remediationId: caller.remediationId, workflowId: caller.workflowId, since: iso(now) },
    ],
  };
}

/**
 * Gives back the caller's slot (when `release`) and its queue place. Returns the workflow to wake
 * when this left room for the first waiter (the waker's activity dropped dead waiters first).
 */
export function leave(
  state: BudgetState,
  caller: Pick<BudgetCaller, 'remediationId' | 'workflowId'>,
  release: boolean,
  policy: BudgetPolicy,
  now: number,
): { state: BudgetState; wake: string | null } {
  const mine = (x: { remediationId: string; workflowId: string }) =>
    x.remediationId === caller.remediationId && x.workflowId === caller.workflowId;
  const holders = release ? state.holders.filter((h) => !mine(h)) : state.holders;
  const waiters = state.waiters.filter((w) => !mine(w));
  if (holders.length === state.holders.length && waiters.length === state.waiters.length)
    return { state, wake: null };
  const next = { ...state, holders, waiters };
  return { state: next, wake: hasRoom(next, policy, now) ? (waiters[0]?.workflowId ?? null) : null };
}

/** Whether one more remediation could take a slot now (ignoring the queue). */
export function hasRoom(state: BudgetState, policy: BudgetPolicy, now: number): boolean {
  if (policy.maxConcurrent !== null && state.holders.length >= policy.maxConcurrent) return false;
  if (policy.maxPerWindow !== null) {
    const { count, windowMs } = policy.maxPerWindow;
    if (startsInWindow(state, windowMs, now).length >= count) return false;
  }
  return true;
}
