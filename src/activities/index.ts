/**
 * Activities: thin shells around the pure ledger transitions (src/domain/ledger.ts). Each one
 * reads, calls one transition, writes with compare-and-swap (retried on conflict) and then
 * carries out the transition's effects (wake a waiter, tell an original about a duplicate,
 * cancel a run). Every decision lives in the domain core, where the simulation can attack it.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { Runtime } from '@temporalio/worker';
import * as budgets from '../domain/budget';
import {
  admitAction,
  createRefusal,
  type ActionAdmission,
  type AdmissionPolicy,
  type ResolvedAction,
} from '../domain/catalog';
import { classifyCreateError } from '../domain/classifier';
import type { PolicyConfig } from '../domain/config';
import * as core from '../domain/ledger';
import type { BudgetState, DryRunRecord, Failure, Phase, TargetState } from '../domain/model';
import { parseTargetKey, targetKey, type RemediationRequest } from '../domain/request';
import type { RoutingVerdict } from '../domain/routing';
import type { ActionCatalog } from '../ports/action-catalog';
import type { Ledger } from '../ports/ledger';
import {
  PipelineRunConflictError,
  PipelineRunRejectedError,
  type PipelineRunOutcome,
  type PipelineRunRequest,
  type PipelineRuns,
} from '../ports/pipeline-runs';
import type { Remediations } from '../ports/remediations';
import {
  ErrorType,
  type ActionCatalogView,
  type ClearTargetInput,
  type ClearTargetResult,
} from '../temporal-contract';
import { withCas as retryCas, type Sleep } from './cas';

export interface ActivityDeps {
  ledger: Ledger;
  pipelineRuns: PipelineRuns;
  remediations: Remediations;
  policy: PolicyConfig;
  /**
   * The operators' action catalog. Absent means an empty catalog: every action is uncatalogued and
   * runs only when the policy allows uncatalogued actions.
   */
  catalog?: ActionCatalog;
  /** Namespace of the catalog (and the ledger), named in refusals. */
  controlNamespace?: string;
  /** Namespace where PipelineRuns (and the Pipelines they reference) live. */
  executionNamespace: string;
  clock?: () => number;
  /** How often a PipelineRun watch reports progress (and so heartbeats). */
  heartbeatMs?: number;
  /** How a lost compare-and-swap waits before it re-reads (the simulation's is instant). */
  sleep?: Sleep;
  /** Which attempt of the current activity this is, outside Temporal (the simulation). */
  attempt?: () => number;
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
  /** The action needs an approval not given yet (absent in histories recorded before approvals). */
  awaitingApproval?: boolean;
}

export interface RouteResult {
  verdict: RoutingVerdict;
  /** Set when the verdict is `run`: this remediation now holds the target lock with this token. */
  fencingToken: number | null;
  at: number;
}

export interface StartPipelineRunInput {
  ref: RemediationRef;
  request: RemediationRequest;
  attempt: number;
  fencingToken: number;
  /** Epoch ms; the create refuses at or after it. Absent in histories recorded before it existed. */
  deadline?: number;
  /** An operator approved this remediation (absent: it holds no approval, as in histories before approvals). */
  approved?: boolean;
}

export type StartPipelineRunResult =
  | { kind: 'started'; name: string; created: boolean; notAfter?: number }
  | { kind: 'rejected'; name: string; failure: Failure }
  | {
      kind: 'refused';
      name: string;
      reason: 'DeadlineExceeded' | 'LockLost' | 'ActionNotAllowed';
      message: string;
    };

export type DryRunPipelineRunResult =
  | { kind: 'dryRun'; record: DryRunRecord }
  | { kind: 'refused'; name: string; reason: 'DeadlineExceeded' | 'ActionNotAllowed'; message: string };

export interface RecordOutcomeInput extends RemediationRef {
  actionId: string;
  pipelineRun: string;
  fencingToken: number;
  outcome: core.OutcomeInput['outcome'];
  /** Replay-safe random sample in [0, 1) drawn by the workflow for the backoff jitter. */
  jitterSample: number;
}

export interface RecordedOutcome {
  consecutiveFailures: number;
  nextAllowedExecution: string | null;
  backoffMs: number | null;
  manualReviewRequired: boolean;
  /** False when this acquisition's outcome had already been recorded (a retried activity). */
  recorded: boolean;
}

export interface FinishInput extends RemediationRef {
  /** Absent in histories recorded before runs were told apart: then any run of the workflow id. */
  runId?: string;
  phase: Phase;
  /** Verification found it Ineffective: counted as a failed remediation of the fingerprint. */
  ineffective?: boolean;
  /** Duplicates of this remediation skipped while it held the fingerprint (added to the record). */
  duplicates?: { count: number; lastAt: string | null };
  /** Its action, so the budget slots it holds can be found (absent in histories recorded before budgets). */
  actionId?: string;
  /** The verification verdict, for actions with `verification` (counted per verdict). */
  verification?: 'Effective' | 'Ineffective';
}

export type StopResult = { name: string | null } & (
  | { state: 'missing' }
  | { state: 'cancelled' }
  | { state: 'stillRunning' }
  | { state: 'finished'; outcome: Exclude<PipelineRunOutcome, { state: 'running' }> }
);

/** The run to stop: by name, or — when the create's answer never arrived — the one announced on the lock. */
export type StopInput = { name: string } | { targetKey: string; remediationId: string; fencingToken: number };

/**
 * Product counters, exported with the SDK's runtime metrics (Prometheus, see src/worker.ts):
 * routing decisions by check and result, PipelineRun outcomes by category, remediations by phase.
 * On the runtime's meter with snake_case labels: the activity context's meter adds camelCase
 * `taskQueue`/`activityType`, which Prometheus's conventions (and `promtool check metrics`) refuse.
 */
function count(name: string, description: string, tags: Record<string, string>): void {
  const context = currentContext();
  if (!context) return;
  const { namespace, taskQueue, activityType } = context.info;
  Runtime.instance()
    .metricMeter.createCounter(name, undefined, description)
    .add(1, { namespace, task_queue: taskQueue, activity_type: activityType, ...tags });
}

function currentContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null; // called outside an activity (unit tests, the simulation)
  }
}

/** Deterministic per (remediation, attempt), short enough for Tekton's 63-char child names. */
export function pipelineRunName(remediationId: string, attempt: number): string {
  return `rem-${hash(remediationId).slice(0, 16)}-${attempt}`;
}

/**
 * Deterministic per lock acquisition: the fencing token is part of the name, so a remediation id
 * reused after its workflow closed never meets (and never adopts) the runs of its namesake (I10).
 */
export function fencedPipelineRunName(remediationId: string, fencingToken: number, attempt: number): string {
  return `rem-${hash(remediationId).slice(0, 12)}-${fencingToken}-${attempt}`;
}

/** Tekton wants Go durations ("30m0s"). */
export function tektonDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m${s % 60}s`;
}

/** The catalog capabilities this worker implements; an action asking for another is refused. */
const SUPPORTED_CAPABILITIES: AdmissionPolicy['supports'] = {
  dryRun: true,
  approval: true,
  verification: true,
};

export function createActivities(deps: ActivityDeps) {
  const { ledger, pipelineRuns, remediations, policy, catalog } = deps;
  const admissionPolicy: AdmissionPolicy = {
    allowUncataloguedActions: policy.allowUncataloguedActions,
    pipelineRunTimeoutMs: policy.pipelineRunTimeoutMs,
    shadow: policy.mode === 'Shadow',
    catalogNamespace: deps.controlNamespace ?? 'the control namespace',
    supports: SUPPORTED_CAPABILITIES,
  };
  const ns = deps.executionNamespace;
  const now = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const withCas = <T>(attempt: () => Promise<T>) => retryCas(attempt, { sleep });
  const isRetry = () => (currentContext()?.info.attempt ?? deps.attempt?.() ?? 1) > 1;

  /** Which of these workflows are closed; `queue` is asked in order until the first live one. */
  async function closedAmong(q: core.RouteQuestions): Promise<Set<string>> {
    const closed = new Set<string>();
    if (q.lockHolder && !(await remediations.isRunning(q.lockHolder.workflowId, q.lockHolder.runId)))
      closed.add(q.lockHolder.workflowId);
    if (q.claimant && !(await remediations.isRunning(q.claimant))) closed.add(q.claimant);
    for (const queue of [q.queue, ...(q.budgetQueues ?? [])]) {
      for (const id of queue) {
        if (closed.has(id)) continue;
        if (await remediations.isRunning(id)) break;
        closed.add(id);
      }
    }
    return closed;
  }

  /** The budgets that apply to a remediation of `actionId` on `targetKey`, in policy order. */
  function budgetsFor(targetKey: string, actionId: string | undefined): budgets.ApplicableBudget[] {
    if (policy.budgets.length === 0) return [];
    const namespace = budgets.namespaceOfTargetKey(targetKey);
    // Without its action (a history from before budgets) only the budgets that ignore actions are known.
    if (actionId === undefined)
      return budgets.applicableBudgets(
        policy.budgets.filter(
          (b) => b.match.actions === null && (b.scope === 'cluster' || b.scope === 'namespace'),
        ),
        namespace,
        '',
      );
    return budgets.applicableBudgets(policy.budgets, namespace, actionId);
  }

  /**
   * Slots of full budgets whose holders have closed and whose targets show no lock or unsettled run
   * of theirs any more (I2). A closed holder's target still showing one is reclaimed first, the way
   * a routing pass on that target would: the lock freed (its run unsettled), a stopped run settled.
   */
  async function deadSlots(
    applicable: budgets.ApplicableBudget[],
    states: BudgetState[],
    caller: core.Caller,
  ): Promise<Set<string>> {
    const dead = new Set<string>();
    for (const [i, state] of states.entries()) {
      const limit = applicable[i]!.policy.maxConcurrent;
      const others = state.holders.filter((h) => h.remediationId !== caller.remediationId);
      if (limit === null || others.length < limit) continue; // nothing to gain: no lookups
      for (const holder of others) {
        if (dead.has(budgets.holderId(holder)) || (await remediations.isRunning(holder.workflowId))) continue;
        const { stored, effects } = await updateTarget(holder.targetKey, async (target) => {
          const lock = target.lock;
          const closed = new Set(lock?.fencingToken === holder.fencingToken ? [holder.workflowId] : []);
          const runs = new Map<string, core.ObservedRun>();
          for (const name of core.runsToObserve(target, closed)) {
            const observed = await observe(name);
            if (observed) runs.set(name, observed);
          }
          // Dead waiters at the front would swallow the wake if this frees the lock (I2).
          return core.reclaimForBudget(
            await pruneDeadWaiters(target),
            caller,
            { closed, runs },
            now(),
            policy,
          );
        });
        await carryOut(effects);
        if (budgets.slotIsDead(holder, stored)) dead.add(budgets.holderId(holder));
      }
    }
    return dead;
  }

  /**
   * After the lock is released: gives back this remediation's budget slots (unless a run of it is
   * still unsettled on its target) and its queue places, waking the next waiter where there is room.
   */
  async function leaveBudgets(
    ref: { targetKey: string; remediationId: string; workflowId: string },
    actionId: string | undefined,
    target: TargetState,
  ): Promise<void> {
    for (const applicable of budgetsFor(ref.targetKey, actionId)) {
      const wake = await withCas(async () => {
        const state = await ledger.getBudget(budgets.emptyBudgetFor(applicable));
        if (state.version === null) return null;
        const holder = state.holders.find(
          (h) => h.remediationId === ref.remediationId && h.workflowId === ref.workflowId,
        );
        const queued = state.waiters.some((w) => w.remediationId === ref.remediationId);
        if (!holder && !queued) return null;
        // Dead waiters at the front would swallow the wake (I2).
        const closed = await closedAmong({
          lockHolder: null,
          claimant: null,
          queue: state.waiters.map((w) => w.workflowId),
        });
        const left = budgets.leave(
          budgets.reclaim(state, new Set(), closed),
          ref,
          holder !== undefined && budgets.slotIsDead(holder, target),
          applicable.policy,
          now(),
        );
        if (left.state !== state) await ledger.putBudget(left.state);
        return left.wake;
      });
      if (wake)
        await carryOut([{ kind: 'wake', workflowId: wake, cause: `budget ${applicable.key} has room` }]);
    }
  }

  /** Before a release wakes the next waiter: dead ones at the front are dropped (I2). */
  async function pruneDeadWaiters(target: TargetState): Promise<TargetState> {
    const closed = await closedAmong({
      lockHolder: null,
      claimant: null,
      queue: core.wakeQuestions(target, now()),
    });
    return core.pruneWaiters(target, closed);
  }

  async function observe(name: string): Promise<core.ObservedRun | undefined> {
    try {
      const outcome = await pipelineRuns.observe(ns, name);
      if (!outcome) return { state: 'missing' };
      return outcome.state === 'failed'
        ? { state: 'failed', failure: outcome.failure }
        : { state: outcome.state };
    } catch (error) {
      log.warn('could not observe a PipelineRun; routing looks again later', { pipelineRun: name, error });
      return undefined;
    }
  }

  async function carryOut(effects: core.Effect[]): Promise<void> {
    for (const effect of effects) {
      try {
        if (effect.kind === 'wake') await remediations.wake(effect.workflowId, effect.cause);
        else if (effect.kind === 'notifyDuplicate')
          await remediations.notifyDuplicate(effect.workflowId, {
            remediationId: effect.remediationId,
            at: effect.at,
          });
        else await pipelineRuns.cancel(ns, effect.pipelineRun);
      } catch (error) {
        // Best effort: a waiter re-checks on its own, an orphan is looked at again next pass.
        log.warn('could not carry out a ledger effect', { effect, error });
      }
    }
  }

  /** The catalog's verdict on a request; an unsynced catalog throws (retried), never fails open. */
  async function admit(request: RemediationRequest): Promise<ActionAdmission> {
    const entry = catalog ? await catalog.get(request.action.id) : undefined;
    return admitAction(request, entry, admissionPolicy);
  }

  /**
   * This attempt's PipelineRun exactly as it would be created: the action admitted again (the catalog
   * may have been tightened since the remediation started) and its target params filled from the
   * target the remediation holds the lock of.
   */
  async function plan(
    input: StartPipelineRunInput,
  ): Promise<
    | { kind: 'planned'; name: string; run: PipelineRunRequest; timeoutMs: number; action: ResolvedAction }
    | { kind: 'refused'; name: string; reason: 'ActionNotAllowed'; message: string }
  > {
    const { ref, request, attempt, fencingToken } = input;
    const name =
      input.deadline !== undefined
        ? fencedPipelineRunName(ref.remediationId, fencingToken, attempt)
        : pipelineRunName(ref.remediationId, attempt);
    const admission =
      ref.targetKey === targetKey(request.target)
        ? await admit(request)
        : ({
            kind: 'refused',
            message: `action not allowed: the request's target ${targetKey(request.target)} is not the locked target ${ref.targetKey}`,
          } as const);
    if (admission.kind === 'refused')
      return { kind: 'refused', name, reason: 'ActionNotAllowed', message: admission.message };
    const { action } = admission;
    const timeoutMs =
      action.timeoutMs && action.timeoutMs > 0 ? action.timeoutMs : policy.pipelineRunTimeoutMs;
    const run: PipelineRunRequest = {
      name,
      namespace: ns,
      pipeline: action.pipeline,
      params: action.params,
      ...(action.serviceAccountName ? { serviceAccountName: action.serviceAccountName } : {}),
      timeout: tektonDuration(timeoutMs),
      labels: runLabels(ref, request, attempt, fencingToken),
      annotations: {
        'remediation.dev/remediation-id': ref.remediationId,
        'remediation.dev/target': ref.targetKey,
        'remediation.dev/fingerprint': ref.fingerprintKey,
      },
    };
    return { kind: 'planned', name, run, timeoutMs, action };
  }

  /** Reads a target, applies `transition`, writes it if it changed (compare-and-swap, retried). */
  async function updateTarget<R extends { target: TargetState; changed?: boolean }>(
    key: string,
    transition: (target: TargetState) => Promise<R> | R,
  ): Promise<R & { stored: TargetState }> {
    return withCas(async () => {
      const current = await ledger.getTarget(key);
      const result = await transition(current);
      const changed = result.changed ?? JSON.stringify(result.target) !== JSON.stringify(current);
      const stored = changed ? await ledger.putTarget(result.target) : current;
      return { ...result, stored };
    });
  }

  return {
    /** The worker's policy, recorded in history so replays see the same numbers. */
    async loadPolicy(): Promise<{ policy: PolicyConfig; executionNamespace: string }> {
      return { policy, executionNamespace: ns };
    },

    /**
     * The action catalog's verdict on a request, before anything is written: what exactly it runs,
     * or every violated rule naming its field.
     */
    async admitAction(input: { request: RemediationRequest }): Promise<ActionAdmission> {
      const admission = await admit(input.request);
      count('remediation_action_admissions', 'Action catalog decisions by result', {
        action: input.request.action.id,
        result: admission.kind,
      });
      return admission;
    },

    /** The catalog as this worker sees it (`remediate actions`). */
    async listActions(): Promise<ActionCatalogView> {
      return {
        entries: catalog ? await catalog.list() : [],
        allowUncataloguedActions: policy.allowUncataloguedActions,
        namespace: admissionPolicy.catalogNamespace,
      };
    },

    /** One routing pass: the checks, the claim, the queue and the lock in one compare-and-swap. */
    async route(input: RouteInput): Promise<RouteResult> {
      const caller = { remediationId: input.remediationId, workflowId: input.workflowId, runId: input.runId };
      const applicable = budgetsFor(input.targetKey, input.actionId);
      const result = await withCas(async () => {
        const budgetStates = await Promise.all(
          applicable.map((a) => ledger.getBudget(budgets.emptyBudgetFor(a))),
        );
        // Before the target is read: reclaiming may itself write a target (maybe this one).
        const dead = applicable.length ? await deadSlots(applicable, budgetStates, caller) : undefined;
        const [fingerprint, target] = await Promise.all([
          ledger.getFingerprint(input.fingerprintKey, input.fingerprint),
          ledger.getTarget(input.targetKey),
        ]);
        const at = now();
        const closed = await closedAmong(core.routeQuestions(target, fingerprint, caller, at, budgetStates));
        const runs = new Map<string, core.ObservedRun>();
        for (const name of core.runsToObserve(target, closed)) {
          const observed = await observe(name);
          if (observed) runs.set(name, observed);
        }
        const next = core.route(
          { target, fingerprint, budgets: budgetStates },
          { ...input, caller, budgets: applicable },
          { closed, runs, ...(dead ? { deadSlots: dead } : {}) },
          at,
          policy,
        );
        const writeBudgets = async () => {
          for (const [i, state] of next.budgets.entries())
            if (JSON.stringify(state) !== JSON.stringify(budgetStates[i])) await ledger.putBudget(state);
        };
        // Budget slots before the lock, so every lock holder holds its slots; given back after it.
        if (next.verdict.kind === 'run') await writeBudgets();
        // Fingerprint first: a claim without its queue place is released by the workflow's end.
        if (JSON.stringify(next.fingerprint) !== JSON.stringify(fingerprint))
          await ledger.putFingerprint(next.fingerprint);
        if (JSON.stringify(next.target) !== JSON.stringify(target)) await ledger.putTarget(next.target);
        if (next.verdict.kind !== 'run') await writeBudgets();
        return { ...next, at };
      });
      await carryOut(result.effects);
      count('remediation_routing_decisions', 'Routing decisions by deciding check and result', {
        check: result.verdict.kind === 'run' ? 'AllPassed' : result.verdict.reason,
        result: result.verdict.kind,
      });
      const blockedBy = result.verdict.kind !== 'run' ? result.verdict.budget : undefined;
      if (blockedBy)
        count('remediation_budget_blocks', 'Routing passes blocked by a budget (BudgetExceeded)', {
          budget: blockedBy.budget,
          scope: blockedBy.scope,
          key: blockedBy.key,
          limited_by: blockedBy.limitedBy,
        });
      return { verdict: result.verdict, fencingToken: result.fencingToken, at: result.at };
    },

    /**
     * Creates this attempt's PipelineRun, or adopts it when a retry finds it already there. The
     * run is first announced on the lock (fenced: refused when the lock is no longer ours), and
     * nothing is created at or after the deadline (I4).
     */
    async startPipelineRun(input: StartPipelineRunInput): Promise<StartPipelineRunResult> {
      const { ref, request, fencingToken } = input;
      const planned = await plan(input);
      if (planned.kind === 'refused') return planned;
      const { name, run, timeoutMs } = planned;
      const refusal = createRefusal(planned.action, input.approved === true);
      if (refusal) return { kind: 'refused', name, reason: 'ActionNotAllowed', message: refusal };
      const notAfter = now() + timeoutMs + policy.watchGraceMs;
      const intent = { remediationId: ref.remediationId, fencingToken, pipelineRun: name };
      const begun = await updateTarget(ref.targetKey, (target) => {
        const t = core.beginRun(
          target,
          { ...intent, notAfter, deadline: input.deadline ?? Infinity, actionId: request.action.id },
          now(),
        );
        return t.kind === 'begin' ? { ...t, refusal: null } : { target, changed: false, refusal: t };
      });
      if (begun.refusal) {
        if (begun.refusal.reason === 'DeadlineExceeded') {
          // An earlier attempt may have created it before the deadline: then it is ours to follow.
          if (await pipelineRuns.observe(ns, name))
            return { kind: 'started', name, created: false, notAfter };
          await updateTarget(ref.targetKey, (target) => core.abandonRun(target, intent));
        }
        return { kind: 'refused', name, reason: begun.refusal.reason, message: begun.refusal.message };
      }
      try {
        const created = await pipelineRuns.create(run);
        return { kind: 'started', name, created: created.created, notAfter };
      } catch (error) {
        if (error instanceof PipelineRunRejectedError) {
          return { kind: 'rejected', name, failure: classifyCreateError(error.status, error.message) };
        }
        if (error instanceof PipelineRunConflictError)
          throw ApplicationFailure.nonRetryable(error.message, ErrorType.PipelineRunConflict);
        throw error;
      }
    },

    /**
     * Dry run in place of the create (action mode DryRun, policy mode Shadow): the exact PipelineRun
     * this attempt would create, checked against its Pipeline and submitted as a server-side dry run.
     * Nothing is created; the target records `lastDryRun`; counters are untouched.
     */
    async dryRunPipelineRun(input: StartPipelineRunInput): Promise<DryRunPipelineRunResult> {
      const { ref, request } = input;
      const planned = await plan(input);
      if (planned.kind === 'refused') return planned;
      const { name, run } = planned;
      if (input.deadline !== undefined && now() >= input.deadline)
        return {
          kind: 'refused',
          name,
          reason: 'DeadlineExceeded',
          message: 'the deadline passed before the dry run',
        };
      const result = await pipelineRuns.dryRun(run);
      const record: DryRunRecord = {
        actionId: request.action.id,
        remediationId: ref.remediationId,
        at: new Date(now()).toISOString(),
        wouldRun: result.wouldRun,
        pipelineExists: result.pipelineExists,
        accepted: result.accepted,
        rejection: result.rejection ? `${result.rejection.status}: ${result.rejection.message}` : null,
      };
      await updateTarget(ref.targetKey, (target) => ({ target: core.recordDryRun(target, record) }));
      count('remediation_dry_runs', 'Dry runs by whether the PipelineRun would have been accepted', {
        action: request.action.id,
        result: !result.pipelineExists ? 'PipelineMissing' : result.accepted ? 'Accepted' : 'Rejected',
      });
      return { kind: 'dryRun', record };
    },

    /** An operator approved or rejected a remediation awaiting approval: audited on the target. */
    async recordApproval(input: {
      targetKey: string;
      remediationId: string;
      actionId: string;
      by: string;
      reason: string;
      decision: 'approve' | 'reject';
    }): Promise<void> {
      await updateTarget(input.targetKey, (target) => ({
        target: core.auditApproval(target, input, now()),
        changed: true,
      }));
      count('remediation_approvals', 'Approval decisions by outcome', {
        action: input.actionId,
        decision: input.decision,
      });
    },

    /**
     * Watches the PipelineRun to its end, heartbeating; a new worker resumes the watch after a
     * crash. Bounded (I4): past `notAfter` (its timeout plus the watch grace) the run is
     * cancelled and reported as an execution failure, since what it did is unknown.
     */
    async awaitPipelineRun(input: { name: string; notAfter?: number }): Promise<PipelineRunOutcome> {
      const context = currentContext();
      const controller = new AbortController();
      const abort = () => controller.abort();
      context?.cancellationSignal.addEventListener('abort', abort);
      let timedOut = false;
      const bound =
        input.notAfter === undefined
          ? undefined
          : setTimeout(
              () => {
                timedOut = true;
                controller.abort();
              },
              Math.max(0, input.notAfter - now()),
            );
      try {
        return await pipelineRuns.waitForCompletion(ns, input.name, {
          signal: controller.signal,
          heartbeatMs: deps.heartbeatMs ?? 5_000,
          onProgress: (outcome) => context?.heartbeat(outcome),
        });
      } catch (error) {
        if (!timedOut || input.notAfter === undefined) throw error;
        await pipelineRuns.cancel(ns, input.name);
        return {
          state: 'failed',
          failure: core.watchTimedOut(input.name, new Date(input.notAfter).toISOString()),
        };
      } finally {
        clearTimeout(bound);
        context?.cancellationSignal.removeEventListener('abort', abort);
      }
    },

    /** Kept for histories recorded before stopPipelineRun existed. */
    async cancelPipelineRun(input: { name: string }): Promise<void> {
      await pipelineRuns.cancel(ns, input.name);
    },

    /**
     * The cancel path (I7): cancels the run unless it already finished, then waits (bounded by
     * the watch grace) until it has stopped, so the lock is released only after that.
     */
    async stopPipelineRun(input: StopInput): Promise<StopResult> {
      let name: string | null = 'name' in input ? input.name : null;
      if (!('name' in input)) {
        const lock = (await ledger.getTarget(input.targetKey)).lock;
        const ours = lock?.remediationId === input.remediationId && lock.fencingToken === input.fencingToken;
        name = ours ? (lock.run?.pipelineRun ?? null) : null;
      }
      if (!name) return { name, state: 'missing' };
      const before = await pipelineRuns.observe(ns, name);
      if (!before) return { name, state: 'missing' };
      if (before.state !== 'running') return { name, state: 'finished', outcome: before };
      await pipelineRuns.cancel(ns, name);
      const until = now() + policy.watchGraceMs;
      for (;;) {
        const after = await pipelineRuns.observe(ns, name);
        if (!after) return { name, state: 'cancelled' };
        if (after.state === 'succeeded') return { name, state: 'finished', outcome: after };
        if (after.state === 'failed')
          return /Cancelled/.test(after.failure.reason)
            ? { name, state: 'cancelled' }
            : { name, state: 'finished', outcome: after };
        if (now() >= until) return { name, state: 'stillRunning' };
        currentContext()?.heartbeat(after);
        await sleep(500);
      }
    },

    /** Records one acquisition's outcome and releases its lock, exactly once (I3). */
    async recordOutcome(input: RecordOutcomeInput): Promise<RecordedOutcome> {
      const result = await updateTarget(input.targetKey, async (target) =>
        core.recordOutcome(await pruneDeadWaiters(target), input, now(), policy, isRetry()),
      );
      await carryOut(result.effects);
      await leaveBudgets(input, input.actionId, result.stored);
      if (result.recorded && !('cancelled' in input.outcome)) {
        const failure = input.outcome.succeeded ? null : input.outcome.failure;
        count('remediation_pipelinerun_outcomes', 'Recorded PipelineRun outcomes by category', {
          category: failure?.category ?? 'Succeeded',
          kind: !failure ? 'success' : failure.wasExecutionFailure ? 'execution' : 'pre-execution',
        });
      }
      return { ...summarize(result.stored), backoffMs: result.backoffMs, recorded: result.recorded };
    },

    /** Ends a remediation's hold on shared state: queue place, lock, fingerprint claim and counter. */
    async finishRemediation(input: FinishInput): Promise<void> {
      count('remediation_finished', 'Remediations that released their shared state, by final phase', {
        phase: input.phase,
      });
      if (input.verification)
        count('remediation_verifications', 'Verified remediations by verdict (did the fix work)', {
          action: input.actionId ?? 'unknown',
          verdict: input.verification,
        });
      const finish: core.FinishInput = {
        caller: {
          remediationId: input.remediationId,
          workflowId: input.workflowId,
          runId: input.runId ?? '',
        },
        phase: input.phase,
        ...(input.duplicates ? { duplicates: input.duplicates } : {}),
        ...(input.ineffective ? { ineffective: true } : {}),
      };
      const onTarget = await updateTarget(input.targetKey, async (target) =>
        core.finishOnTarget(await pruneDeadWaiters(target), finish, now(), isRetry()),
      );
      await withCas(async () => {
        const fingerprint = await ledger.getFingerprint(input.fingerprintKey, input.fingerprint);
        const next = core.finishOnFingerprint(fingerprint, finish, now());
        if (next.changed) await ledger.putFingerprint(next.fingerprint);
      });
      await carryOut(onTarget.effects);
      await leaveBudgets(input, input.actionId, onTarget.stored);
    },

    async recordOverride(input: {
      targetKey: string;
      remediationId: string;
      by: string;
      reason: string;
      skips: string;
    }): Promise<void> {
      await updateTarget(input.targetKey, (target) => ({
        target: core.auditOverride(target, input, now()),
        changed: true,
      }));
    },

    /** Operator clear: lifts PreviousExecutionFailed and ExhaustedRetries, audits, wakes waiters. */
    async clearTarget(input: ClearTargetInput): Promise<ClearTargetResult> {
      try {
        parseTargetKey(input.target);
      } catch (error) {
        throw ApplicationFailure.nonRetryable(String((error as Error).message), ErrorType.InvalidRequest);
      }
      if (!input.reason?.trim())
        throw ApplicationFailure.nonRetryable('reason: must not be empty', ErrorType.InvalidRequest);
      if (!input.by?.trim())
        throw ApplicationFailure.nonRetryable('by: must not be empty', ErrorType.InvalidRequest);
      const result = await updateTarget(input.target, (target) => {
        const t = core.clearTarget(target, input, now());
        return t.kind === 'cleared'
          ? { ...t, changed: true }
          : { target, changed: false, notFound: t.message };
      });
      if ('notFound' in result)
        throw ApplicationFailure.nonRetryable(result.notFound, ErrorType.TargetNotFound);
      const woken = await remediations.runningOnTarget(input.target);
      await Promise.all(woken.map((id) => remediations.wake(id, `target cleared by ${input.by}`)));
      return { target: input.target, cleared: result.before, woken };
    },
  };
}

export type RemediationActivities = ReturnType<typeof createActivities>;

function runLabels(
  ref: RemediationRef,
  request: RemediationRequest,
  attempt: number,
  fencingToken: number,
): Record<string, string> {
  return {
    'remediation.dev/remediation-id': labelValue(ref.remediationId),
    'remediation.dev/target-hash': hash(ref.targetKey).slice(0, 40),
    'remediation.dev/fingerprint-hash': hash(ref.fingerprintKey).slice(0, 40),
    'remediation.dev/fencing-token': String(fencingToken),
    'remediation.dev/attempt': String(attempt),
    'remediation.dev/action': labelValue(request.action.id),
  };
}

function summarize(target: TargetState): Omit<RecordedOutcome, 'backoffMs' | 'recorded'> {
  return {
    consecutiveFailures: target.consecutiveFailures,
    nextAllowedExecution: target.nextAllowedExecution,
    manualReviewRequired: target.manualReview?.required ?? false,
  };
}

export function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Label values: ≤ 63 chars of [A-Za-z0-9._-], alphanumeric at both ends. */
function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'x';
}
