import type { AuditEntry, BudgetState, FingerprintState, TargetState } from '../domain/model';
import { MAX_BY_LENGTH, MAX_REASON_LENGTH } from '../domain/operator';

// ---------------------------------------------------------------- limits every store enforces

/** The audit trail keeps only the newest entries (CRD `maxItems`); `auditDropped` counts the rest. */
export const MAX_AUDIT_ENTRIES = 50;
/** Lock waiters a target may queue (CRD `maxItems`); bounds the object size well under etcd's limit. */
export const MAX_WAITERS = 1000;
/** Holders, starts and waiters a budget record may hold each (CRD `maxItems`). */
export const MAX_BUDGET_ENTRIES = 1000;
/** Longest `by` of an audit entry, in characters (CRD `maxLength`); operator input is held to it. */
export const MAX_AUDIT_BY_LENGTH = MAX_BY_LENGTH;
/** Longest `reason` of an audit entry, in characters (CRD `maxLength`); operator input is held to it. */
export const MAX_AUDIT_REASON_LENGTH = MAX_REASON_LENGTH;

/** Every audit action, in the order the CRD enumerates them. */
export const AUDIT_ACTIONS = [
  'override',
  'clear',
  'lockTakeover',
  'orphanSettled',
  'approve',
  'reject',
] as const;
// Compile-time check that AUDIT_ACTIONS is exactly AuditEntry['action'], neither more nor less.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _auditActionsAreExhaustive: Same<(typeof AUDIT_ACTIONS)[number], AuditEntry['action']> = true;

// ---------------------------------------------------------------- errors

/** Thrown when a compare-and-swap write lost: the record's version changed since it was read. */
export class LedgerConflictError extends Error {
  override readonly name = 'LedgerConflictError';
  constructor(readonly key: string) {
    super(`ledger record ${key} was changed by someone else; re-read and retry`);
  }
}

/**
 * A write the store refuses because the state breaks the CRD schema (negative counter, too many
 * waiters, bad timestamp …). A bug in the caller: retrying the same write cannot help.
 */
export class LedgerInvalidStateError extends Error {
  override readonly name = 'LedgerInvalidStateError';
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`ledger record ${key} rejected: ${detail}`);
  }
}

/**
 * An update of a record that no longer exists: it was read (the write carries its version) and
 * has since been removed outright, i.e. someone took its finalizer off. Not a lost race: re-reading
 * would return the empty state and the retry would recreate the record empty — lock, manual
 * review, counters and fencing token gone. Retrying cannot help; an operator must restore it.
 */
export class LedgerRecordDeletedError extends Error {
  override readonly name = 'LedgerRecordDeletedError';
  constructor(readonly key: string) {
    super(
      `ledger record ${key} was removed while in use (its finalizer was taken off); ` +
        'refusing to recreate it empty — restore the record before retrying',
    );
  }
}

// ---------------------------------------------------------------- the port

/**
 * Persisted per-target and per-fingerprint state. Every write is a compare-and-swap on `version`:
 * a write whose version is not the stored one throws LedgerConflictError and changes nothing;
 * `version: null` means "create, must not exist". Reads of a missing record return the empty
 * state with `version: null`.
 *
 * A record, once written, is never lost behind the caller's back: deleting it only marks it
 * (the record stays readable and writable, fencing tokens keep growing), and an update of a
 * record that was removed anyway throws LedgerRecordDeletedError instead of recreating it.
 *
 * Limits: at most MAX_WAITERS waiters, audit `by`/`reason` within MAX_AUDIT_BY_LENGTH /
 * MAX_AUDIT_REASON_LENGTH, counters non-negative integers, else LedgerInvalidStateError. The
 * audit trail is trimmed to the newest MAX_AUDIT_ENTRIES on write (see boundedAudit).
 */
export interface Ledger {
  getTarget(key: string): Promise<TargetState>;
  /** Returns the stored state with its new version. */
  putTarget(state: TargetState): Promise<TargetState>;
  listTargets(): Promise<TargetState[]>;
  getFingerprint(key: string, fingerprint: string): Promise<FingerprintState>;
  putFingerprint(state: FingerprintState): Promise<FingerprintState>;
  /** A budget's record for one scope key; missing: `empty` (with `version: null`). */
  getBudget(empty: BudgetState): Promise<BudgetState>;
  putBudget(state: BudgetState): Promise<BudgetState>;
  listBudgets(): Promise<BudgetState[]>;
}

/** A budget record's lists within MAX_BUDGET_ENTRIES, else the reason naming the field (both stores). */
export function budgetProblem(state: BudgetState): string | null {
  for (const field of ['holders', 'starts', 'waiters'] as const)
    if (state[field].length > MAX_BUDGET_ENTRIES)
      return `${field}: must have at most ${MAX_BUDGET_ENTRIES} items`;
  return null;
}

// ---------------------------------------------------------------- helpers shared by the stores

/**
 * The newest MAX_AUDIT_ENTRIES entries, oldest first (entries are appended), with the number of
 * entries trimmed off the front added to `auditDropped`.
 */
export function boundedAudit<S extends Pick<TargetState, 'audit' | 'auditDropped'>>(state: S): S {
  const dropped = Math.max(0, state.audit.length - MAX_AUDIT_ENTRIES);
  return {
    ...state,
    audit: dropped === 0 ? state.audit : state.audit.slice(dropped),
    auditDropped: (state.auditDropped ?? 0) + dropped,
  };
}

/** What a store holds for a target: written, maybe, before some of today's fields existed. */
export type StoredTargetSpec = Omit<
  TargetState,
  'version' | 'unsettled' | 'recordedThrough' | 'auditDropped' | 'lastDryRun'
> &
  Partial<Pick<TargetState, 'unsettled' | 'recordedThrough' | 'auditDropped' | 'lastDryRun'>>;

/**
 * A stored target spec as the current model: fields added since the record was written read as
 * their empty values (`unsettled` null, `recordedThrough` 0, `auditDropped` 0, `lock.run` and
 * waiters' `parked` null). Both stores read (and write) through this, so an old record and a new
 * one look alike.
 */
export function normalizeTargetState(spec: StoredTargetSpec, version: string | null): TargetState {
  return {
    ...spec,
    lock: spec.lock === null ? null : { ...spec.lock, run: spec.lock.run ?? null },
    waiters: spec.waiters.map((waiter) => ({ ...waiter, parked: waiter.parked ?? null })),
    unsettled: spec.unsettled ?? null,
    recordedThrough: spec.recordedThrough ?? 0,
    auditDropped: spec.auditDropped ?? 0,
    lastDryRun: spec.lastDryRun ?? null,
    version,
  };
}
