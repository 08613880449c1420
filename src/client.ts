/**
 * Typed client API used by the CLI and tests (and by anyone embedding the product).
 * Every input is validated before anything starts: a rejected request writes nothing.
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  TimeoutFailure,
  WorkflowNotFoundError,
  WorkflowContinuedAsNewError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdReusePolicy,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import type { ActionAdmission } from './domain/catalog';
import { emptyTargetState, terminalPhases, type Phase, type TargetState } from './domain/model';
import { operatorInputErrors } from './domain/operator';
import { REMEDIATION_FAILED, finalStatusFromFailure } from './outcome';
import {
  InvalidRequestError,
  fingerprintKey,
  createRequestParser,
  parseTargetKey,
  targetKey,
  type RemediationRequest,
} from './domain/request';
import type { Ledger } from './ports/ledger';
import {
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_TEMPORAL_NAMESPACE,
  resolveTemporalConnection,
  type TemporalConnectionOptions,
} from './temporal-connection';
import {
  CHECK_ACTION_WORKFLOW,
  CLEAR_TARGET_WORKFLOW,
  LIST_ACTIONS_WORKFLOW,
  catalogWorkflowId,
  type ActionCatalogView,
  DEFAULT_TASK_QUEUE,
  ErrorType,
  REMEDIATION_WORKFLOW,
  SearchAttributes,
  approveUpdate,
  overrideUpdate,
  rejectUpdate,
  resolvedSignal,
  type ApprovalResult,
  remediationIdFromWorkflowId,
  remediationWorkflowId,
  statusQuery,
  type ClearTargetInput,
  type ClearTargetResult,
  type OverrideResult,
  type RemediationInput,
  type RemediationStatus,
} from './temporal-contract';

export interface StartedRemediation {
  id: string;
  workflowId: string;
  /** False when a remediation with this id already existed. */
  started: boolean;
}

export interface RemediationSummary {
  id: string;
  workflowId: string;
  status: string;
  phase: string | null;
  blockReason: string | null;
  target: string | null;
  fingerprint: string | null;
  action: string | null;
  startTime: string;
  closeTime: string | null;
}

/** `target --json`. */
export interface TargetView {
  key: string;
  consecutiveFailures: number;
  nextAllowedExecution: string | null;
  manualReviewRequired: boolean;
  manualReview: TargetState['manualReview'];
  lock: { remediationId: string; fencingToken: number; acquiredAt: string } | null;
  waiters: string[];
  fencingToken: number;
  lastSuccess: { actionId: string; at: string; remediationId: string; pipelineRun: string } | null;
  lastFailure: TargetState['lastFailure'];
  /** The newest entries of the bounded trail (at most MAX_AUDIT_ENTRIES), oldest first. */
  audit: TargetState['audit'];
  /** How many older entries the bounded trail dropped (the worker's audit log lines still have them). */
  auditDropped: number;
}

export function toTargetView(state: TargetState): TargetView {
  return {
    key: state.key,
    consecutiveFailures: state.consecutiveFailures,
    nextAllowedExecution: state.nextAllowedExecution,
    manualReviewRequired: state.manualReview?.required ?? false,
    manualReview: state.manualReview,
    lock: state.lock
      ? {
          remediationId: state.lock.remediationId,
          fencingToken: state.lock.fencingToken,
          acquiredAt: state.lock.acquiredAt,
        }
      : null,
    waiters: state.waiters.map((w) => w.remediationId),
    fencingToken: state.fencingToken,
    lastSuccess: state.lastSuccess,
    lastFailure: state.lastFailure,
    audit: state.audit,
    auditDropped: state.auditDropped,
  };
}

/** The `TargetNotFoundError` type the worker's clear refuses with, and the CLI-side check throws. */
export const TARGET_NOT_FOUND_ERROR = ErrorType.TargetNotFound;

/** A clear of a target the ledger has no record of (a typo, or never remediated): nothing is written. */
export class TargetNotFoundError extends Error {
  override readonly name = TARGET_NOT_FOUND_ERROR;
  constructor(
    readonly target: string,
    /** `client`: the ledger read before starting found nothing; `worker`: the clear activity refused. */
    readonly refusedBy: 'client' | 'worker',
    message?: string,
  ) {
    super(
      message ||
        `target ${target} has no ledger record: nothing to clear, nothing was written ` +
          '(never remediated, or a typo in the key: keys are case-sensitive)',
    );
  }
}

/** How long `clear` waits for its own ledger read before leaving the check to the worker. */
const CLEAR_PRECHECK_TIMEOUT_MS = 10_000;

/** How Temporal names a closed workflow's status (the server's spelling, as `temporal` prints it). */
export type ClosedWorkflowStatus = 'COMPLETED' | 'FAILED' | 'CANCELED' | 'TERMINATED' | 'TIMED_OUT';

const closedVerb: Record<ClosedWorkflowStatus, string> = {
  TERMINATED: 'was terminated',
  TIMED_OUT: 'timed out',
  FAILED: 'failed',
  CANCELED: 'was cancelled',
  COMPLETED: 'completed without a final phase',
};

/**
 * The remediation's workflow closed without reaching a final phase (terminated, timed out,
 * failed as a workflow, cancelled at the Temporal level): what {@link RemediationClient.wait}
 * throws instead of polling a status that can no longer change.
 */
export class RemediationClosedError extends Error {
  override readonly name = 'RemediationClosedError';
  constructor(
    readonly id: string,
    readonly workflowId: string,
    readonly runId: string,
    readonly temporalStatus: ClosedWorkflowStatus,
    /** What Temporal recorded: the termination reason, the failure message, …; null when none. */
    readonly reason: string | null,
    /** The last status seen while it was open, if any. */
    readonly lastStatus: RemediationStatus | null,
  ) {
    super(
      `remediation ${id} ${closedVerb[temporalStatus]} (Temporal status ${temporalStatus})${reason ? `: ${reason}` : ''}`,
    );
  }

  toJSON() {
    return {
      id: this.id,
      workflowId: this.workflowId,
      runId: this.runId,
      closed: true,
      temporalStatus: this.temporalStatus,
      reason: this.reason,
      message: this.message,
      lastStatus: this.lastStatus,
    };
  }
}

/** SDK status names → the server's (the SDK spells CANCELED as CANCELLED); null while open. */
function closedStatus(name: WorkflowExecutionStatusName): ClosedWorkflowStatus | 'CONTINUED_AS_NEW' | null {
  switch (name) {
    case 'COMPLETED':
    case 'FAILED':
    case 'TERMINATED':
    case 'TIMED_OUT':
    case 'CONTINUED_AS_NEW':
      return name;
    case 'CANCELLED':
      return 'CANCELED';
    default:
      return null; // RUNNING, PAUSED (still open), UNSPECIFIED/UNKNOWN (treated as open)
  }
}

export class RemediationClient {
  constructor(
    readonly client: Client,
    private readonly options: {
      taskQueue?: string;
      ledger?: Ledger;
      /** Clock for checking absolute deadlines before a start (default Date.now). */
      now?: () => number;
      /**
       * How long `start` waits for a worker to answer its action check (default 15s). Without an
       * answer it starts anyway: the remediation checks its action itself before writing anything.
       */
      actionCheckTimeout?: string;
    } = {},
  ) {}

  /** Each start validates its request; one schema serves them all. */
  private readonly parseRequest = createRequestParser();

  /**
   * Connects with `connection` (from {@link resolveTemporalConnection}: TLS, API key, gRPC metadata),
   * else in plain text to `address`, else as the environment and the Temporal profile say.
   */
  static async connect(options: {
    connection?: TemporalConnectionOptions;
    address?: string;
    namespace?: string;
    taskQueue?: string;
    ledger?: Ledger;
  }): Promise<RemediationClient> {
    const fromEnv =
      options.connection || options.address ? undefined : resolveTemporalConnection({ env: process.env });
    const connectionOptions = options.connection ??
      fromEnv?.connectionOptions ?? { address: options.address ?? DEFAULT_TEMPORAL_ADDRESS };
    const connection = await Connection.connect(connectionOptions);
    const namespace = options.namespace ?? fromEnv?.namespace ?? DEFAULT_TEMPORAL_NAMESPACE;
    const client = new Client({ connection, namespace });
    return new RemediationClient(client, options);
  }

  get taskQueue(): string {
    return this.options.taskQueue ?? DEFAULT_TASK_QUEUE;
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /**
   * Validates (an absolute deadline must lie in the future, within the 30-day cap), then starts
   * idempotently: the same id never starts two remediations.
   */
  async start(input: unknown, options: { checkAction?: boolean } = {}): Promise<StartedRemediation> {
    const now = this.options.now?.() ?? Date.now();
    const request: RemediationRequest = this.parseRequest(input, { now });
    if (options.checkAction !== false) await this.checkAction(request);
    const id = request.id ?? randomUUID();
    const workflowId = remediationWorkflowId(id);
    const args: [RemediationInput] = [{ remediationId: id, request: { ...request, id } }];
    const key = targetKey(request.target);
    try {
      await this.client.workflow.start(REMEDIATION_WORKFLOW, {
        taskQueue: this.taskQueue,
        workflowId,
        args,
        // An id is an idempotency key for ever, not only while the first run is open.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `${request.action.id} on ${key} (signal ${request.signal.name || request.signal.fingerprint})`,
        staticDetails: [
          `**Target** ${key}`,
          `**Action** ${request.action.id}${request.action.pipeline ? ` → Pipeline \`${request.action.pipeline}\`` : ''}`,
          `**Signal** ${request.signal.name} (${request.signal.severity}), fingerprint \`${request.signal.fingerprint}\` scoped as \`${fingerprintKey(request)}\``,
          Object.keys(request.action.params).length
            ? `**Params** ${Object.entries(request.action.params)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ')}`
            : '',
        ]
          .filter(Boolean)
          .join('\n\n'),
        typedSearchAttributes: [
          { key: SearchAttributes.phase, value: 'Pending' },
          { key: SearchAttributes.target, value: key },
          { key: SearchAttributes.fingerprint, value: request.signal.fingerprint },
          { key: SearchAttributes.action, value: request.action.id },
        ],
      });
      return { id, workflowId, started: true };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return { id, workflowId, started: false };
      throw error;
    }
  }

  /**
   * Asks a worker whether the catalog admits the request's action; writes nothing. A refusal throws
   * {@link InvalidRequestError} naming every field. Returns null when no worker answered in time.
   */
  async checkAction(request: RemediationRequest): Promise<ActionAdmission | null> {
    let admission: ActionAdmission;
    try {
      admission = await this.client.workflow.execute(CHECK_ACTION_WORKFLOW, {
        taskQueue: this.taskQueue,
        workflowId: catalogWorkflowId('check', randomUUID()),
        args: [{ request }],
        workflowExecutionTimeout: this.options.actionCheckTimeout ?? '15s',
        staticSummary: `Check action ${request.action.id} for ${targetKey(request.target)}`,
      });
    } catch (error) {
      if (error instanceof WorkflowFailedError && error.cause instanceof TimeoutFailure) return null;
      throw error;
    }
    if (admission.kind === 'refused') throw new InvalidRequestError(admission.errors);
    return admission;
  }

  /** The action catalog as the worker sees it. */
  async actions(): Promise<ActionCatalogView> {
    return this.client.workflow.execute(LIST_ACTIONS_WORKFLOW, {
      taskQueue: this.taskQueue,
      workflowId: catalogWorkflowId('list', randomUUID()),
      args: [],
      workflowExecutionTimeout: this.options.actionCheckTimeout ?? '15s',
    });
  }

  handle(id: string): WorkflowHandle {
    return this.client.workflow.getHandle(remediationWorkflowId(id));
  }

  async status(id: string): Promise<RemediationStatus> {
    return this.handle(id).query(statusQuery);
  }

  /**
   * Polls until the remediation ends; `onChange` sees every distinct phase/message. Follows the
   * workflow id across continue-as-new. Throws {@link RemediationClosedError} when the workflow
   * closes without a final phase (terminated, timed out, failed, cancelled at the Temporal level),
   * instead of polling a status that can no longer change.
   */
  async wait(
    id: string,
    onChange: (status: RemediationStatus) => void = () => {},
    pollMs = 1000,
  ): Promise<RemediationStatus> {
    const handle = this.handle(id);
    let last = '';
    let lastStatus: RemediationStatus | null = null;
    const seen = (status: RemediationStatus): void => {
      const fingerprint = `${status.phase}|${status.blockReason}|${status.blockedUntil}|${status.message}|${status.attempts}`;
      if (fingerprint !== last) onChange(status);
      last = fingerprint;
      lastStatus = status;
    };
    for (;;) {
      // Describe first: a closed run's query would answer its last state forever (or hang with no worker).
      const description = await handle.describe();
      const closed = closedStatus(description.status.name);
      if (closed === null) {
        const status = await handle.query(statusQuery);
        seen(status);
        if (terminalPhases.includes(status.phase)) return status;
      } else if (closed !== 'CONTINUED_AS_NEW') {
        // CONTINUED_AS_NEW: the same workflow id runs on; the next describe sees the new run.
        const final = await this.closedRun(
          id,
          handle.workflowId,
          description.runId,
          closed,
          () => lastStatus,
        );
        if (final) {
          seen(final);
          return final;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * Waits for the remediation to end and returns its final status, without polling the worker:
   * a long poll on the workflow's result, following continue-as-new. A remediation that ended
   * Failed fails its workflow (RemediationFailed) and still answers here with its final status.
   * Throws {@link RemediationClosedError} when the workflow closed without a final phase.
   */
  async result(id: string): Promise<RemediationStatus> {
    const handle = this.handle(id);
    try {
      return (await handle.result()) as RemediationStatus;
    } catch (error) {
      const final = finalStatusOf(error);
      if (final) return final;
      if (!(error instanceof WorkflowFailedError)) throw error;
      const description = await handle.describe();
      const closed = closedStatus(description.status.name);
      throw new RemediationClosedError(
        id,
        handle.workflowId,
        description.runId,
        closed === null || closed === 'CONTINUED_AS_NEW' ? 'FAILED' : closed,
        error.cause?.message || error.message || null,
        null,
      );
    }
  }

  /** The final status of a closed run, null if it continued as new, else a RemediationClosedError. */
  private async closedRun(
    id: string,
    workflowId: string,
    runId: string,
    closed: ClosedWorkflowStatus,
    lastStatus: () => RemediationStatus | null,
  ): Promise<RemediationStatus | null> {
    let reason: string | null = null;
    try {
      const result: unknown = await this.client.workflow.result(workflowId, runId, { followRuns: false });
      // The workflow returns its final status; a run that completed on a terminal phase ended normally.
      const status = result as RemediationStatus | null | undefined;
      if (status && typeof status === 'object' && terminalPhases.includes(status.phase)) return status;
    } catch (error) {
      if (error instanceof WorkflowContinuedAsNewError) return null;
      if (!(error instanceof WorkflowFailedError)) throw error;
      // Phase Failed fails the workflow; its failure carries the final status.
      const final = finalStatusOf(error);
      if (final) return final;
      reason = error.cause?.message || error.message || null;
    }
    throw new RemediationClosedError(id, workflowId, runId, closed, reason, lastStatus());
  }

  async list(
    filter: { phase?: Phase; reason?: string; target?: string; fingerprint?: string; limit?: number } = {},
  ): Promise<RemediationSummary[]> {
    const clauses = [`WorkflowType = '${REMEDIATION_WORKFLOW}'`];
    if (filter.phase) clauses.push(`RemediationPhase = ${quote(filter.phase)}`);
    // The block reason while blocked, the end reason once ended (both published as BlockReason).
    if (filter.reason) clauses.push(`BlockReason = ${quote(filter.reason)}`);
    if (filter.target) {
      parseTargetKey(filter.target);
      clauses.push(`TargetResource = ${quote(filter.target)}`);
    }
    if (filter.fingerprint) clauses.push(`SignalFingerprint = ${quote(filter.fingerprint)}`);
    const limit = filter.limit ?? 50;
    const out: RemediationSummary[] = [];
    for await (const w of this.client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: Math.min(limit, 1000),
    })) {
      const sa = w.typedSearchAttributes;
      out.push({
        id: remediationIdFromWorkflowId(w.workflowId),
        workflowId: w.workflowId,
        status: w.status.name,
        phase: sa.get(SearchAttributes.phase) ?? null,
        blockReason: sa.get(SearchAttributes.blockReason) ?? null,
        target: sa.get(SearchAttributes.target) ?? null,
        fingerprint: sa.get(SearchAttributes.fingerprint) ?? null,
        action: sa.get(SearchAttributes.action) ?? null,
        startTime: w.startTime.toISOString(),
        closeTime: w.closeTime?.toISOString() ?? null,
      });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The persisted per-target state (needs the ledger, i.e. Kubernetes access). */
  async target(key: string): Promise<TargetView> {
    parseTargetKey(key);
    if (!this.options.ledger) throw new Error('target: no ledger configured (needs a kubeconfig)');
    const state = await this.options.ledger.getTarget(key);
    return toTargetView(state.version === null ? emptyTargetState(key) : state);
  }

  /**
   * Starts the `clearTarget` workflow and waits for it (operator clear). A target the ledger has no
   * record of is refused with {@link TargetNotFoundError} and nothing is started or written: here
   * when a ledger is configured, else (and in any case) by the worker, whose refusal is mapped to
   * the same error. `onLedgerUnreadable` hears why the check here was skipped (the worker's stands).
   */
  async clear(
    key: string,
    reason: string,
    by: string,
    options: { onLedgerUnreadable?: (error: unknown) => void } = {},
  ): Promise<ClearTargetResult> {
    parseTargetKey(key);
    requireOperatorInput(by, reason);
    if (this.options.ledger) {
      let exists: boolean | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        const read = this.options.ledger.getTarget(key);
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${CLEAR_PRECHECK_TIMEOUT_MS / 1000}s`)),
            CLEAR_PRECHECK_TIMEOUT_MS,
          );
        });
        exists = (await Promise.race([read, timeout])).version !== null;
      } catch (error) {
        options.onLedgerUnreadable?.(error);
      } finally {
        clearTimeout(timer);
      }
      if (exists === false) throw new TargetNotFoundError(key, 'client');
    }
    const input: ClearTargetInput = { target: key, reason, by };
    try {
      return await this.client.workflow.execute(CLEAR_TARGET_WORKFLOW, {
        taskQueue: this.taskQueue,
        workflowId: `clear-target-${randomUUID()}`,
        args: [input],
        staticSummary: `Clear ${key} (by ${by}): ${reason}`,
        typedSearchAttributes: [{ key: SearchAttributes.target, value: key }],
      });
    } catch (error) {
      const refusal = failureOfType(error, TARGET_NOT_FOUND_ERROR);
      if (refusal) throw new TargetNotFoundError(key, 'worker', refusal.message);
      throw error;
    }
  }

  /** Tells a remediation its signal resolved: Verifying → Effective; not yet run → Skipped AlreadyResolved. */
  async resolve(id: string, reason?: string): Promise<void> {
    await this.handle(id).signal(resolvedSignal, reason ? { reason } : {});
  }

  /**
   * The signal of `fingerprint` resolved (an Alertmanager resolved notification): every running
   * remediation of it is told. Returns their ids (none: nothing held the fingerprint).
   */
  async resolveFingerprint(fingerprint: string, reason?: string): Promise<string[]> {
    const ids: string[] = [];
    const query = `WorkflowType = '${REMEDIATION_WORKFLOW}' AND ExecutionStatus = 'Running' AND SignalFingerprint = ${quote(fingerprint)}`;
    for await (const w of this.client.workflow.list({ query })) {
      const id = remediationIdFromWorkflowId(w.workflowId);
      await this.resolve(id, reason).catch((error: unknown) => {
        // Closed since the list: nothing left to tell.
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      });
      ids.push(id);
    }
    return ids;
  }

  /** Approves a remediation awaiting approval (audited); refused when it awaits none, or by the requester when forbidden. */
  async approve(id: string, reason: string, by: string): Promise<ApprovalResult> {
    requireOperatorInput(by, reason);
    return this.handle(id).executeUpdate(approveUpdate, { args: [{ reason, by }] });
  }

  /** Rejects a remediation awaiting approval (audited): it ends Skipped with reason Rejected. */
  async reject(id: string, reason: string, by: string): Promise<ApprovalResult> {
    requireOperatorInput(by, reason);
    return this.handle(id).executeUpdate(rejectUpdate, { args: [{ reason, by }] });
  }

  async override(id: string, reason: string, by: string): Promise<OverrideResult> {
    requireOperatorInput(by, reason);
    return this.handle(id).executeUpdate(overrideUpdate, { args: [{ reason, by }] });
  }

  /** Requests cancellation; the reason lands in the history's cancel-request event (audit). */
  async cancel(id: string, reason?: string, by?: string): Promise<void> {
    await this.handle(id).describe(); // a clear "not found" instead of a silent no-op
    await this.client.workflowService.requestCancelWorkflowExecution({
      namespace: this.client.options.namespace,
      workflowExecution: { workflowId: remediationWorkflowId(id) },
      identity: by ?? this.client.options.identity,
      reason: reason ?? 'cancelled by an operator',
      requestId: randomUUID(),
    });
  }
}

/**
 * `by` and `reason` of an operator action: required, and bounded (src/domain/operator.ts) so the
 * audit trail can store them. Refused with every bad field named before anything is started.
 */
function requireOperatorInput(by: unknown, reason: unknown): void {
  const errors = operatorInputErrors({ by, reason });
  if (errors.length) throw new InvalidRequestError(errors);
}

/**
 * The final status of a remediation that ended Failed, from the error its workflow's result threw
 * (a `WorkflowFailedError` whose cause is the `RemediationFailed` failure); null for any other error.
 */
export function finalStatusOf(error: unknown): RemediationStatus | null {
  const failure = failureOfType(error, REMEDIATION_FAILED);
  return failure ? finalStatusFromFailure(failure) : null;
}

/** The first failure in `error`'s cause chain whose `type` is `type` (an ApplicationFailure). */
function failureOfType(
  error: unknown,
  type: string,
): (Error & { type?: unknown; details?: unknown }) | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if ((e as { type?: unknown }).type === type) return e;
  }
  return undefined;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
