/**
 * Per-remediation state as the `status` query and the Web UI show it.
 * Pure: the workflow passes in its replay-safe time.
 */
import {
  Phase,
  terminalPhases,
  type BlockReason,
  type DryRunRecord,
  type EndReason,
  type Failure,
} from '../domain/model';
import type { BudgetBlock } from '../domain/budget';
import type { RoutingVerdict } from '../domain/routing';
import type { RemediationStatus, TimelineEntry } from '../temporal-contract';

const TIMELINE_LIMIT = 200;

export class RemediationTracker {
  private readonly state: RemediationStatus;

  constructor(init: { id: string; target: string; fingerprint: string; action: string; at: number }) {
    this.state = {
      id: init.id,
      phase: Phase.Pending,
      blockReason: null,
      blockKind: null,
      blockedUntil: null,
      message: 'accepted; routing checks pending',
      reason: null,
      duplicateOf: null,
      duplicates: 0,
      attempts: 0,
      pipelineRuns: [],
      target: init.target,
      fingerprint: init.fingerprint,
      action: init.action,
      deadline: null,
      failure: null,
      override: null,
      resolvedAction: null,
      timeline: [],
    };
    this.note(init.at, 'started', `${init.action} on ${init.target}`);
  }

  /** A run continued as new picks up where the previous run stopped. */
  restore(status: RemediationStatus, lastDuplicateAt: string | null, at: number, runId: string): void {
    Object.assign(this.state, status, {
      pipelineRuns: [...status.pipelineRuns],
      timeline: [...status.timeline],
    });
    this.lastDuplicateAt = lastDuplicateAt;
    this.note(at, 'continuedAsNew', `history rolled over to run ${runId}; state carried over`);
  }

  deadlineResolved(at: number, deadline: number): void {
    this.state.deadline = iso(deadline);
    this.note(at, 'deadline', `no PipelineRun starts after ${iso(deadline)}`);
  }

  /** The catalog admitted the action: what it will run, exactly. */
  actionAdmitted(
    at: number,
    action: NonNullable<RemediationStatus['resolvedAction']> & { params: Record<string, string> },
  ): void {
    this.state.resolvedAction = {
      pipeline: action.pipeline,
      serviceAccountName: action.serviceAccountName,
      catalogued: action.catalogued,
    };
    const params = Object.entries(action.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    this.note(
      at,
      'actionAdmitted',
      `${action.catalogued ? 'catalogued' : 'uncatalogued (allowed by policy)'}: Pipeline ${action.pipeline}` +
        `${action.serviceAccountName ? `, ServiceAccount ${action.serviceAccountName}` : ''}${params ? `, params ${params}` : ''}`,
    );
  }

  /** The action needs an approval: who asked, and whether the requester may approve. */
  approvalRequired(at: number, requestedBy: string | null, forbidSelfApproval: boolean): void {
    this.state.approval = {
      required: true,
      state: 'Pending',
      by: null,
      at: null,
      reason: null,
      requestedBy,
      forbidSelfApproval,
    };
    this.note(
      at,
      'approvalRequired',
      `the action needs an approval${forbidSelfApproval && requestedBy ? ` from someone other than ${requestedBy}` : ''}`,
    );
  }

  approvalDecided(at: number, state: 'Approved' | 'Rejected', by: string, reason: string): void {
    if (!this.state.approval) return;
    this.state.approval = { ...this.state.approval, state, by, at: iso(at), reason };
    this.note(
      at,
      state === 'Approved' ? 'approved' : 'rejected',
      `${state.toLowerCase()} by ${by}: ${reason}`,
    );
  }

  get approval(): RemediationStatus['approval'] {
    return this.state.approval ?? null;
  }

  verifying(at: number, until: number): void {
    this.state.verificationEndsAt = iso(until);
    this.state.blockedUntil = iso(until);
    this.move(
      at,
      Phase.Verifying,
      'verifying',
      `the run succeeded; verifying until ${iso(until)} that the signal resolves`,
    );
  }

  verified(at: number, verdict: 'Effective' | 'Ineffective', why: string): void {
    this.state.verification = verdict;
    this.note(at, `verification:${verdict}`, why);
  }

  get verification(): RemediationStatus['verification'] {
    return this.state.verification ?? null;
  }

  dryRun(at: number, record: DryRunRecord): void {
    this.state.wouldRun = {
      ...record.wouldRun,
      pipelineExists: record.pipelineExists,
      accepted: record.accepted,
      rejection: record.rejection,
    };
    this.note(
      at,
      'dryRun',
      `would run PipelineRun ${record.wouldRun.pipelineRun} of Pipeline ${record.wouldRun.pipeline}`,
    );
  }

  get phase(): Phase {
    return this.state.phase;
  }

  get blockKind(): RemediationStatus['blockKind'] {
    return this.state.blockKind;
  }

  get blockReason(): BlockReason | null {
    return this.state.blockReason;
  }

  get blockedUntil(): string | null {
    return this.state.blockedUntil;
  }

  get message(): string {
    return this.state.message;
  }

  get attempts(): number {
    return this.state.attempts;
  }

  get isTerminal(): boolean {
    return terminalPhases.includes(this.state.phase);
  }

  get ranPipelineRun(): boolean {
    return this.state.attempts > 0;
  }

  status(): RemediationStatus {
    return {
      ...this.state,
      // Always named in the status, null while undecided or when the action has none.
      verification: this.state.verification ?? null,
      verificationEndsAt: this.state.verificationEndsAt ?? null,
      approval: this.state.approval ?? null,
      pipelineRuns: [...this.state.pipelineRuns],
      timeline: [...this.state.timeline],
    };
  }

  routing(at: number, pass: number): void {
    this.move(at, Phase.Routing, 'routing', `routing pass ${pass}`);
  }

  blocked(at: number, verdict: Extract<RoutingVerdict, { kind: 'wait' }>): void {
    this.clearBlock();
    if (verdict.budget) this.state.budget = verdict.budget;
    this.state.blockReason = verdict.reason;
    this.state.blockKind = verdict.blockKind;
    this.state.blockedUntil = verdict.until === null ? null : iso(verdict.until);
    this.move(at, Phase.Blocked, `blocked:${verdict.reason}`, verdict.message);
  }

  executing(at: number, attempt: number): void {
    this.clearBlock();
    this.state.attempts = attempt;
    this.move(at, Phase.Executing, 'executing', `attempt ${attempt}: creating PipelineRun`);
  }

  pipelineRun(at: number, name: string, created: boolean): void {
    if (!this.state.pipelineRuns.includes(name)) this.state.pipelineRuns.push(name);
    this.note(at, created ? 'pipelineRunCreated' : 'pipelineRunAdopted', `PipelineRun ${name}`);
  }

  pipelineRunFinished(at: number, name: string, failure: Failure | null): void {
    this.note(
      at,
      'pipelineRunFinished',
      failure
        ? `PipelineRun ${name} failed: ${failure.category} (${failure.reason})`
        : `PipelineRun ${name} succeeded`,
    );
  }

  preExecutionFailure(at: number, failure: Failure, detail: string): void {
    this.state.failure = failure;
    this.note(
      at,
      'preExecutionFailure',
      `${failure.category} (${failure.reason}): ${failure.message}; ${detail}`,
    );
  }

  /** When the latest duplicate of this remediation was skipped. */
  lastDuplicateAt: string | null = null;

  duplicateRecorded(at: number, remediationId: string): void {
    this.state.duplicates += 1;
    this.lastDuplicateAt = iso(at);
    this.note(at, 'duplicate', `${remediationId} was skipped as a duplicate of this remediation`);
  }

  overridden(at: number, by: string, reason: string): void {
    this.state.override = { by, reason, at: iso(at) };
    this.note(at, 'override', `override by ${by}: ${reason}`);
  }

  end(
    at: number,
    phase: Phase,
    reason: EndReason,
    message: string,
    extra: {
      failure?: Failure;
      duplicateOf?: string | null;
      blockedUntil?: number | null;
      budget?: BudgetBlock | null;
    } = {},
  ): void {
    this.clearBlock();
    if (extra.budget) this.state.budget = extra.budget;
    if (extra.blockedUntil) this.state.blockedUntil = iso(extra.blockedUntil);
    if (extra.failure) this.state.failure = extra.failure;
    if (extra.duplicateOf) this.state.duplicateOf = extra.duplicateOf;
    this.state.reason = reason;
    this.move(at, phase, `ended:${reason}`, message);
  }

  private clearBlock(): void {
    // Absent (not null) until a budget first blocks: statuses of remediations without budgets keep their shape.
    if (this.state.budget) this.state.budget = null;
    this.state.blockReason = null;
    this.state.blockKind = null;
    this.state.blockedUntil = null;
  }

  private move(at: number, phase: Phase, event: string, message: string): void {
    this.state.phase = phase;
    this.state.message = message;
    this.note(at, event, message);
  }

  note(at: number, event: string, message: string): void {
    const entry: TimelineEntry = { at: iso(at), phase: this.state.phase, event, message };
    this.state.timeline.push(entry);
    if (this.state.timeline.length > TIMELINE_LIMIT) this.state.timeline.shift();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
