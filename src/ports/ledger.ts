import type { FingerprintState, TargetState } from '../domain/model';

/** Thrown when a compare-and-swap write lost: the record's version changed since it was read. */
export class LedgerConflictError extends Error {
  override readonly name = 'LedgerConflictError';
  constructor(readonly key: string) {
    super(`ledger record ${key} was changed by someone else; re-read and retry`);
  }
}

/**
 * Persisted per-target and per-fingerprint state (SEMANTICS §3). Every write is a
 * compare-and-swap on `version`: a write whose version is not the stored one throws
 * LedgerConflictError and changes nothing; `version: null` means "create, must not exist".
 * Reads of a missing record return the empty state with `version: null`.
 */
export interface Ledger {
  getTarget(key: string): Promise<TargetState>;
  /** Returns the stored state with its new version. */
  putTarget(state: TargetState): Promise<TargetState>;
  listTargets(): Promise<TargetState[]>;
  getFingerprint(key: string, fingerprint: string): Promise<FingerprintState>;
  putFingerprint(state: FingerprintState): Promise<FingerprintState>;
}
