/**
 * One remediation = one workflow. It reads like docs/behaviour.md:
 *   loop { routing checks (one atomic activity) → run | durable wait | end }
 *   run: create PipelineRun → await it → record outcome (releases the lock)
 *        success → Completed; execution failure → Failed; pre-execution failure → route again (backoff)
 *   end: Completed and Skipped complete the workflow, Cancelled cancels it, Failed fails it (RemediationFailed)
 * Handlers first, main loop below. Time and randomness come from the workflow sandbox (replay-safe).
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RemediationActivities, RemediationRef } from '../activities';
import type { BudgetBlock } from '../domain/budget';
import { formatDuration } from '../domain/duration';
import { ActionMode, type ResolvedAction } from '../domain/catalog';
import { BlockKind, BlockReason, EndReason, Phase, type Failure } from '../domain/model';
import { describeOperatorErrors, operatorInputErrors } from '../domain/operator';
import { REMEDIATION_FAILED, failsWorkflow, remediationFailedMessage } from '../outcome';
import { fingerprintKey, parseRemediationRequest, resolveDeadline, targetKey } from '../domain/request';
import {
  ErrorType,
  SearchAttributes,
  approveUpdate,
  rejectUpdate,
  resolvedSignal,
  duplicateSignal,
  nonRetryableErrorTypes,
  overrideUpdate,
  remediationIdFromWorkflowId,
  statusQuery,
  wakeSignal,
  type ContinuedRemediation,
  type RemediationInput,
  type RemediationStatus,
} from '../temporal-contract';
import { RemediationTracker } from './tracker';
import { now, replaySafeRandom } from './time';

const retry = {
  initialInterval: '1s',
  maximumInterval: '10s',
  backoffCoefficient: 2,
  nonRetryableErrorTypes,
};
const ledger = proxyActivities<RemediationActivities>({ startToCloseTimeout: '1m', retry });
const local = proxyLocalActivities<RemediationActivities>({ startToCloseTimeout: '10s', retry });
/** The catalog check waits out a catalog that has not synced yet, but not for ever. */
const admission = proxyLocalActivities<RemediationActivities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '10m',
  retry,
});
/**
 * Routing and the create as local activities (patched 'local-routing-and-create'): start → PipelineRun
 * in one workflow task, and a storm duplicate ends in the task that started it (docs/scale.md).
 * Both are compare-and-swap transitions that a retry repeats safely, as their regular form does.
 */
const localLedger = proxyLocalActivities<RemediationActivities>({ startToCloseTimeout: '1m', retry });
const localCreate = proxyLocalActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  // As the regular create: a cancel waits for the create's answer, so the cancel path knows the run.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
});
const tekton = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '3h',
  heartbeatTimeout: '30s',
  // Wait for the watch to stop before cleaning up, so nothing races the PipelineRun cancel.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
});

export async function remediation(input: RemediationInput): Promise<RemediationStatus> {
  const info = workflowInfo();
  // The safety-invariants behaviour (bounded watch, fenced create, cancel that settles, bounded
  // history, …); histories recorded before it replay the earlier path.
  const v3 = patched('safety-invariants');
  const continued = v3 ? (input.continued ?? null) : null;
  // The action catalog decides what runs (docs/catalog.md); histories recorded before it skip the check.
  const checksCatalog = patched('action-catalog');
  // Approval and dry runs (docs/behaviour.md#verification-approval-dry-run); histories recorded before them take neither path.
  const approvesAndDryRuns = checksCatalog && patched('approval-and-dry-run');
  let admitted: ResolvedAction | null = null;
  // Verification and AlreadyResolved (docs/behaviour.md#verification-approval-dry-run); earlier histories never see a resolved signal.
  const verifies = approvesAndDryRuns && patched('verification');
  // The verdict as a search attribute of its own (RemediationVerification); earlier histories never upsert it.
  const verdictAttribute = verifies && patched('verification-search-attribute');
  const routesLocally = patched('local-routing-and-create');
  /** Duplicates counted by this run (local routing): each once, however often it tells. */
  const countedDuplicates = new Set<string>();
  const router = routesLocally ? localLedger : ledger;
  const creator = routesLocally ? localCreate : tekton;
  let signalResolved: { reason: string | null } | null = null;
  let refiredBy: string | null = null;
  let ineffective = false;
  const request = validate(input.request);
  let pipelineName = request.action.pipeline ?? request.action.id;
  const remediationId = input.remediationId ?? request.id ?? remediationIdFromWorkflowId(info.workflowId);
  const ref: RemediationRef = {
    remediationId,
    workflowId: info.workflowId,
    targetKey: targetKey(request.target),
    fingerprintKey: fingerprintKey(request),
    fingerprint: request.signal.fingerprint,
  };
  const tracker = new RemediationTracker({
    id: remediationId,
    target: ref.targetKey,
    fingerprint: ref.fingerprintKey,
    action: request.action.id,
    at: now(),
  });
  if (continued) tracker.restore(continued.status, continued.lastDuplicateAt, now(), info.runId);

  let wakeups = 0;
  let overrideActive = continued?.overrideActive ?? false;
  let pass = continued?.pass ?? 0;
  setHandler(statusQuery, () => tracker.status());
  setHandler(wakeSignal, () => void wakeups++);
  setHandler(duplicateSignal, ({ remediationId: duplicate }) => {
    // A duplicate's local routing runs again when its workflow task is retried, and tells again.
    if (routesLocally) {
      if (countedDuplicates.has(duplicate)) return;
      countedDuplicates.add(duplicate);
    }
    tracker.duplicateRecorded(now(), duplicate);
    // Fired again while the fix is being verified: it did not help.
    if (verifies && tracker.phase === Phase.Verifying) refiredBy ??= duplicate;
  });
  setHandler(resolvedSignal, (input) => {
    if (!verifies || tracker.isTerminal || signalResolved) return;
    signalResolved = { reason: typeof input?.reason === 'string' ? input.reason : null };
    tracker.note(
      now(),
      'resolved',
      `the signal resolved${signalResolved.reason ? `: ${signalResolved.reason}` : ''}`,
    );
    wakeups++;
  });
  setHandler(
    overrideUpdate,
    async ({ reason, by }) => {
      const skips = tracker.blockReason!;
      const passAtRequest = pass;
      // The validator refuses a missing `by`; `?? 'unknown'` only replays updates accepted before it did.
      await ledger.recordOverride.executeWithOptions({ summary: `Audit override by ${by ?? 'unknown'}` }, [
        { targetKey: ref.targetKey, remediationId, by: by ?? 'unknown', reason, skips },
      ]);
      // The remediation moved on while the audit was written: the override must not leak into a
      // later block it was never meant for.
      if (v3 && pass !== passAtRequest) {
        throw ApplicationFailure.create({
          message: `override not applied: the remediation left the ${skips} block while the override was being audited (now ${tracker.phase})`,
          nonRetryable: true,
        });
      }
      tracker.overridden(now(), by ?? 'unknown', reason);
      overrideActive = true;
      wakeups++;
      return { accepted: true, skips, message: `override accepted: skipping ${skips} once` };
    },
    {
      // only temporary blocks (1, 6, 7) can be overridden; never Duplicate or ResourceBusy.
      // `by` and `reason` are required and bounded (they are audited): refused before anything is written.
      validator: (request) => {
        const errors = operatorInputErrors(request);
        if (errors.length) throw new Error(describeOperatorErrors(errors));
        if (tracker.isTerminal) throw new Error(`remediation already ended (${tracker.phase})`);
        if (tracker.phase !== Phase.Blocked)
          throw new Error(`nothing to override: remediation is ${tracker.phase}, not blocked`);
        if (tracker.blockReason === BlockReason.BudgetExceeded)
          throw new Error(
            'override refused: BudgetExceeded is never overridable (a budget caps how much runs at once); raise the budget in the policy instead',
          );
        if (tracker.blockKind !== BlockKind.Temporary) {
          throw new Error(
            `override refused: ${tracker.blockReason} is a ${tracker.blockKind} block; overrides skip only temporary blocks ` +
              '(ConsecutiveFailures, RecentlyRemediated, ExponentialBackoff)',
          );
        }
      },
    },
  );

  for (const [update, decision] of [
    [approveUpdate, 'approve'],
    [rejectUpdate, 'reject'],
  ] as const) {
    setHandler(
      update,
      async ({ reason, by }) => {
        await ledger.recordApproval.executeWithOptions(
          { summary: `Audit ${decision === 'approve' ? 'approval' : 'rejection'} by ${by}` },
          [{ targetKey: ref.targetKey, remediationId, actionId: request.action.id, by, reason, decision }],
        );
        const state = decision === 'approve' ? 'Approved' : 'Rejected';
        tracker.approvalDecided(now(), state, by, reason);
        wakeups++;
        return {
          accepted: true,
          decision: state,
          message:
            decision === 'approve'
              ? 'approved: the remediation routes again and runs when every check passes'
              : 'rejected: the remediation ends Skipped (Rejected)',
        };
      },
      {
        validator: (input) => {
          const errors = operatorInputErrors(input);
          if (errors.length) throw new Error(describeOperatorErrors(errors));
          const approval = tracker.approval;
          if (tracker.isTerminal) throw new Error(`remediation already ended (${tracker.phase})`);
          if (!approval)
            throw new Error(`nothing to ${decision}: the action ${request.action.id} needs no approval`);
          if (approval.state !== 'Pending')
            throw new Error(
              `nothing to ${decision}: already ${approval.state.toLowerCase()} by ${approval.by}`,
            );
          if (decision === 'approve' && approval.forbidSelfApproval && input.by === approval.requestedBy)
            throw new Error(
              `self-approval refused: ${input.by} requested this remediation and action ${request.action.id} forbids approving one's own`,
            );
        },
      },
    );
  }

  // Handlers are registered before the first await, so `status` answers from the first moment.
  // A local activity: no task-queue round trip, which matters in an alert storm (patched: older
  // histories scheduled it as a regular activity).
  const { policy } = patched('policy-as-local-activity')
    ? await local.loadPolicy.executeWithOptions({ summary: 'Load remediation policy' }, [])
    : await ledger.loadPolicy.executeWithOptions({ summary: 'Load remediation policy' }, []);
  const deadline =
    continued?.deadline ??
    resolveDeadline(request.deadline, info.startTime.getTime(), policy.defaultDeadlineMs);
  if (v3 && !continued) {
    const asked = deadline - info.startTime.getTime();
    if (asked > policy.maxDeadlineMs) {
      throw ApplicationFailure.nonRetryable(
        `deadline: ${formatDuration(asked)} from the start is beyond the policy's maxDeadline of ${formatDuration(policy.maxDeadlineMs)}`,
        ErrorType.InvalidRequest,
      );
    }
    tracker.deadlineResolved(now(), deadline);
  } else if (!v3) {
    tracker.deadlineResolved(now(), deadline);
  }

  const publish = (): void => {
    const status = tracker.status();
    upsertSearchAttributes([
      { key: SearchAttributes.phase, value: status.phase },
      { key: SearchAttributes.blockReason, value: status.blockReason ?? status.reason },
      {
        key: SearchAttributes.blockedUntil,
        value: status.blockedUntil ? new Date(status.blockedUntil) : null,
      },
      { key: SearchAttributes.target, value: ref.targetKey },
      { key: SearchAttributes.fingerprint, value: request.signal.fingerprint },
      { key: SearchAttributes.action, value: request.action.id },
      ...(verdictAttribute && status.verification
        ? [{ key: SearchAttributes.verification, value: status.verification }]
        : []),
    ]);
    setCurrentDetails(
      `**${status.phase}**${status.blockReason ? ` — ${status.blockReason}` : ''}: ${status.message}`,
    );
  };

  let executing: string | null = null;
  /** The lock acquisition whose outcome is not recorded yet (v3): what a cancel must settle. */
  let holding: { fencingToken: number; name: string | null } | null = null;
  let holdsSharedState = continued?.holdsSharedState ?? false;
  let ending: Ending;
  try {
    ending = await routeAndRun();
  } catch (error) {
    // Continuing as new is no ending: the next run carries the claim and the queue place on.
    if (v3 && error instanceof ContinueAsNew) throw error;
    await CancellationScope.nonCancellable(async () => {
      if (!isCancellation(error)) return release(tracker.phase); // unexpected: free shared state, count nothing
      if (v3) {
        await settleOnCancel();
      } else if (executing) {
        await tekton.cancelPipelineRun.executeWithOptions({ summary: `Cancel PipelineRun ${executing}` }, [
          { name: executing },
        ]);
      }
      await release(Phase.Cancelled);
      tracker.end(now(), Phase.Cancelled, EndReason.Cancelled, 'cancelled by an operator');
      publish();
    });
    throw error;
  }
  // Shared state is released before the terminal phase shows, so a client that sees the end
  // also sees the lock, the fingerprint claim and the counters settled.
  await release(ending.phase);
  tracker.end(now(), ending.phase, ending.reason, ending.message, ending.extra);
  publish();
  // v3: a cancel that arrived while the outcome was recorded must not turn a finished remediation
  // into a cancelled workflow (status and Temporal would disagree).
  if (v3) await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  else await condition(allHandlersFinished);
  const final = tracker.status();
  // Failed closes the workflow as FAILED (non-retryable, the final status in its details), so the
  // Web UI's Failures filter, ExecutionStatus="Failed" and workflow_failed see it; the status query
  // still answers on the closed workflow. Histories recorded before this completed with the status.
  if (failsWorkflow(final.phase) && patched('failed-remediation-fails-workflow')) {
    throw ApplicationFailure.create({
      type: REMEDIATION_FAILED,
      message: remediationFailedMessage(final),
      nonRetryable: true,
      details: [final],
    });
  }
  return final;

  async function routeAndRun(): Promise<Ending> {
    if (checksCatalog) {
      const verdict = await admission.admitAction.executeWithOptions(
        { summary: `Check action ${request.action.id} against the catalog` },
        [{ request }],
      );
      if (verdict.kind === 'refused') {
        // Nothing is written: no claim, no queue place, no lock (a continued run releases what it holds).
        return {
          phase: tracker.ranPipelineRun ? Phase.Failed : Phase.Skipped,
          reason: EndReason.ActionNotAllowed,
          message: verdict.message,
        };
      }
      pipelineName = verdict.action.pipeline;
      tracker.actionAdmitted(now(), verdict.action);
      admitted = verdict.action;
      if (approvesAndDryRuns && admitted.approval.required && !tracker.approval)
        tracker.approvalRequired(now(), request.requestedBy ?? null, admitted.approval.forbidSelfApproval);
    }
    for (;;) {
      if (verifies && signalResolved && !admitted?.runWhenResolved) {
        return {
          phase: Phase.Skipped,
          reason: EndReason.AlreadyResolved,
          message: `the signal resolved before the remediation ran${signalResolved.reason ? ` (${signalResolved.reason})` : ''}: nothing to fix`,
        };
      }
      const approval = tracker.approval;
      if (approvesAndDryRuns && approval?.state === 'Rejected') {
        return {
          phase: tracker.ranPipelineRun ? Phase.Failed : Phase.Skipped,
          reason: EndReason.Rejected,
          message: `rejected by ${approval.by}: ${approval.reason}`,
        };
      }
      pass++;
      tracker.routing(now(), pass);
      publish();
      // Counted before routing: a wake that lands while the routing activity runs must not be lost.
      const seen = wakeups;
      const firstPass = !holdsSharedState;
      // v3: held from before the first pass, so a pass that claimed and then failed still releases.
      if (v3) holdsSharedState = true;
      const { verdict, fencingToken } = await router.route.executeWithOptions(
        { summary: `Routing checks, pass ${pass}${overrideActive ? ' (override active)' : ''}` },
        [
          {
            ...ref,
            runId: info.runId,
            actionId: request.action.id,
            deadline,
            overrideActive,
            ...(approvesAndDryRuns && approval ? { awaitingApproval: approval.state === 'Pending' } : {}),
          },
        ],
      );

      // A duplicate on its first pass claimed nothing and queued nowhere: it has nothing to release.
      const duplicate = verdict.kind === 'end' && verdict.reason === BlockReason.DuplicateInProgress;
      if (v3) holdsSharedState = !(firstPass && duplicate);
      else holdsSharedState ||= !duplicate;
      if (verdict.kind === 'end') {
        return {
          phase: tracker.ranPipelineRun ? Phase.Failed : Phase.Skipped,
          reason: verdict.reason,
          message: verdict.message,
          extra: {
            duplicateOf: verdict.duplicateOf,
            blockedUntil: verdict.blockedUntil,
            ...(verdict.budget ? { budget: verdict.budget } : {}),
          },
        };
      }

      if (verdict.kind === 'wait') {
        tracker.blocked(
          now(),
          verdict.reason === BlockReason.AwaitingApproval ? whoMustAct(verdict) : verdict,
        );
        publish();
        // Temporary blocks end at a known time; manual and lock blocks end on a wake signal, and
        // re-check now and then in case a wake was lost, never sleeping past the deadline.
        const until = v3
          ? verdict.recheckAt
          : (verdict.until ?? Math.min(deadline, now() + policy.lockRecheckIntervalMs));
        const summary =
          verdict.until !== null
            ? `${verdict.reason} until ${timeOfDay(verdict.until)} (attempt ${tracker.attempts + 1})`
            : `${verdict.reason}: wait for ${waitingFor(verdict)} (re-check at ${timeOfDay(until)})`;
        await condition(() => wakeups !== seen, Math.max(until - now(), 1), { summary });
        if (v3 && historyIsLong()) await carryOnAsNew();
        continue;
      }

      // run: this remediation holds the target lock with `fencingToken`.
      overrideActive = false;
      const attempt = tracker.attempts + 1;
      tracker.executing(now(), attempt);
      publish();
      if (approvesAndDryRuns && admitted?.mode === ActionMode.DryRun) return dryRun(attempt, fencingToken!);
      if (v3) holding = { fencingToken: fencingToken!, name: null };
      const start = await creator.startPipelineRun.executeWithOptions(
        { summary: `Create PipelineRun for ${pipelineName} (attempt ${attempt})` },
        [
          {
            ref,
            request,
            attempt,
            fencingToken: fencingToken!,
            ...(v3 ? { deadline } : {}),
            // The create checks the catalog again: an action that needs an approval now needs this one.
            ...(tracker.approval?.state === 'Approved' ? { approved: true } : {}),
          },
        ],
      );
      if (start.kind === 'refused') {
        holding = null;
        if (start.reason === 'LockLost') {
          tracker.note(now(), 'lockLost', start.message);
          continue; // someone took the lock over: route again from the top
        }
        return {
          phase: tracker.status().pipelineRuns.length > 0 ? Phase.Failed : Phase.Skipped,
          reason:
            start.reason === 'ActionNotAllowed' ? EndReason.ActionNotAllowed : EndReason.DeadlineExceeded,
          message: `Ended — no PipelineRun created: ${start.message}`,
        };
      }
      if (holding) holding.name = start.name;
      let failure: Failure | null = null;
      if (start.kind === 'rejected') {
        failure = start.failure;
      } else {
        executing = start.name;
        tracker.pipelineRun(now(), start.name, start.created);
        const outcome = await tekton.awaitPipelineRun.executeWithOptions(
          { summary: `Watch PipelineRun ${start.name}` },
          [{ name: start.name, ...(v3 && start.notAfter !== undefined ? { notAfter: start.notAfter } : {}) }],
        );
        if (outcome.state === 'failed') failure = outcome.failure;
        tracker.pipelineRunFinished(now(), start.name, failure);
      }
      const record = () =>
        ledger.recordOutcome.executeWithOptions({ summary: `Record outcome of ${start.name}` }, [
          {
            ...ref,
            actionId: request.action.id,
            pipelineRun: start.name,
            fencingToken: fencingToken!,
            outcome: failure ? { succeeded: false, failure } : { succeeded: true },
            jitterSample: replaySafeRandom(),
          },
        ]);
      // v3: a cancel arriving now waits for the record instead of dropping the outcome (I7).
      const recorded = v3 ? await CancellationScope.nonCancellable(record) : await record();
      executing = null;
      holding = null;

      if (!failure) {
        if (verifies && admitted?.verification) return verify(start.name, admitted.verification.windowMs);
        return {
          phase: Phase.Completed,
          reason: EndReason.Succeeded,
          message: `PipelineRun ${start.name} succeeded`,
        };
      }
      if (failure.wasExecutionFailure) {
        return {
          phase: Phase.Failed,
          reason: EndReason.ExecutionFailed,
          message: `PipelineRun ${start.name} failed after user steps ran (${failure.category}); target needs manual review`,
          extra: { failure },
        };
      }
      // Pre-execution failure: retried in this remediation once the backoff allows.
      tracker.preExecutionFailure(
        now(),
        failure,
        `target failures ${recorded.consecutiveFailures}` +
          (recorded.backoffMs !== null ? `, backoff ${formatDuration(recorded.backoffMs)}` : ''),
      );
    }
  }

  /**
   * Did it work? The lock is already free (the outcome was recorded); the fingerprint stays claimed
   * until the signal resolves (Effective) or the window ends or it fires again (Ineffective).
   */
  async function verify(pipelineRun: string, windowMs: number): Promise<Ending> {
    const until = now() + windowMs;
    tracker.verifying(now(), until);
    publish();
    await condition(() => signalResolved !== null || refiredBy !== null, windowMs, {
      summary: `Verifying until ${timeOfDay(until)}: waiting for the signal to resolve`,
    });
    const effective = signalResolved !== null && refiredBy === null;
    const why = effective
      ? `the signal resolved${signalResolved!.reason ? ` (${signalResolved!.reason})` : ''}`
      : refiredBy
        ? `the fingerprint fired again during the window (${refiredBy})`
        : `still firing when the ${formatDuration(windowMs)} window ended`;
    tracker.verified(now(), effective ? 'Effective' : 'Ineffective', why);
    ineffective = !effective;
    return {
      phase: Phase.Completed,
      reason: EndReason.Succeeded,
      message: `PipelineRun ${pipelineRun} succeeded; verification ${effective ? 'Effective' : 'Ineffective'}: ${why}`,
    };
  }

  /** An approval wait says who must act, and how (status, Web UI current details). */
  function whoMustAct<V extends { message: string }>(verdict: V): V {
    const approval = tracker.approval;
    const not =
      approval?.forbidSelfApproval && approval.requestedBy
        ? ` (anyone but ${approval.requestedBy}, who requested it)`
        : '';
    return {
      ...verdict,
      message: `${verdict.message}. An operator${not} must act: \`remediate approve ${remediationId} --reason …\` (or reject)`,
    };
  }

  /** A dry run where the PipelineRun would be created: what would run, recorded; nothing runs. */
  async function dryRun(attempt: number, fencingToken: number): Promise<Ending> {
    const result = await tekton.dryRunPipelineRun.executeWithOptions(
      { summary: `Dry run of the PipelineRun for ${pipelineName} (attempt ${attempt})` },
      [{ ref, request, attempt, fencingToken, deadline }],
    );
    if (result.kind === 'refused') {
      return {
        phase: Phase.Skipped,
        reason:
          result.reason === 'ActionNotAllowed' ? EndReason.ActionNotAllowed : EndReason.DeadlineExceeded,
        message: `Ended — no dry run: ${result.message}`,
      };
    }
    const { record } = result;
    tracker.dryRun(now(), record);
    const verdict = !record.pipelineExists
      ? `but Pipeline ${record.wouldRun.pipeline} does not exist (Tekton would fail it as PipelineNotFound)`
      : record.accepted
        ? 'and the API server accepted it (server-side dry run)'
        : `but the API server refused it: ${record.rejection}`;
    return {
      phase: Phase.Skipped,
      reason: EndReason.DryRun,
      message: `dry run: would have created PipelineRun ${record.wouldRun.pipelineRun} of ${record.wouldRun.pipeline} ${verdict}; nothing ran, counters untouched`,
    };
  }

  /** Leaves the lock queue, releases the lock and the fingerprint claim, moves the fingerprint counter. */
  async function release(phase: Phase): Promise<void> {
    if (!holdsSharedState && patched('no-release-without-claim')) return;
    await CancellationScope.nonCancellable(() =>
      ledger.finishRemediation.executeWithOptions({ summary: `Release target and fingerprint (${phase})` }, [
        {
          ...ref,
          ...(v3 ? { runId: info.runId } : {}),
          phase,
          actionId: request.action.id,
          ...(ineffective ? { ineffective: true } : {}),
          ...(tracker.status().verification ? { verification: tracker.status().verification! } : {}),
          duplicates: { count: tracker.status().duplicates, lastAt: tracker.lastDuplicateAt },
        },
      ]),
    );
  }

  /**
   * Cancelled while holding the lock (v3, I7): stop the run and wait until it has stopped; a run
   * that had already finished keeps its outcome; a run that will not stop stays unsettled on the
   * target (the release turns it into one), so nobody else runs beside it.
   */
  async function settleOnCancel(): Promise<void> {
    if (!holding) return;
    const { fencingToken } = holding;
    // Without the create's answer (its reply lost) the run announced on the lock is the one to stop.
    const which = holding.name
      ? { name: holding.name }
      : { targetKey: ref.targetKey, remediationId, fencingToken };
    const stopped = await tekton.stopPipelineRun.executeWithOptions(
      { summary: `Cancel PipelineRun ${holding.name ?? 'of this attempt'} and wait for it to stop` },
      [which],
    );
    // Still running: the release leaves it unsettled, so nobody runs beside it until it stops.
    if (stopped.state === 'stillRunning') return;
    const outcome =
      stopped.state === 'finished'
        ? stopped.outcome.state === 'failed'
          ? { succeeded: false as const, failure: stopped.outcome.failure }
          : { succeeded: true as const }
        : { cancelled: true as const };
    await ledger.recordOutcome.executeWithOptions(
      { summary: `Record outcome of ${stopped.name ?? 'the cancelled attempt'}` },
      [
        {
          ...ref,
          actionId: request.action.id,
          pipelineRun: stopped.name ?? '',
          fencingToken,
          outcome,
          jitterSample: replaySafeRandom(),
        },
      ],
    );
  }

  function historyIsLong(): boolean {
    const now = workflowInfo();
    return now.continueAsNewSuggested || now.historyLength >= policy.continueAsNewAfterEvents;
  }

  /** I9: a long wait continues as a new run of the same workflow id, carrying everything it knows. */
  async function carryOnAsNew(): Promise<never> {
    await condition(allHandlersFinished);
    const carried: ContinuedRemediation = {
      status: tracker.status(),
      lastDuplicateAt: tracker.lastDuplicateAt,
      overrideActive,
      holdsSharedState,
      deadline,
      pass,
    };
    return continueAsNew<typeof remediation>({ ...input, remediationId, continued: carried });
  }
}

interface Ending {
  phase: Phase;
  reason: EndReason;
  message: string;
  extra?: {
    failure?: Failure;
    duplicateOf?: string | null;
    blockedUntil?: number | null;
    budget?: BudgetBlock | null;
  };
}

/** The client validates before starting; this guards starts from the plain `temporal` CLI. */
function validate(request: unknown): RemediationInput['request'] {
  try {
    return parseRemediationRequest(request);
  } catch (error) {
    throw ApplicationFailure.nonRetryable((error as Error).message, ErrorType.InvalidRequest);
  }
}

function waitingFor(verdict: { reason: BlockReason; blockKind: string; budget?: BudgetBlock }): string {
  if (verdict.reason === BlockReason.AwaitingApproval) return 'an operator to approve or reject';
  if (verdict.budget) return `a slot of budget ${verdict.budget.budget} (${verdict.budget.key})`;
  return verdict.blockKind === BlockKind.Manual ? 'an operator to clear the target' : 'the target lock';
}

function timeOfDay(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}
