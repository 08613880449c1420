import type { AuditEntry } from '../domain/model';

/**
 * One entry of a target's audit trail as the audit log carries it: the entry exactly as stored,
 * with the target it belongs to and its position in that target's whole trail.
 */
export interface AuditRecord {
  /** The target key, e.g. `prod/Deployment/api`. */
  target: string;
  /**
   * 1-based position of the entry in the target's trail since the record was created: the
   * trail's total (`audit.length + auditDropped`) right after the entry was appended. Never
   * reused for a target, so (target, index) identifies an entry, also after the bounded trail
   * has dropped it.
   */
  index: number;
  entry: AuditEntry;
}

/**
 * Where audit entries go besides the ledger's bounded trail: an append-only log outside the
 * ledger (JSON lines on the worker's stdout in production). Only entries of writes that landed
 * are written. `write` must not throw for a log it cannot write: callers have already changed the
 * ledger and must not fail (and be retried, appending the entries again) because of the log.
 */
export interface AuditLog {
  write(records: readonly AuditRecord[]): void;
}
