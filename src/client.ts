/**
 * Typed client API used by the CLI and tests (and by anyone embedding the product).
 * Every input is validated before anything starts (SEMANTICS §2: a rejected request writes nothing).
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  type WorkflowHandle,
} from '@temporalio/client';
import { emptyTargetState, terminalPhases, type Phase, type TargetState } from './domain/model';
import {
  InvalidRequestError,
  fingerprintKey,
  parseRemediationRequest,
  parseTargetKey,
  targetKey,
  type RemediationRequest,
} from './domain/request';
import type { Ledger } from './ports/ledger';
import {
  CLEAR_TARGET_WORKFLOW,
  DEFAULT_TASK_QUEUE,
  REMEDIATION_WORKFLOW,
  SearchAttributes,
  overrideUpdate,
  remediationIdFromWorkflowId,
  remediationWorkflowId,
  statusQuery,
  type ClearTargetInput,
  type ClearTargetResult,
  type OverrideResult,
  type RemediationInput,
  type RemediationStatus,
} from './shared';

export interface StartedRemediation {
  id: string;
  workflowId: string;
  /** False when a remediation with this id already existed (SEMANTICS S3). */
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

/** `target --json` (INTERFACES.md). */
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
  audit: TargetState['audit'];
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
  };
}

export class RemediationClient {
  constructor(
    readonly client: Client,
    private readonly options: { taskQueue?: string; ledger?: Ledger } = {},
  ) {}

  static async connect(options: {
    address: string;
    namespace?: string;
    taskQueue?: string;
    ledger?: Ledger;
  }): Promise<RemediationClient> {
    const connection = await Connection.connect({ address: options.address });
    const client = new Client({ connection, namespace: options.namespace ?? 'default' });
    return new RemediationClient(client, options);
  }

  get taskQueue(): string {
    return this.options.taskQueue ?? DEFAULT_TASK_QUEUE;
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /** Validates, then starts idempotently: the same id never starts two remediations. */
  async start(input: unknown): Promise<StartedRemediation> {
    const request: RemediationRequest = parseRemediationRequest(input);
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
          `**Action** ${request.action.id} → Pipeline \`${request.action.pipeline}\``,
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

  handle(id: string): WorkflowHandle {
    return this.client.workflow.getHandle(remediationWorkflowId(id));
  }

  async status(id: string): Promise<RemediationStatus> {
    return this.handle(id).query(statusQuery);
  }

  /** Polls the status until the remediation ends; `onChange` sees every distinct phase/message. */
  async wait(
    id: string,
    onChange: (status: RemediationStatus) => void = () => {},
    pollMs = 1000,
  ): Promise<RemediationStatus> {
    let last = '';
    for (;;) {
      const status = await this.status(id);
      const fingerprint = `${status.phase}|${status.blockReason}|${status.blockedUntil}|${status.message}|${status.attempts}`;
      if (fingerprint !== last) onChange(status);
      last = fingerprint;
      if (terminalPhases.includes(status.phase)) return status;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  async list(
    filter: { phase?: Phase; target?: string; fingerprint?: string; limit?: number } = {},
  ): Promise<RemediationSummary[]> {
    const clauses = [`WorkflowType = '${REMEDIATION_WORKFLOW}'`];
    if (filter.phase) clauses.push(`RemediationPhase = ${quote(filter.phase)}`);
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

  /** Starts the `clearTarget` workflow and waits for it (SEMANTICS §7). */
  async clear(key: string, reason: string, by: string): Promise<ClearTargetResult> {
    parseTargetKey(key);
    requireReason(reason);
    const input: ClearTargetInput = { target: key, reason, by };
    return this.client.workflow.execute(CLEAR_TARGET_WORKFLOW, {
      taskQueue: this.taskQueue,
      workflowId: `clear-target-${randomUUID()}`,
      args: [input],
      staticSummary: `Clear ${key} (by ${by}): ${reason}`,
      typedSearchAttributes: [{ key: SearchAttributes.target, value: key }],
    });
  }

  async override(id: string, reason: string, by: string): Promise<OverrideResult> {
    requireReason(reason);
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

function requireReason(reason: string): void {
  if (!reason || !reason.trim()) {
    throw new InvalidRequestError([{ field: 'reason', rule: 'required', message: 'must not be empty' }]);
  }
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
