import type { AuditEntry } from '../domain/model';
import { createLogger } from '../log';
import type { AuditLog, AuditRecord } from '../ports/audit-log';

/**
 * One audit log line, a stable contract (docs/operating.md, "Audit"): one JSON object per line,
 * keys in this order, every key always present (`remediationId` and `details` null when the entry
 * has none). `log: "audit"` is the fixed marker to grep for; `level` and `msg` let log pipelines
 * that expect them file it as an ordinary info record.
 */
export interface AuditLogLine {
  log: 'audit';
  level: 'info';
  msg: 'audit';
  audit: {
    target: string;
    /** 1-based position in the target's whole trail: (target, index) identifies an entry. */
    index: number;
    action: AuditEntry['action'];
    by: string;
    reason: string;
    /** When the ledger recorded it (ISO-8601 UTC), not when the line was written. */
    at: string;
    remediationId: string | null;
    details: NonNullable<AuditEntry['details']> | null;
  };
}

export function auditLogLine(record: AuditRecord): AuditLogLine {
  const { entry } = record;
  return {
    log: 'audit',
    level: 'info',
    msg: 'audit',
    audit: {
      target: record.target,
      index: record.index,
      action: entry.action,
      by: entry.by,
      reason: entry.reason,
      at: entry.at,
      remediationId: entry.remediationId ?? null,
      details: entry.details ?? null,
    },
  };
}

/** Anything lines can be written to: process.stdout, a file stream, a test buffer. */
export interface LineSink {
  write(chunk: string): unknown;
}

/**
 * The audit log as JSON lines on a stream (default the worker's stdout, where the container
 * runtime collects it). The records of one write go out as one chunk, so they stay together.
 * A sink that throws is reported through `onError` and never fails the caller.
 */
export class JsonLinesAuditLog implements AuditLog {
  constructor(
    private readonly sink: LineSink = process.stdout,
    private readonly onError: (error: unknown) => void = (error) =>
      createLogger({ name: 'worker' }).error('could not write audit lines', { component: 'audit', error }),
  ) {}

  write(records: readonly AuditRecord[]): void {
    if (records.length === 0) return;
    try {
      this.sink.write(records.map((r) => `${JSON.stringify(auditLogLine(r))}\n`).join(''));
    } catch (error) {
      this.onError(error);
    }
  }
}
