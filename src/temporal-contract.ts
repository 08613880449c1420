/**
 * Everything the workflow, the worker, the client, the CLI and `temporal` CLI users agree on:
 * names of workflows, task queue, messages (queries, updates, signals), search attributes and the
 * status JSON. Safe to import in the workflow sandbox.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { INVALID_REQUEST_ERROR, type RemediationRequest } from './domain/request';
import type { CatalogEntry } from './domain/catalog';
import { STATUS_QUERY } from './remediation-ids';
import type { BudgetBlock } from './domain/budget';
import type { BlockKind, BlockReason, EndReason, Failure, Phase, WouldRun } from './domain/model';

export const DEFAULT_TASK_QUEUE = 'remediation';

/**
 * Failure types that no retry can fix: activities raise them (ApplicationFailure type), workflows
 * list them as non-retryable, clients map them to exit codes.
 */
export const ErrorType = {
  InvalidRequest: INVALID_REQUEST_ERROR,
  TargetNotFound: 'TargetNotFoundError',
  PipelineRunConflict: 'PipelineRunConflictError',
  LedgerInvalidState: 'LedgerInvalidStateError',
  LedgerRecordDeleted: 'LedgerRecordDeletedError',
} as const;
export const nonRetryableErrorTypes: string[] = Object.values(ErrorType);
export const REMEDIATION_WORKFLOW = 'remediation';
export const CLEAR_TARGET_WORKFLOW = 'clearTarget';
/** Asks the worker whether a request's action is allowed, writing nothing (the client's pre-check). */
export const CHECK_ACTION_WORKFLOW = 'checkAction';
/** The action catalog as the worker sees it (`remediate actions`). */
export const LIST_ACTIONS_WORKFLOW = 'listActions';

/** `remediate actions --json`: the catalog as a worker sees it. */
export interface ActionCatalogView {
  namespace: string;
  allowUncataloguedActions: boolean;
  entries: CatalogEntry[];
}

/** Workflow ids of the catalog helpers: short-lived, never reused. */
export function catalogWorkflowId(kind: 'check' | 'list', unique: string): string {
  return `${kind === 'check' ? 'check-action' : 'list-actions'}-${unique}`;
}

export { remediationIdFromWorkflowId, remediationWorkflowId } from './remediation-ids';

// ------------------------------------------------------------------ search attributes

export const SearchAttributes = {
  phase: defineSearchAttributeKey('RemediationPhase', SearchAttributeType.KEYWORD),
  blockReason: defineSearchAttributeKey('BlockReason', SearchAttributeType.KEYWORD),
  target: defineSearchAttributeKey('TargetResource', SearchAttributeType.KEYWORD),
  fingerprint: defineSearchAttributeKey('SignalFingerprint', SearchAttributeType.KEYWORD),
  action: defineSearchAttributeKey('RemediationAction', SearchAttributeType.KEYWORD),
  blockedUntil: defineSearchAttributeKey('BlockedUntil', SearchAttributeType.DATETIME),
  /** Did the fix work: `Effective` / `Ineffective` once verification decided (actions with `verification`). */
  verification: defineSearchAttributeKey('RemediationVerification', SearchAttributeType.KEYWORD),
} as const;

/** For `temporal server start-dev --search-attribute` and `temporal operator search-attribute create`. */
export const searchAttributeDefinitions: readonly { name: string; type: 'Keyword' | 'Datetime' }[] = [
  { name: 'RemediationPhase', type: 'Keyword' },
  { name: 'BlockReason', type: 'Keyword' },
  { name: 'TargetResource', type: 'Keyword' },
  { name: 'SignalFingerprint', type: 'Keyword' },
  { name: 'RemediationAction', type: 'Keyword' },
  { name: 'BlockedUntil', type: 'Datetime' },
  { name: 'RemediationVerification', type: 'Keyword' },
];

// ------------------------------------------------------------------ workflow inputs and status

export interface RemediationInput {
  /** Defaults to `request.id`, then to the workflow id without its `remediation-` prefix. */
  remediationId?: string;
  request: RemediationRequest;
  /** Set by the workflow itself when a long wait continues as new: what the new run carries on. */
  continued?: ContinuedRemediation;
}

/** A remediation's own state across continue-as-new (its history stays bounded, I9). */
export interface ContinuedRemediation {
  status: RemediationStatus;
  lastDuplicateAt: string | null;
  overrideActive: boolean;
  holdsSharedState: boolean;
  /** Epoch ms, resolved once by the first run. */
  deadline: number;
  /** Routing passes so far. */
  pass: number;
}

/** Workflow `clearTarget`: `by` and `reason` required and bounded (src/domain/operator.ts), else it fails before writing. */
export interface ClearTargetInput {
  target: string;
  reason: string;
  by: string;
}

export interface ClearTargetResult {
  target: string;
  cleared: {
    manualReviewRequired: boolean;
    consecutiveFailures: number;
    nextAllowedExecution: string | null;
  };
  woken: string[];
}

export interface TimelineEntry {
  at: string;
  phase: Phase;
  event: string;
  message: string;
}

/** `status` query and `remediate status --json`. */
export interface RemediationStatus {
  id: string;
  phase: Phase;
  blockReason: BlockReason | null;
  blockKind: BlockKind | null;
  blockedUntil: string | null;
  message: string;
  reason: EndReason | null;
  duplicateOf: string | null;
  duplicates: number;
  attempts: number;
  pipelineRuns: string[];
  target: string;
  fingerprint: string;
  action: string;
  /** Null until the policy is loaded (the first moments of a remediation without its own deadline). */
  deadline: string | null;
  failure: Failure | null;
  override: { by: string; reason: string; at: string } | null;
  /**
   * What the action runs as admitted by the catalog: pipeline, ServiceAccount, and whether it came
   * from a `RemediationAction` (null before admission and in remediations started before the catalog).
   */
  resolvedAction?: { pipeline: string; serviceAccountName: string | null; catalogued: boolean } | null;
  /** Did the fix work (actions with `verification`): null until decided, and for actions without it. */
  verification?: 'Effective' | 'Ineffective' | null;
  /** When the verification window ends (while Verifying, and after). */
  verificationEndsAt?: string | null;
  /** The action's approval, when it needs one. */
  approval?: ApprovalStatus | null;
  /**
   * While blocked by a budget (BudgetExceeded), and when one ended it: which budget, its limit and
   * use, and until when (null: woken when a slot is released). Absent until a budget first blocks.
   */
  budget?: BudgetBlock | null;
  /** For a dry run (reason DryRun): exactly what would have run. */
  wouldRun?: (WouldRun & { pipelineExists: boolean; accepted: boolean; rejection: string | null }) | null;
  timeline: TimelineEntry[];
}

/** Update `override`: `by` and `reason` required and bounded (src/domain/operator.ts), else refused. */
export interface OverrideRequest {
  reason: string;
  by: string;
}

export interface OverrideResult {
  accepted: true;
  skips: BlockReason;
  message: string;
}

/** `approve` / `reject` of a remediation awaiting approval; both audited on its target. */
export interface ApprovalRequest {
  reason: string;
  by: string;
}

export interface ApprovalResult {
  accepted: true;
  decision: 'Approved' | 'Rejected';
  message: string;
}

/** Where an approval stands (`status.approval`); null when the action needs none. */
export interface ApprovalStatus {
  required: true;
  state: 'Pending' | 'Approved' | 'Rejected';
  by: string | null;
  at: string | null;
  reason: string | null;
  /** The requester (`start --by`), who may not approve when the action forbids self-approval. */
  requestedBy: string | null;
  forbidSelfApproval: boolean;
}

export const statusQuery = defineQuery<RemediationStatus>(STATUS_QUERY);
/** Approves a remediation awaiting approval: it routes again from the top and runs. */
export const approveUpdate = defineUpdate<ApprovalResult, [ApprovalRequest]>('approve');
/** Rejects a remediation awaiting approval: it ends Skipped with reason Rejected. */
export const rejectUpdate = defineUpdate<ApprovalResult, [ApprovalRequest]>('reject');
/** Lets one remediation skip its temporary blocks once; the validator refuses the rest. */
export const overrideUpdate = defineUpdate<OverrideResult, [OverrideRequest]>('override');
/** Internal: the world changed (lock released, target cleared); re-run routing now. */
export const wakeSignal = defineSignal<[{ cause: string }]>('wake');
/**
 * The remediation's signal resolved (Alertmanager's resolved notification through the intake, or
 * `remediate resolve`): Verifying → Effective; before it ran → Skipped AlreadyResolved.
 */
export const resolvedSignal = defineSignal<[{ reason?: string }]>('resolved');
/** Internal: a later remediation of the same fingerprint was skipped as a duplicate of this one. */
export const duplicateSignal = defineSignal<[{ remediationId: string; at: string }]>('duplicate');
