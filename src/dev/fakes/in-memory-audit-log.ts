import type { AuditLog, AuditRecord } from '../../ports/audit-log';

/** The audit log as a list in memory, for tests: every record written, in order. */
export class InMemoryAuditLog implements AuditLog {
  readonly records: AuditRecord[] = [];
  /** How many `write` calls there were (the records of one landed write arrive in one call). */
  writes = 0;

  write(records: readonly AuditRecord[]): void {
    this.writes++;
    this.records.push(...records.map((r) => structuredClone(r)));
  }

  /** The records' actions, in order: `['clear', 'override', …]`. */
  actions(): string[] {
    return this.records.map((r) => r.entry.action);
  }
}
