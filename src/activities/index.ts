import { createHash } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { backoff } from '../domain/backoff';
import { classifyCreateError } from '../domain/classifier';
import type { PolicyConfig } from '../domain/config';
import {
  BlockReason,
  type AuditEntry,
  type Failure,
  type FingerprintState,
  type LockWaiter,
  type Phase,
  type TargetState,
} from '../domain/model';
import { parseTargetKey, type RemediationRequest } from '../domain/request';
import { decide, type RoutingVerdict } from '../domain/routing';
import type { Ledger } from '../ports/ledger';
import { PipelineRunRejectedError, type PipelineRunOutcome, type PipelineRuns } from '../ports/pipeline-runs';
import type { Remediations } from '../ports/remediations';
import type { ClearTargetInput, ClearTargetResult } from '../shared';
import { withCas } from './cas';

export interface ActivityDeps {
  ledger: Ledger;
  pipelineRuns: PipelineRuns;
  remediations: Remediations;
  policy: PolicyConfig;
  /** Namespace where PipelineRuns (and the Pipelines they reference) live. */
  executionNamespace: string;
  clock?: () => number;
  /** How often a PipelineRun watch reports progress (and so heartbeats). */
  heartbeatMs?: number;
}

export interface RemediationRef {
  remediationId: string;
  workflowId: string;
  targetKey: string;
  fingerprintKey: string;
  fingerprint: string;
}

export interface RouteInput extends RemediationRef {
  runId: string;
  actionId: string;
  deadline: number;
  overrideActive: boolean;
}

export interface RouteResult {
  verdict: RoutingVerdict;
  /** Set when the verdict is `run`: this remediation now holds the target lock with this token. */
  fencingToken: number | null;
  at: number;
}

export type StartPipelineRunResult =
  { kind: 'started'; name: string; created: boolean } | { kind: 'rejected'; name: string; failure: Failure };

export interface RecordOutcomeInput extends RemediationRef {
  actionId: string;
  pipelineRun: string;
  fencingToken: number;
  outcome: { succeeded: true } | { succeeded: false; failure: Failure };
  /** Replay-safe random sample in [0, 1) drawn by the workflow for the backoff jitter (SEMANTICS §6). */
  jitterSample: number;
}

export interface RecordedOutcome {
  consecutiveFailures: number;
  nextAllowedExecution: string | null;
  backoffMs: number | null;
  manualReviewRequired: boolean;
  /** False when this PipelineRun had already been recorded (activity retried after a crash). */
  recorded: boolean;
}

export interface FinishInput extends RemediationRef {
  phase: Phase;
  /** Duplicates of this remediation skipped while it held the fingerprint (added to the record). */
  duplicates?: { count: number; lastAt: string | null };
}

const AUDIT_LIMIT = 50;

/**
 * Product counters, exported with the SDK's runtime metrics (Prometheus, see src/worker.ts):
 * routing decisions by check and result, PipelineRun outcomes by category, remediations by phase.
 */
function count(name: string, description: string, tags: Record<string, string>): void {
  let meter;
  try {
    meter = Context.current().metricMeter;
  } catch {
    return; // called outside an activity (unit tests): nothing to export to
  }
  meter.createCounter(name, undefined, description).add(1, tags);
}

/** Deterministic per (remediation, attempt), short enough for Tekton's 63-char child names. */
export function pipelineRunName(remediationId: string, attempt: number): string {
  return `rem-${hash(remediationId).slice(0, 16)}-${attempt}`;
}

/** Tekton wants Go durations ("30m0s"). */
export function tektonDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m${s % 60}s`;
}

export function createActivities(deps: ActivityDeps) {
  const { ledger, pipelineRuns, remediations, policy } = deps;
  const now = deps.clock ?? Date.now;

  /** Drops closed remediations from the head of the lock queue, up to the first live one ahead of us. */
  async function liveQueue(waiters: LockWaiter[], self: string): Promise<LockWaiter[]> {
    const queue = [...waiters];
    while (
      queue.length > 0 &&
      queue[0]!.remediationId !== self &&
      !(await remediations.isRunning(queue[0]!.workflowId))
    ) {
      queue.shift();
    }
    return queue;
  }

  async function wakeHead(target: TargetState, cause: string): Promise<void> {
    const head = target.waiters[0];
    if (!head) return;
    await remediations.wake(head.workflowId, cause).catch((error: unknown) => {
      log.warn('could not wake the next lock waiter; it re-checks on its own', {
        waiter: head.workflowId,
        error,
      });
    });
  }

  function audit(target: TargetState, entry: AuditEntry): AuditEntry[] {
    return [...target.audit, entry].slice(-AUDIT_LIMIT);
  }

  return {
    /** The worker's policy (SEMANTICS §9), recorded in history so replays see the same numbers. */
    async loadPolicy(): Promise<{ policy: PolicyConfig; executionNamespace: string }> {
      return { policy, executionNamespace: deps.executionNamespace };
    },

    /**
     * One routing pass (SEMANTICS §4): reads the fingerprint and target records, runs every check
     * in order, and — in the same compare-and-swap — claims the fingerprint, joins the lock queue or
     * takes the lock. A lost race re-reads and decides again, so passing the checks and taking the
     * lock is one atomic step.
     */
    async route(input: RouteInput): Promise<RouteResult> {
      const result = await withCas(async (): Promise<RouteResult> => {
        const at = now();
        const [fingerprint, target] = await Promise.all([
          ledger.getFingerprint(input.fingerprintKey, input.fingerprint),
          ledger.getTarget(input.targetKey),
        ]);
        const lock = target.lock;
        const lockHolderClosed =
          lock !== null &&
          lock.remediationId !== input.remediationId &&
          !(await remediations.isRunning(lock.workflowId, lock.runId));
        const waiters = await liveQueue(target.waiters, input.remediationId);
        const verdict = decide({
          remediationId: input.remediationId,
          workflowId: input.workflowId,
          actionId: input.actionId,
          target: { ...target, waiters },
          fingerprint,
          now: at,
          deadline: input.deadline,
          config: policy,
          overrideActive: input.overrideActive,
          lockHolderClosed,
        });

        if (verdict.kind === 'end' && verdict.reason === BlockReason.DuplicateInProgress) {
          // No ledger write here: in an alert storm hundreds of duplicates would contend on one
          // record. The original counts them (signals are serialized per workflow) and persists
          // the count when it releases its claim.
          const original = fingerprint.active;
          if (original) {
            await remediations
              .notifyDuplicate(original.workflowId, { remediationId: input.remediationId, at: iso(at) })
              .catch((error: unknown) => log.warn('could not notify the original remediation', { error }));
          }
          return { verdict, fencingToken: null, at };
        }

        // A remediation claims its fingerprint on its first routing pass, waiting or not (§8).
        if (verdict.kind !== 'end' && fingerprint.active === null) {
          await ledger.putFingerprint({
            ...fingerprint,
            active: { remediationId: input.remediationId, workflowId: input.workflowId, since: iso(at) },
          });
        }

        const self: LockWaiter = {
          remediationId: input.remediationId,
          workflowId: input.workflowId,
          since: iso(at),
        };
        const queued = waiters.some((w) => w.remediationId === input.remediationId);
        let next: TargetState = { ...target, waiters };
        let fencingToken: number | null = null;
        if (verdict.kind === 'run') {
          if (lock?.remediationId === input.remediationId) {
            fencingToken = lock.fencingToken; // retried activity: we already hold it
          } else {
            fencingToken = target.fencingToken + 1;
            next = {
              ...next,
              fencingToken,
              lock: {
                remediationId: input.remediationId,
                workflowId: input.workflowId,
                runId: input.runId,
                acquiredAt: iso(at),
                fencingToken,
              },
              audit:
                verdict.takeover === null
                  ? next.audit
                  : audit(next, {
                      action: 'lockTakeover',
                      by: input.remediationId,
                      reason: `holder ${verdict.takeover.remediationId} (${verdict.takeover.workflowId}) is closed`,
                      at: iso(at),
                      remediationId: input.remediationId,
                      details: {
                        previousHolder: verdict.takeover.remediationId,
                        previousToken: verdict.takeover.fencingToken,
                      },
                    }),
            };
          }
          next = { ...next, waiters: next.waiters.filter((w) => w.remediationId !== input.remediationId) };
        } else if (verdict.kind === 'wait' && verdict.reason === BlockReason.ResourceBusy) {
          if (!queued) next = { ...next, waiters: [...next.waiters, self] };
        } else if (queued) {
          next = { ...next, waiters: next.waiters.filter((w) => w.remediationId !== input.remediationId) };
        }
        if (JSON.stringify(next) !== JSON.stringify(target)) await ledger.putTarget(next);
        return { verdict, fencingToken, at };
      });
      count('remediation_routing_decisions', 'Routing decisions by deciding check and result', {
        check: result.verdict.kind === 'run' ? 'AllPassed' : result.verdict.reason,
        result: result.verdict.kind,
      });
      return result;
    },

    /** Creates this attempt's PipelineRun, or adopts it when a retry finds it already there (§5). */
    async startPipelineRun(input: {
      ref: RemediationRef;
      request: RemediationRequest;
      attempt: number;
      fencingToken: number;
    }): Promise<StartPipelineRunResult> {
      const { ref, request, attempt, fencingToken } = input;
      const name = pipelineRunName(ref.remediationId, attempt);
      try {
        const created = await pipelineRuns.create({
          name,
          namespace: deps.executionNamespace,
          pipeline: request.action.pipeline,
          params: request.action.params,
          ...(request.action.serviceAccountName
            ? { serviceAccountName: request.action.serviceAccountName }
            : {}),
          timeout: tektonDuration(
            request.action.timeout !== undefined ? request.action.timeout : policy.pipelineRunTimeoutMs,
          ),
          labels: {
            'remediation.dev/remediation-id': labelValue(ref.remediationId),
            'remediation.dev/target-hash': hash(ref.targetKey).slice(0, 40),
            'remediation.dev/fingerprint-hash': hash(ref.fingerprintKey).slice(0, 40),
            'remediation.dev/fencing-token': String(fencingToken),
            'remediation.dev/attempt': String(attempt),
            'remediation.dev/action': labelValue(request.action.id),
          },
          annotations: {
            'remediation.dev/remediation-id': ref.remediationId,
            'remediation.dev/target': ref.targetKey,
            'remediation.dev/fingerprint': ref.fingerprintKey,
          },
        });
        return { kind: 'started', name, created: created.created };
      } catch (error) {
        if (error instanceof PipelineRunRejectedError) {
          return { kind: 'rejected', name, failure: classifyCreateError(error.status, error.message) };
        }
        throw error;
      }
    },

    /** Watches the PipelineRun to its end, heartbeating; a new worker resumes the watch after a crash. */
    async awaitPipelineRun(input: { name: string }): Promise<PipelineRunOutcome> {
      const context = Context.current();
      return pipelineRuns.waitForCompletion(deps.executionNamespace, input.name, {
        signal: context.cancellationSignal,
        heartbeatMs: deps.heartbeatMs ?? 5_000,
        onProgress: (outcome) => context.heartbeat(outcome),
      });
    },

    async cancelPipelineRun(input: { name: string }): Promise<void> {
      await pipelineRuns.cancel(deps.executionNamespace, input.name);
    },

    /** Records one attempt's outcome into the target record and releases the lock (§5), exactly once. */
    async recordOutcome(input: RecordOutcomeInput): Promise<RecordedOutcome> {
      let released: TargetState | null = null;
      const result = await withCas(async (): Promise<RecordedOutcome> => {
        const target = await ledger.getTarget(input.targetKey);
        const at = iso(now());
        if (
          target.lastSuccess?.pipelineRun === input.pipelineRun ||
          target.lastFailure?.pipelineRun === input.pipelineRun
        ) {
          return { ...summarize(target), backoffMs: null, recorded: false };
        }
        let next: TargetState;
        let backoffMs: number | null = null;
        if (input.outcome.succeeded) {
          next = {
            ...target,
            consecutiveFailures: 0,
            nextAllowedExecution: null,
            lastSuccess: {
              actionId: input.actionId,
              remediationId: input.remediationId,
              pipelineRun: input.pipelineRun,
              at,
            },
          };
        } else {
          const failure = input.outcome.failure;
          const lastFailure = {
            ...failure,
            pipelineRun: input.pipelineRun,
            remediationId: input.remediationId,
            at,
          };
          if (failure.wasExecutionFailure) {
            next = {
              ...target,
              lastFailure,
              manualReview: {
                required: true,
                reason: `${failure.category} (${failure.reason}) in PipelineRun ${input.pipelineRun}: ${failure.message}`,
                since: at,
                remediationId: input.remediationId,
              },
            };
          } else {
            const failures = target.consecutiveFailures + 1;
            backoffMs = backoff(failures, policy.backoff, () => input.jitterSample);
            next = {
              ...target,
              lastFailure,
              consecutiveFailures: failures,
              nextAllowedExecution: iso(Date.parse(at) + backoffMs),
            };
          }
        }
        // Fencing: only the holder of the current token may release; a taken-over lock stays with its new holder.
        if (
          target.lock?.remediationId === input.remediationId &&
          target.lock.fencingToken === input.fencingToken
        ) {
          next = { ...next, lock: null };
        }
        const stored = await ledger.putTarget(next);
        if (target.lock !== null && stored.lock === null) released = stored;
        count('remediation_pipelinerun_outcomes', 'Recorded PipelineRun outcomes by category', {
          category: input.outcome.succeeded ? 'Succeeded' : input.outcome.failure.category,
          kind: input.outcome.succeeded
            ? 'success'
            : input.outcome.failure.wasExecutionFailure
              ? 'execution'
              : 'pre-execution',
        });
        return { ...summarize(stored), backoffMs, recorded: true };
      });
      if (released) await wakeHead(released, 'lock released');
      return result;
    },

    /**
     * Ends a remediation's hold on shared state (§4, §8): leaves the lock queue, releases the lock if
     * it still holds it, releases its fingerprint claim and moves the fingerprint's counter.
     */
    async finishRemediation(input: FinishInput): Promise<void> {
      const at = now();
      count('remediation_finished', 'Remediations that released their shared state, by final phase', {
        phase: input.phase,
      });
      let released: TargetState | null = null;
      await withCas(async () => {
        const target = await ledger.getTarget(input.targetKey);
        const holds = target.lock?.remediationId === input.remediationId;
        const queued = target.waiters.some((w) => w.remediationId === input.remediationId);
        if (!holds && !queued) return;
        const stored = await ledger.putTarget({
          ...target,
          lock: holds ? null : target.lock,
          waiters: target.waiters.filter((w) => w.remediationId !== input.remediationId),
        });
        if (holds || queued) released = stored;
      });
      await withCas(async () => {
        const fingerprint = await ledger.getFingerprint(input.fingerprintKey, input.fingerprint);
        // Only the claimant moves the counter, so a retried activity never counts twice.
        if (fingerprint.active?.remediationId !== input.remediationId) return;
        const next: FingerprintState = { ...fingerprint, active: null };
        if (input.duplicates && input.duplicates.count > 0) {
          next.duplicates = {
            count: fingerprint.duplicates.count + input.duplicates.count,
            lastAt: input.duplicates.lastAt,
          };
        }
        if (input.phase === 'Completed') next.consecutiveFailedRemediations = 0;
        if (input.phase === 'Failed') {
          next.consecutiveFailedRemediations = fingerprint.consecutiveFailedRemediations + 1;
          next.lastFailureAt = iso(at);
        }
        await ledger.putFingerprint(next);
      });
      if (released) await wakeHead(released, `${input.remediationId} finished`);
    },

    async recordOverride(input: {
      targetKey: string;
      remediationId: string;
      by: string;
      reason: string;
      skips: string;
    }): Promise<void> {
      await withCas(async () => {
        const target = await ledger.getTarget(input.targetKey);
        await ledger.putTarget({
          ...target,
          audit: audit(target, {
            action: 'override',
            by: input.by,
            reason: input.reason,
            at: iso(now()),
            remediationId: input.remediationId,
            details: { skips: input.skips },
          }),
        });
      });
    },

    /** Operator clear (§7): lifts PreviousExecutionFailed and ExhaustedRetries, audits, wakes waiters. */
    async clearTarget(input: ClearTargetInput): Promise<ClearTargetResult> {
      try {
        parseTargetKey(input.target);
      } catch (error) {
        throw ApplicationFailure.nonRetryable(String((error as Error).message), 'InvalidRequestError');
      }
      if (!input.reason.trim())
        throw ApplicationFailure.nonRetryable('reason: must not be empty', 'InvalidRequestError');
      const before = await withCas(async () => {
        const target = await ledger.getTarget(input.target);
        await ledger.putTarget({
          ...target,
          manualReview: null,
          consecutiveFailures: 0,
          nextAllowedExecution: null,
          audit: audit(target, { action: 'clear', by: input.by, reason: input.reason, at: iso(now()) }),
        });
        return target;
      });
      const woken = await remediations.runningOnTarget(input.target);
      await Promise.all(woken.map((id) => remediations.wake(id, `target cleared by ${input.by}`)));
      return {
        target: input.target,
        cleared: {
          manualReviewRequired: before.manualReview?.required ?? false,
          consecutiveFailures: before.consecutiveFailures,
          nextAllowedExecution: before.nextAllowedExecution,
        },
        woken,
      };
    },
  };
}

export type RemediationActivities = ReturnType<typeof createActivities>;

function summarize(target: TargetState): Omit<RecordedOutcome, 'backoffMs' | 'recorded'> {
  return {
    consecutiveFailures: target.consecutiveFailures,
    nextAllowedExecution: target.nextAllowedExecution,
    manualReviewRequired: target.manualReview?.required ?? false,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Label values: ≤ 63 chars of [A-Za-z0-9._-], alphanumeric at both ends. */
function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'x';
}
