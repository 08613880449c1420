/**
 * The vocabulary of the product. Pure types and closed sets only:
 * imported by the workflow sandbox, activities, adapters and the CLI alike.
 */

/** Routing checks in the order they are evaluated; the first hit wins. */
export const BlockReason = {
  /** Fingerprint failed ≥ N remediations in a row within the cooldown (temporary, half-open after). */
  ConsecutiveFailures: 'ConsecutiveFailures',
  /** Another remediation of the same fingerprint (same namespace/cluster) is active (terminal). */
  DuplicateInProgress: 'DuplicateInProgress',
  /** The target's last failure was an execution failure: an operator must clear it (manual). */
  PreviousExecutionFailed: 'PreviousExecutionFailed',
  /** The target had too many pre-execution failures in a row (manual). */
  ExhaustedRetries: 'ExhaustedRetries',
  /** Another running remediation holds the target lock (waits FIFO, woken on release). */
  ResourceBusy: 'ResourceBusy',
  /** The same action succeeded on this target within the cooldown (temporary). */
  RecentlyRemediated: 'RecentlyRemediated',
  /** The target's next allowed execution lies in the future (temporary). */
  ExponentialBackoff: 'ExponentialBackoff',
  /** Every check passed, but the action needs an operator's approval first (manual; holds no lock). */
  AwaitingApproval: 'AwaitingApproval',
  /**
   * A blast-radius budget is spent (check 8; never overridable): `maxConcurrent` waits like
   * ResourceBusy and is woken on release, `maxPerWindow` waits until the oldest start ages out.
   */
  BudgetExceeded: 'BudgetExceeded',
} as const;
export type BlockReason = (typeof BlockReason)[keyof typeof BlockReason];

/** How a block is lifted. */
export const BlockKind = {
  /** Ends at a known time (`blockedUntil`); an operator override may skip it once. */
  Temporary: 'temporary',
  /** Ends when an operator clears the target, or at the deadline. */
  Manual: 'manual',
  /** Ends when the lock holder releases the target, or at the deadline. */
  Lock: 'lock',
  /** Ends the remediation at once. */
  Terminal: 'terminal',
} as const;
export type BlockKind = (typeof BlockKind)[keyof typeof BlockKind];

/** Lifecycle of one remediation. */
export const Phase = {
  Pending: 'Pending',
  Routing: 'Routing',
  Blocked: 'Blocked',
  Executing: 'Executing',
  /** The run succeeded; waiting (no lock held, fingerprint still claimed) to see whether the signal resolves. */
  Verifying: 'Verifying',
  Completed: 'Completed',
  Failed: 'Failed',
  Skipped: 'Skipped',
  Cancelled: 'Cancelled',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];
export const terminalPhases: readonly Phase[] = [
  Phase.Completed,
  Phase.Failed,
  Phase.Skipped,
  Phase.Cancelled,
];

/** Why a remediation ended, beyond the block reasons (which are also valid end reasons). */
export const EndReason = {
  Succeeded: 'Succeeded',
  ExecutionFailed: 'ExecutionFailed',
  DeadlineExceeded: 'DeadlineExceeded',
  Cancelled: 'Cancelled',
  /** Refused by the action catalog before anything was written. */
  ActionNotAllowed: 'ActionNotAllowed',
  /** An operator rejected it while it awaited approval. */
  Rejected: 'Rejected',
  /** A dry run (action mode DryRun, or policy mode Shadow): what would have run, nothing ran. */
  DryRun: 'DryRun',
  /** The signal resolved before the remediation ran: nobody fixes what healed. */
  AlreadyResolved: 'AlreadyResolved',
} as const;
export type EndReason = (typeof EndReason)[keyof typeof EndReason] | BlockReason;

/** A failed PipelineRun's cause. Pre-execution categories mean no user step ever ran. */
export const FailureCategory = {
  // pre-execution
  PipelineNotFound: 'PipelineNotFound',
  TaskNotFound: 'TaskNotFound',
  ValidationFailed: 'ValidationFailed',
  ParameterInvalid: 'ParameterInvalid',
  WorkspaceInvalid: 'WorkspaceInvalid',
  ImagePullFailed: 'ImagePullFailed',
  ResourceQuotaExceeded: 'ResourceQuotaExceeded',
  ContainerConfigError: 'ContainerConfigError',
  PodCreationFailed: 'PodCreationFailed',
  PodAdmissionFailed: 'PodAdmissionFailed',
  CreateRejected: 'CreateRejected',
  NotStarted: 'NotStarted',
  // execution
  StepFailed: 'StepFailed',
  OutOfMemory: 'OutOfMemory',
  TimedOut: 'TimedOut',
  Cancelled: 'Cancelled',
  Evicted: 'Evicted',
  ResultInvalid: 'ResultInvalid',
  /** The PipelineRun disappeared before it finished; what it did is unknown (execution unless proven). */
  PipelineRunDeleted: 'PipelineRunDeleted',
  /** The PipelineRun outlived its timeout plus the watch grace and was cancelled; its effect is unknown. */
  WatchTimedOut: 'WatchTimedOut',
  /** A failure reason the classifier does not know: unknown is unsafe, so it counts as execution. */
  Unknown: 'Unknown',
} as const;
export type FailureCategory = (typeof FailureCategory)[keyof typeof FailureCategory];

export interface Failure {
  category: FailureCategory;
  wasExecutionFailure: boolean;
  /** The Tekton reason string verbatim, e.g. `TaskRunImagePullFailed`, or `HTTP 422`. */
  reason: string;
  message: string;
}

/** The observed state of one PipelineRun, already classified (see domain/classifier). */
export type PipelineRunOutcome =
  | {
      state: 'running';
      reason: string;
      message: string;
      stuckReason?: string;
      /**
       * Whether any user step has started, read from the child TaskRuns with the classifier's
       * evidence rule. Absent means not known, which counts as started: only `false` lets a run
       * that then disappears be treated as pre-execution.
       */
      userCodeStarted?: boolean;
    }
  | { state: 'succeeded'; reason: string; message: string }
  | { state: 'failed'; failure: Failure };

// ---------------------------------------------------------------- persisted state

/** ISO-8601 UTC timestamp string; persisted state never holds Date objects. */
export type Timestamp = string;

export interface AuditEntry {
  /**
   * `lockTakeover`: a closed holder's lock was reclaimed; `orphanSettled`: the outcome of a closed
   * remediation's PipelineRun was recorded by another remediation after it stopped.
   */
  action: 'override' | 'clear' | 'lockTakeover' | 'orphanSettled' | 'approve' | 'reject';
  by: string;
  reason: string;
  at: Timestamp;
  remediationId?: string;
  details?: Record<string, string | number | boolean | null>;
}

/** What a dry run would have created, exactly. */
export interface WouldRun {
  pipelineRun: string;
  pipeline: string;
  params: Record<string, string>;
  serviceAccountName: string | null;
}

export interface DryRunRecord {
  actionId: string;
  remediationId: string;
  at: Timestamp;
  wouldRun: WouldRun;
  /** Whether the referenced Pipeline exists, and whether the API server accepted the dry-run create. */
  pipelineExists: boolean;
  accepted: boolean;
  /** The API server's answer when it refused the object. */
  rejection: string | null;
}

export interface TargetLock {
  remediationId: string;
  /** Temporal workflow id and run id of the holder: used to detect a stale (closed) holder. */
  workflowId: string;
  runId: string;
  acquiredAt: Timestamp;
  fencingToken: number;
  /**
   * Written (compare-and-swap) just before the holder creates its PipelineRun: from then on the
   * run may exist, so a closed holder's lock turns into an {@link UnsettledRun} instead of being freed.
   */
  run?: { pipelineRun: string; notAfter: Timestamp; actionId?: string } | null;
}

/**
 * A PipelineRun whose remediation's workflow closed before recording its outcome. Until it is
 * settled (it stopped and its outcome was recorded) nobody takes the target lock.
 */
export interface UnsettledRun {
  remediationId: string;
  workflowId: string;
  pipelineRun: string;
  fencingToken: number;
  /** The run's own timeout plus the watch grace: past it the run is cancelled and counted as an execution failure. */
  notAfter: Timestamp;
  since: Timestamp;
  /** Its action, so a settled success still counts for RecentlyRemediated. */
  actionId?: string;
}

export interface LockWaiter {
  remediationId: string;
  workflowId: string;
  since: Timestamp;
  /**
   * Set while the waiter sleeps on another block (backoff, cooldown, manual review): it keeps its
   * place in the queue (I8) but does not hold back the waiters behind it until `until`.
   */
  parked?: { reason: string; until: Timestamp } | null;
}

export interface TargetState {
  key: string;
  /** Optimistic-concurrency version (Kubernetes resourceVersion); null when never persisted. */
  version: string | null;
  consecutiveFailures: number;
  nextAllowedExecution: Timestamp | null;
  lastFailure: {
    category: FailureCategory;
    wasExecutionFailure: boolean;
    reason: string;
    message: string;
    pipelineRun: string | null;
    remediationId: string;
    at: Timestamp;
  } | null;
  lastSuccess: { actionId: string; remediationId: string; pipelineRun: string; at: Timestamp } | null;
  manualReview: { required: boolean; reason: string; since: Timestamp; remediationId: string } | null;
  /** The latest dry run on this target: what would have run (counters untouched). */
  lastDryRun: DryRunRecord | null;
  lock: TargetLock | null;
  /** Highest fencing token ever issued for this target; the next acquisition gets +1. */
  fencingToken: number;
  /** FIFO queue of remediations waiting for the lock. */
  waiters: LockWaiter[];
  /** A closed remediation's PipelineRun still to be settled before anyone else may run. */
  unsettled: UnsettledRun | null;
  /**
   * Outcomes are recorded once per lock acquisition: every fencing token up to this one has been
   * recorded (or released without a run), so a retried record of an older token changes nothing (I3).
   */
  recordedThrough: number;
  audit: AuditEntry[];
  /** Audit entries dropped from the front of the bounded trail. */
  auditDropped: number;
}

export interface FingerprintState {
  /** `[cluster::]namespace/fingerprint` (namespace empty for cluster-scoped targets). */
  key: string;
  version: string | null;
  fingerprint: string;
  consecutiveFailedRemediations: number;
  lastFailureAt: Timestamp | null;
  active: { remediationId: string; workflowId: string; since: Timestamp } | null;
  duplicates: { count: number; lastAt: Timestamp | null };
}

export function emptyTargetState(key: string): TargetState {
  return {
    key,
    version: null,
    consecutiveFailures: 0,
    nextAllowedExecution: null,
    lastFailure: null,
    lastSuccess: null,
    lastDryRun: null,
    manualReview: null,
    lock: null,
    fencingToken: 0,
    waiters: [],
    unsettled: null,
    recordedThrough: 0,
    audit: [],
    auditDropped: 0,
  };
}

export function emptyFingerprintState(key: string, fingerprint: string): FingerprintState {
  return {
    key,
    version: null,
    fingerprint,
    consecutiveFailedRemediations: 0,
    lastFailureAt: null,
    active: null,
    duplicates: { count: 0, lastAt: null },
  };
}

// ---------------------------------------------------------------- budgets (blast radius)

/** What a budget counts together: every remediation, or those sharing a namespace, an action, or both. */
export type BudgetScope = 'cluster' | 'namespace' | 'action' | 'namespace+action';

/** A remediation holding one of a budget's slots: taken with the target lock, released with it. */
export interface BudgetHolder {
  remediationId: string;
  workflowId: string;
  runId: string;
  /** The target it locked, and the fencing token of that acquisition: its run is the one the slot covers. */
  targetKey: string;
  fencingToken: number;
  since: Timestamp;
}

/** One budget's persisted state for one scope key (e.g. budget `per-namespace`, namespace `prod`). */
export interface BudgetState {
  /** `<budget name>:<scope key>`. */
  key: string;
  version: string | null;
  budget: string;
  scope: BudgetScope;
  /** The namespace, action or `namespace/action` counted together; `*` for the cluster scope. */
  scopeKey: string;
  holders: BudgetHolder[];
  /** Slots taken within the longest window still of interest, oldest first (for maxPerWindow). */
  starts: { remediationId: string; at: Timestamp }[];
  /** FIFO queue of remediations blocked by this budget. */
  waiters: { remediationId: string; workflowId: string; since: Timestamp }[];
}

export function emptyBudgetState(
  key: string,
  budget: string,
  scope: BudgetScope,
  scopeKey: string,
): BudgetState {
  return { key, version: null, budget, scope, scopeKey, holders: [], starts: [], waiters: [] };
}
