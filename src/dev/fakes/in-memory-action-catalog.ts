import { parseCatalogEntry, type CatalogEntry } from '../../domain/catalog';
import { type ActionCatalog, CatalogUnavailableError } from '../../ports/action-catalog';

export interface InMemoryActionCatalogOptions {
  /** False: the catalog starts unsynced (lookups throw CatalogUnavailableError until {@link InMemoryActionCatalog.markSynced}). Default true. */
  synced?: boolean;
  /** How long an unsynced lookup waits for markSynced before throwing, like the adapter's first sync; default 0. */
  syncTimeoutMs?: number;
}

/**
 * ActionCatalog fake with the Kubernetes adapter's semantics (same contract suite): `put` stores a
 * raw `spec` as a `RemediationAction` object would hold it and parses it the same way (an invalid
 * spec is listed with its problems), under a new resourceVersion-like version from one counter.
 * Changes are visible at once (no watch latency).
 */
export class InMemoryActionCatalog implements ActionCatalog {
  private readonly entries = new Map<string, CatalogEntry>();
  private lastVersion = 0;
  private synced: boolean;
  private readonly syncTimeoutMs: number;
  private readonly waiters = new Set<() => void>();

  constructor(options: InMemoryActionCatalogOptions = {}) {
    this.synced = options.synced ?? true;
    this.syncTimeoutMs = options.syncTimeoutMs ?? 0;
  }

  /** Creates or replaces the action `id`; returns the entry as lookups will see it. */
  put(id: string, spec: unknown): CatalogEntry {
    // Through JSON, as on the wire: the caller's object is never shared with the catalog.
    const stored: unknown = spec === undefined ? undefined : JSON.parse(JSON.stringify(spec));
    const entry = parseCatalogEntry(id, String(++this.lastVersion), stored);
    this.entries.set(id, entry);
    return structuredClone(entry);
  }

  /** Removes the action `id`; false when there was none. */
  delete(id: string): boolean {
    return this.entries.delete(id);
  }

  /** The first sync has happened (or, with false, a fresh catalog that has not synced yet). */
  markSynced(synced = true): void {
    this.synced = synced;
    if (synced) for (const wake of [...this.waiters]) wake();
  }

  async get(id: string): Promise<CatalogEntry | undefined> {
    await this.ready();
    const entry = this.entries.get(id);
    return entry && structuredClone(entry);
  }

  async list(): Promise<CatalogEntry[]> {
    await this.ready();
    return [...this.entries.values()]
      .map((e) => structuredClone(e))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private async ready(): Promise<void> {
    if (!this.synced && this.syncTimeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, this.syncTimeoutMs);
        this.waiters.add(wake);
      });
    }
    if (!this.synced) throw new CatalogUnavailableError('the in-memory action catalog has not synced yet');
  }
}
