import {
  emptyFingerprintState,
  emptyTargetState,
  type FingerprintState,
  type TargetState,
} from '../domain/model';
import { boundedAudit, LedgerInvalidStateError, MAX_WAITERS } from '../k8s/ledger-types';
import { LedgerConflictError, type Ledger } from '../ports/ledger';

interface StoredRecord {
  version: string;
  /** JSON text, as on the wire: callers can never mutate what is stored, nor see Dates survive. */
  json: string;
}

/**
 * Ledger fake with the Kubernetes adapter's semantics (same contract suite): compare-and-swap on
 * a version that, like resourceVersion, comes from one counter shared by all records.
 */
export class InMemoryLedger implements Ledger {
  private readonly targets = new Map<string, StoredRecord>();
  private readonly fingerprints = new Map<string, StoredRecord>();
  private lastVersion = 0;

  async getTarget(key: string): Promise<TargetState> {
    const record = this.targets.get(key);
    return record ? load<TargetState>(record) : emptyTargetState(key);
  }

  async putTarget(state: TargetState): Promise<TargetState> {
    const { version: _version, ...spec } = state;
    checkCounters(state.key, {
      consecutiveFailures: spec.consecutiveFailures,
      fencingToken: spec.fencingToken,
    });
    if (spec.waiters.length > MAX_WAITERS) {
      throw new LedgerInvalidStateError(state.key, `waiters: must have at most ${MAX_WAITERS} items`);
    }
    return this.write(this.targets, state.key, state.version, { ...spec, audit: boundedAudit(spec.audit) });
  }

  async listTargets(): Promise<TargetState[]> {
    return [...this.targets.values()].map((record) => load<TargetState>(record));
  }

  async getFingerprint(key: string, fingerprint: string): Promise<FingerprintState> {
    const record = this.fingerprints.get(key);
    return record ? load<FingerprintState>(record) : emptyFingerprintState(key, fingerprint);
  }

  async putFingerprint(state: FingerprintState): Promise<FingerprintState> {
    const { version: _version, ...spec } = state;
    checkCounters(state.key, {
      consecutiveFailedRemediations: spec.consecutiveFailedRemediations,
      'duplicates.count': spec.duplicates.count,
    });
    return this.write(this.fingerprints, state.key, state.version, spec);
  }

  private write<S extends { key: string }>(
    store: Map<string, StoredRecord>,
    key: string,
    expected: string | null,
    spec: S,
  ): S & { version: string } {
    // The check and the write happen in one synchronous step: nothing can interleave.
    const current = store.get(key);
    if ((current?.version ?? null) !== expected) throw new LedgerConflictError(key);
    const record = { version: String(++this.lastVersion), json: JSON.stringify(spec) };
    store.set(key, record);
    return load<S & { version: string }>(record);
  }
}

function load<S>(record: StoredRecord): S {
  return { ...(JSON.parse(record.json) as S), version: record.version };
}

/** The CRD's `minimum: 0` on counters, so the fake refuses what the API server refuses. */
function checkCounters(key: string, counters: Record<string, number>): void {
  for (const [field, value] of Object.entries(counters)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new LedgerInvalidStateError(key, `${field}: must be a non-negative integer, got ${value}`);
    }
  }
}
