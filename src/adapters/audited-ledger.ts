import type { BudgetState, FingerprintState, TargetState } from '../domain/model';
import { createLogger } from '../log';
import type { AuditLog, AuditRecord } from '../ports/audit-log';
import type { Ledger } from '../ports/ledger';

/** (key, version) pairs whose trail total is remembered; a forgotten one costs one read before its write. */
const MAX_REMEMBERED = 4096;

/**
 * A Ledger that also writes every audit entry a target write appends to an {@link AuditLog}, once
 * the write has landed: operator clears and overrides, lock takeovers, orphan settlements —
 * whatever the domain transitions append, without the activities knowing.
 *
 * Every write is a compare-and-swap on a version the caller read, so the new entries of a write
 * are those beyond the trail's total (`audit.length + auditDropped`, which only grows) at the
 * version it replaces. That total is remembered per key and version from every read and write
 * passing through here; a write whose version was never seen (or was forgotten) reads the record
 * first. A write that fails — a lost compare-and-swap, a refused state, an outage — logs nothing.
 * A write whose answer was lost may have landed unlogged (its entries stay in the ledger's trail);
 * the caller's retry re-reads and logs only what it appends itself.
 */
export class AuditedLedger implements Ledger {
  /** `key\u0000version` → the trail's total at that version, least recently used first. */
  private readonly totals = new Map<string, number>();

  constructor(
    private readonly inner: Ledger,
    private readonly log: AuditLog,
    private readonly warn: (message: string) => void = (message) =>
      createLogger({ name: 'worker' }).error(message, { component: 'audit' }),
  ) {}

  async getTarget(key: string): Promise<TargetState> {
    return this.remember(await this.inner.getTarget(key));
  }

  async putTarget(state: TargetState): Promise<TargetState> {
    const before = await this.totalAt(state);
    const stored = this.remember(await this.inner.putTarget(state));
    if (before !== null) this.emit(stored, before);
    return stored;
  }

  async listTargets(): Promise<TargetState[]> {
    const targets = await this.inner.listTargets();
    for (const target of targets) this.remember(target);
    return targets;
  }

  getFingerprint(key: string, fingerprint: string): Promise<FingerprintState> {
    return this.inner.getFingerprint(key, fingerprint);
  }

  putFingerprint(state: FingerprintState): Promise<FingerprintState> {
    return this.inner.putFingerprint(state);
  }

  getBudget(empty: BudgetState): Promise<BudgetState> {
    return this.inner.getBudget(empty);
  }

  putBudget(state: BudgetState): Promise<BudgetState> {
    return this.inner.putBudget(state);
  }

  listBudgets(): Promise<BudgetState[]> {
    return this.inner.listBudgets();
  }

  /** The trail's total at the version `state` replaces; null when it cannot be known. */
  private async totalAt(state: TargetState): Promise<number | null> {
    if (state.version === null) return 0; // a create: nothing before it
    const id = rememberedId(state.key, state.version);
    const remembered = this.totals.get(id);
    if (remembered !== undefined) return remembered;
    let current: TargetState;
    try {
      current = this.remember(await this.inner.getTarget(state.key));
    } catch (error) {
      this.warn(
        `could not read ${state.key} before writing it; its new audit entries are not logged (${String(error)})`,
      );
      return null;
    }
    // Another version: the compare-and-swap below fails and there is nothing to log.
    return current.version === state.version ? total(current) : null;
  }

  private emit(stored: TargetState, before: number): void {
    const after = total(stored);
    const appended = after - before;
    if (appended <= 0) return;
    const kept = Math.min(appended, stored.audit.length);
    if (kept < appended) {
      this.warn(
        `${appended - kept} audit entries of one write to ${stored.key} were trimmed before they could be logged`,
      );
    }
    const first = after - kept + 1;
    const records: AuditRecord[] = stored.audit
      .slice(stored.audit.length - kept)
      .map((entry, i) => ({ target: stored.key, index: first + i, entry }));
    try {
      this.log.write(records);
    } catch (error) {
      // The write landed: failing now would make the caller retry and append the entries again.
      this.warn(`could not write ${records.length} audit entries of ${stored.key}: ${String(error)}`);
    }
  }

  private remember(state: TargetState): TargetState {
    if (state.version === null) return state;
    const id = rememberedId(state.key, state.version);
    this.totals.delete(id); // re-inserted last: the least recently used entry is the first one
    this.totals.set(id, total(state));
    if (this.totals.size > MAX_REMEMBERED) this.totals.delete(this.totals.keys().next().value!);
    return state;
  }
}

function rememberedId(key: string, version: string): string {
  return `${key}\u0000${version}`;
}

/** Entries ever appended to the trail (the bounded trail keeps the newest, counts the rest). */
function total(state: Pick<TargetState, 'audit' | 'auditDropped'>): number {
  return state.audit.length + (state.auditDropped ?? 0);
}
