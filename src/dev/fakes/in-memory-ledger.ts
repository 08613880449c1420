import {
  emptyFingerprintState,
  emptyTargetState,
  type BudgetState,
  type FingerprintState,
  type TargetState,
} from '../../domain/model';
import {
  boundedAudit,
  budgetProblem,
  type Ledger,
  LedgerConflictError,
  LedgerInvalidStateError,
  LedgerRecordDeletedError,
  MAX_AUDIT_BY_LENGTH,
  MAX_AUDIT_REASON_LENGTH,
  MAX_WAITERS,
  normalizeTargetState,
  type StoredTargetSpec,
} from '../../ports/ledger';

interface StoredRecord {
  version: string;
  /** JSON text, as on the wire: callers can never mutate what is stored, nor see Dates survive. */
  json: string;
  /** Like metadata.deletionTimestamp under a finalizer: deleted, yet still readable and writable. */
  deletionRequested: boolean;
}

/**
 * Ledger fake with the Kubernetes adapter's semantics (same contract suite): compare-and-swap on
 * a version that, like resourceVersion, comes from one counter shared by all records.
 *
 * Deletion mirrors the API server with the adapter's finalizer on every record: deleteTarget /
 * deleteFingerprint only mark the record (it stays readable and writable, under a new version);
 * forceRemove drops it outright, as if someone had taken the finalizer off, after which an update
 * carrying its old version throws LedgerRecordDeletedError.
 */
export class InMemoryLedger implements Ledger {
  private readonly targets = new Map<string, StoredRecord>();
  private readonly fingerprints = new Map<string, StoredRecord>();
  private readonly budgets = new Map<string, StoredRecord>();
  private lastVersion = 0;

  async getTarget(key: string): Promise<TargetState> {
    const record = this.targets.get(key);
    return record ? loadTarget(record) : emptyTargetState(key);
  }

  async putTarget(state: TargetState): Promise<TargetState> {
    const { version, ...given } = normalizeTargetState(state, state.version);
    const spec = boundedAudit(given);
    checkCounters(state.key, {
      consecutiveFailures: spec.consecutiveFailures,
      fencingToken: spec.fencingToken,
      recordedThrough: spec.recordedThrough,
      auditDropped: spec.auditDropped,
    });
    if (spec.waiters.length > MAX_WAITERS) {
      throw new LedgerInvalidStateError(state.key, `waiters: must have at most ${MAX_WAITERS} items`);
    }
    spec.audit.forEach((entry, i) => {
      checkLength(state.key, `audit[${i}].by`, entry.by, MAX_AUDIT_BY_LENGTH);
      checkLength(state.key, `audit[${i}].reason`, entry.reason, MAX_AUDIT_REASON_LENGTH);
    });
    return loadTarget(this.write(this.targets, state.key, version, spec));
  }

  async listTargets(): Promise<TargetState[]> {
    return [...this.targets.values()].map(loadTarget);
  }

  async getFingerprint(key: string, fingerprint: string): Promise<FingerprintState> {
    const record = this.fingerprints.get(key);
    return record ? load<FingerprintState>(record) : emptyFingerprintState(key, fingerprint);
  }

  async putFingerprint(state: FingerprintState): Promise<FingerprintState> {
    const { version, ...spec } = state;
    checkCounters(state.key, {
      consecutiveFailedRemediations: spec.consecutiveFailedRemediations,
      'duplicates.count': spec.duplicates.count,
    });
    return load<FingerprintState>(this.write(this.fingerprints, state.key, version, spec));
  }

  async getBudget(empty: BudgetState): Promise<BudgetState> {
    const record = this.budgets.get(empty.key);
    return record ? load<BudgetState>(record) : { ...empty, version: null };
  }

  async putBudget(state: BudgetState): Promise<BudgetState> {
    const { version, ...spec } = state;
    const problem = budgetProblem(state);
    if (problem) throw new LedgerInvalidStateError(state.key, problem);
    return load<BudgetState>(this.write(this.budgets, state.key, version, spec));
  }

  async listBudgets(): Promise<BudgetState[]> {
    return [...this.budgets.values()].map((record) => load<BudgetState>(record));
  }

  // ------------------------------------------------------------ test-only: deletion

  /** `kubectl delete` of the target's record: marked for deletion, kept (and versioned) as it is. */
  deleteTarget(key: string): void {
    this.requestDeletion(this.targets, key);
  }

  /** `kubectl delete` of the fingerprint's record: marked for deletion, kept as it is. */
  deleteFingerprint(key: string): void {
    this.requestDeletion(this.fingerprints, key);
  }

  /** Removes the target and/or fingerprint record of `key` outright (its finalizer taken off). */
  forceRemove(key: string): void {
    this.targets.delete(key);
    this.fingerprints.delete(key);
  }

  /** Keys of the records (targets and fingerprints) deleted but kept, as deletionTimestamp shows. */
  get deletionRequested(): ReadonlySet<string> {
    const keys = new Set<string>();
    for (const store of [this.targets, this.fingerprints])
      for (const [key, record] of store) if (record.deletionRequested) keys.add(key);
    return keys;
  }

  private requestDeletion(store: Map<string, StoredRecord>, key: string): void {
    const record = store.get(key);
    if (!record) throw new Error(`no ledger record ${key} to delete`);
    // Setting deletionTimestamp is itself a write: the version moves, a write from before conflicts.
    if (!record.deletionRequested)
      store.set(key, { ...record, version: String(++this.lastVersion), deletionRequested: true });
  }

  private write<S extends { key: string }>(
    store: Map<string, StoredRecord>,
    key: string,
    expected: string | null,
    spec: S,
  ): StoredRecord {
    // The check and the write happen in one synchronous step: nothing can interleave.
    const current = store.get(key);
    // An update of a record that is gone (a replace answered 404): never recreate it empty.
    if (!current && expected !== null) throw new LedgerRecordDeletedError(key);
    if ((current?.version ?? null) !== expected) throw new LedgerConflictError(key);
    const record: StoredRecord = {
      version: String(++this.lastVersion),
      json: JSON.stringify(spec),
      deletionRequested: current?.deletionRequested ?? false,
    };
    store.set(key, record);
    return record;
  }
}

function load<S>(record: StoredRecord): S {
  return { ...(JSON.parse(record.json) as S), version: record.version };
}

function loadTarget(record: StoredRecord): TargetState {
  return normalizeTargetState(JSON.parse(record.json) as StoredTargetSpec, record.version);
}

/** The CRD's `minimum: 0` on counters, so the fake refuses what the API server refuses. */
function checkCounters(key: string, counters: Record<string, number>): void {
  for (const [field, value] of Object.entries(counters)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new LedgerInvalidStateError(key, `${field}: must be a non-negative integer, got ${value}`);
    }
  }
}

/** The CRD's `maxLength`, which counts characters (code points), not UTF-16 units. */
function checkLength(key: string, field: string, value: string, max: number): void {
  const length = [...value].length;
  if (length > max) {
    throw new LedgerInvalidStateError(
      key,
      `${field}: may not be longer than ${max} characters, got ${length}`,
    );
  }
}
