/**
 * Classifies Tekton PipelineRuns: running, succeeded, or
 * failed — and if failed, whether any user step ran (execution) or not (pre-execution). Matches
 * Tekton's reason strings verbatim and reads step states; never loose message substrings.
 * Pure: importable in the workflow sandbox.
 */
import type { ChildReference, PipelineRun, StepState, TaskRun } from './tekton';
import { succeededCondition } from './tekton';
import { FailureCategory, type Failure, type PipelineRunOutcome } from './model';

/** A row of a reason table; only the table's own keys count (a reason named `constructor` is unknown). */
function rowOf<T>(table: Readonly<Record<string, T>>, reason: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, reason) ? table[reason] : undefined;
}

/** PipelineRun reasons that prove no user step ran: the run failed before creating any TaskRun. */
const pipelineRunPreExecution: Readonly<Record<string, FailureCategory>> = {
  CouldntGetPipeline: FailureCategory.PipelineNotFound,
  CouldntGetTask: FailureCategory.TaskNotFound,
  PipelineValidationFailed: FailureCategory.ValidationFailed,
  PipelineInvalidGraph: FailureCategory.ValidationFailed,
  InvalidTaskRunSpecs: FailureCategory.ValidationFailed,
  ResourceVerificationFailed: FailureCategory.ValidationFailed,
  ParameterMissing: FailureCategory.ParameterInvalid,
  ParameterTypeMismatch: FailureCategory.ParameterInvalid,
  InvalidParamValue: FailureCategory.ParameterInvalid,
  ObjectParameterMissKeys: FailureCategory.ParameterInvalid,
  ParamArrayIndexingInvalid: FailureCategory.ParameterInvalid,
  InvalidWorkspaceBindings: FailureCategory.WorkspaceInvalid,
  RequiredWorkspaceMarkedOptional: FailureCategory.WorkspaceInvalid,
  CouldntCreateWorkspacePVC: FailureCategory.WorkspaceInvalid,
};

/** PipelineRun reasons raised after tasks ran (result resolution): always execution failures. */
const pipelineRunResultFailures = new Set([
  'InvalidTaskResultReference',
  'InvalidPipelineResultReference',
  'CouldntGetPipelineResult',
]);

/**
 * PipelineRun reasons that need the child TaskRuns to tell (`Failed`, `PipelineRunTimeout`,
 * `Cancelled`, and the "usually pre-execution" ones that may also strike mid-pipeline), with the
 * category used when no TaskRun gives a more specific cause.
 */
const pipelineRunFallback: Readonly<Record<string, { pre: FailureCategory; exec: FailureCategory }>> = {
  Failed: { pre: FailureCategory.NotStarted, exec: FailureCategory.StepFailed },
  PipelineRunTimeout: { pre: FailureCategory.NotStarted, exec: FailureCategory.TimedOut },
  Cancelled: { pre: FailureCategory.NotStarted, exec: FailureCategory.Cancelled },
  CreateRunFailed: { pre: FailureCategory.NotStarted, exec: FailureCategory.StepFailed },
  CELEvaluationFailed: { pre: FailureCategory.ValidationFailed, exec: FailureCategory.ValidationFailed },
  InvalidMatrixParameterTypes: {
    pre: FailureCategory.ParameterInvalid,
    exec: FailureCategory.ParameterInvalid,
  },
};

/**
 * What a TaskRun reason says about user code:
 * `ran` — a user step (or a sidecar next to it) ran, whatever the step states say;
 * `notRun` — the pod never got as far as a user step (still overruled by steps that show one ran);
 * `steps` — only the step states tell (Tekton's timeout/cancel overlay, see {@link taskRunExecutedUserCode});
 * `inProgress` — the TaskRun has not finished; the step states tell how far it got.
 */
type TaskRunEvidence = 'ran' | 'notRun' | 'steps' | 'inProgress';

interface TaskRunRow {
  evidence: TaskRunEvidence;
  /** Cause when this TaskRun explains the failure; `steps` rows work theirs out from the steps. */
  category?: FailureCategory;
}

const ran = (category: FailureCategory): TaskRunRow => ({ evidence: 'ran', category });
const notRun = (category: FailureCategory): TaskRunRow => ({ evidence: 'notRun', category });
const inProgress: TaskRunRow = { evidence: 'inProgress' };

/** Every TaskRun reason the classifier knows. A reason not listed here is unknown, and unknown is unsafe. */
const taskRunReasons: Readonly<Record<string, TaskRunRow>> = {
  // user code ran
  Failed: ran(FailureCategory.StepFailed),
  StepFailed: ran(FailureCategory.StepFailed),
  SidecarFailed: ran(FailureCategory.StepFailed),
  StepOOM: ran(FailureCategory.OutOfMemory),
  SidecarOOM: ran(FailureCategory.OutOfMemory),
  PodEvicted: ran(FailureCategory.Evicted),
  TaskRunResultLargerThanAllowedLimit: ran(FailureCategory.ResultInvalid),
  // no user step ran
  TaskRunImagePullFailed: notRun(FailureCategory.ImagePullFailed),
  CreateContainerConfigError: notRun(FailureCategory.ContainerConfigError),
  PodCreationFailed: notRun(FailureCategory.PodCreationFailed),
  PodAdmissionFailed: notRun(FailureCategory.PodAdmissionFailed),
  TaskRunResolutionFailed: notRun(FailureCategory.TaskNotFound),
  TaskRunValidationFailed: notRun(FailureCategory.ValidationFailed),
  TaskValidationFailed: notRun(FailureCategory.ValidationFailed),
  ResourceVerificationFailed: notRun(FailureCategory.ValidationFailed),
  InvalidParamValue: notRun(FailureCategory.ParameterInvalid),
  InitContainerFailed: notRun(FailureCategory.NotStarted),
  InitContainerOOM: notRun(FailureCategory.NotStarted),
  // Stuck (condition Unknown) before execution; surfaced while running, and as a cause if the run dies.
  ExceededResourceQuota: notRun(FailureCategory.ResourceQuotaExceeded),
  PullImageFailed: notRun(FailureCategory.ImagePullFailed),
  ExceededNodeResources: notRun(FailureCategory.NotStarted),
  // look at the steps
  TaskRunTimeout: { evidence: 'steps' },
  TaskRunCancelled: { evidence: 'steps' },
  // still going
  Started: inProgress,
  Running: inProgress,
  Pending: inProgress,
  TaskRunPending: inProgress,
  ResolvingTaskRef: inProgress,
  ToBeRetried: inProgress,
};

/** TaskRun `Unknown` reasons meaning "stuck before execution" (docs/classification.md). */
const stuckReasons = new Set(['ExceededResourceQuota', 'PullImageFailed', 'ExceededNodeResources']);

/** PipelineRun reasons of a run that has not finished. Another `Unknown` reason is unknown. */
const pipelineRunInProgress = new Set([
  'Started',
  'Running',
  'PipelineRunPending',
  'ResolvingPipelineRef',
  'ResolvingTaskRef',
  'PipelineRunStopping',
  'CancelledRunningFinally',
  'StoppedRunningFinally',
]);

/** A timed-out TaskRun remembers why its pod never ran: `… Previous status: [<reason>] …`. */
const PREVIOUS_STATUS_RE =
  /Previous status: \[(ExceededResourceQuota|PullImageFailed|ExceededNodeResources)\]/;
/**
 * Tekton's own wording when a PipelineRun timeout cancels its TaskRuns: v1.15 writes
 * `TaskRun "x" was cancelled. TaskRun cancelled as the PipelineRun it belongs to has timed out.`,
 * then `\nPrevious status: […] …` when the TaskRun was stuck; the bare sentence is the spec's statusMessage.
 */
const CANCELLED_BY_TIMEOUT_RE =
  /^(?:TaskRun "[^"\n]*" was cancelled\. )?TaskRun cancelled as the PipelineRun it belongs to has timed out\.(?:\nPrevious status: [^]*)?$/;
/** Older Tekton reports OOM as `Failed` with exactly this message shape. */
const OOM_EXIT_RE = /^"[^"]+" exited with code 137: OOMKilled$/;
/** Container termination reasons that only a started container can have. */
const executedTerminationReasons = new Set(['Completed', 'Error', 'OOMKilled']);

function stepExecuted(step: StepState, createdAt: number): boolean {
  if (step.running) return true;
  const t = step.terminated;
  if (!t) return false;
  if (t.reason !== undefined && executedTerminationReasons.has(t.reason)) return true;
  // The container runtime created the step's container (its image was pulled): the step started.
  // A step that never left `waiting` has no imageID. Needed because a pod can start within the
  // second its TaskRun was created (real Tekton v1.15, recorded in test/fixtures/tekton/real), and
  // then the overlaid startedAt equals the creationTimestamp although the step ran.
  if (step.imageID) return true;
  // Tekton overlays waiting and running steps alike with the TaskRun reason; only a waiting step
  // gets startedAt = creationTimestamp (the "trap" in docs/classification.md).
  if (t.startedAt === undefined) return false;
  const startedAt = Date.parse(t.startedAt);
  return Number.isNaN(createdAt) || Number.isNaN(startedAt) || startedAt !== createdAt;
}

/**
 * True iff the step states show that at least one user step of the TaskRun ran: a step is
 * `running`, or `terminated` with reason Completed/Error/OOMKilled, or terminated with a
 * TaskRun-reason overlay that has an `imageID` (its container was created) or whose `startedAt`
 * differs from the TaskRun's creationTimestamp. Exit code 1
 * alone proves nothing. This is step evidence only; {@link taskRunRanUserCode} puts the reason first.
 */
export function taskRunExecutedUserCode(tr: TaskRun): boolean {
  const created =
    tr.metadata.creationTimestamp === undefined ? Number.NaN : Date.parse(tr.metadata.creationTimestamp);
  return (tr.status?.steps ?? []).some((s) => stepExecuted(s, created));
}

/**
 * Whether a TaskRun ran user code, the reason table deciding first:
 * - it succeeded, or failed with a reason whose row says user code ran (StepFailed, StepOOM,
 *   SidecarFailed, SidecarOOM, PodEvicted, Failed, TaskRunResultLargerThanAllowedLimit): yes,
 *   whatever the step states say (they may be missing or look never started);
 * - a known reason that proves nothing ran, one that needs the steps (TaskRunTimeout,
 *   TaskRunCancelled), one of a TaskRun still in progress, or no condition yet: the step evidence of
 *   {@link taskRunExecutedUserCode} decides;
 * - a reason the classifier does not know: yes, unless the step states prove that no user step
 *   started — there is at least one step state and none of them shows a start. A TaskRun without
 *   step states proves nothing.
 */
export function taskRunRanUserCode(tr: TaskRun): boolean {
  const cond = succeededCondition(tr);
  if (cond === undefined) return taskRunExecutedUserCode(tr);
  if (cond.status === 'True') return true;
  const row = rowOf(taskRunReasons, cond.reason ?? '');
  if (row?.evidence === 'ran' && cond.status === 'False') return true;
  if (row) return taskRunExecutedUserCode(tr);
  return (tr.status?.steps ?? []).length === 0 || taskRunExecutedUserCode(tr);
}

function taskRunCategory(tr: TaskRun, executed: boolean): FailureCategory {
  const cond = succeededCondition(tr);
  const reason = cond?.reason ?? '';
  const message = cond?.message ?? '';
  const row = rowOf(taskRunReasons, reason);
  if (row?.evidence === 'steps') {
    if (executed) {
      if (reason === 'TaskRunTimeout' || CANCELLED_BY_TIMEOUT_RE.test(message))
        return FailureCategory.TimedOut;
      return FailureCategory.Cancelled;
    }
    const previous = PREVIOUS_STATUS_RE.exec(message)?.[1];
    return (previous && rowOf(taskRunReasons, previous)?.category) || FailureCategory.NotStarted;
  }
  if (reason === 'Failed' || reason === 'StepFailed' || reason === 'SidecarFailed') {
    const oomKilled = (tr.status?.steps ?? []).some((s) => s.terminated?.reason === 'OOMKilled');
    if (oomKilled || OOM_EXIT_RE.test(message)) return FailureCategory.OutOfMemory;
  }
  if (row?.category) return row.category;
  if (!row) return executed ? FailureCategory.Unknown : FailureCategory.NotStarted;
  return executed ? FailureCategory.StepFailed : FailureCategory.NotStarted;
}

interface Child {
  tr: TaskRun;
  status: string;
  reason: string;
  message: string;
  ran: boolean;
}

/** Rank for choosing the TaskRun that explains a failure: its own failure beats collateral cancellation. */
function rank(c: Child): number {
  if (c.status === 'False' && c.reason !== 'TaskRunCancelled') return c.ran ? 0 : 1;
  if (c.status === 'False') return c.ran ? 2 : 3;
  if (c.status === 'Unknown' && stuckReasons.has(c.reason)) return 4;
  return 9;
}

function failure(
  category: FailureCategory,
  wasExecutionFailure: boolean,
  reason: string,
  message: string,
): PipelineRunOutcome {
  return { state: 'failed', failure: { category, wasExecutionFailure, reason, message } };
}

/** What the child TaskRuns of a PipelineRun say about user code. */
interface Children {
  children: Child[];
  /** Children listed in `childReferences` but not supplied as TaskRuns (or not TaskRuns at all). */
  unseen: ChildReference[];
  /** Some child ran user code, or may have (an unseen child is assumed to have). */
  ran: boolean;
}

function readChildren(pr: PipelineRun, taskRuns: TaskRun[]): Children {
  const prName = pr.metadata.name;
  const mine = taskRuns.filter((tr) => {
    const owner = tr.metadata.labels?.['tekton.dev/pipelineRun'];
    return owner === undefined || owner === prName;
  });
  const children: Child[] = mine.map((tr) => {
    const cond = succeededCondition(tr);
    return {
      tr,
      status: cond?.status ?? 'Unknown',
      reason: cond?.reason ?? '',
      message: cond?.message ?? '',
      ran: taskRunRanUserCode(tr),
    };
  });
  // A child we cannot inspect (TaskRun not supplied, or a CustomRun) may have run user code: assume
  // it did, because misreading an execution failure as pre-execution would retry a run that may
  // already have changed the cluster.
  const seen = new Set(mine.map((tr) => tr.metadata.name));
  const unseen = (pr.status?.childReferences ?? []).filter(
    (ref) => ref.kind !== 'TaskRun' || !seen.has(ref.name),
  );
  return { children, unseen, ran: children.some((c) => c.ran) || unseen.length > 0 };
}

/** Used for a PipelineRun reason the classifier does not know: execution unless proven otherwise. */
const unknownFallback = { pre: FailureCategory.NotStarted, exec: FailureCategory.Unknown };

function classifyFromChildren(
  pr: PipelineRun,
  prReason: string,
  prMessage: string,
  taskRuns: TaskRun[],
): PipelineRunOutcome {
  const { children, unseen, ran } = readChildren(pr, taskRuns);
  const known = rowOf(pipelineRunFallback, prReason);
  const fallback = known ?? unknownFallback;
  // For a reason we know, a run without children never got to user code. For one we do not know,
  // only a TaskRun that shows it never started is proof: without any, assume user code ran.
  const executed = ran || (known === undefined && children.length === 0);

  const culprit = [...children].sort((a, b) => rank(a) - rank(b)).find((c) => rank(c) < 9);
  if (!culprit) {
    const note = unseen.length
      ? ` (child ${unseen.map((r) => r.name).join(', ')} not inspected; assuming it ran)`
      : '';
    return failure(executed ? fallback.exec : fallback.pre, executed, prReason, prMessage + note);
  }
  let category = taskRunCategory(culprit.tr, culprit.ran);
  // The TaskRun was cancelled or timed out by the PipelineRun while its pod never started, but a
  // sibling did run: the PipelineRun's own reason is then the better description.
  if (executed && category === FailureCategory.NotStarted) category = fallback.exec;
  return failure(category, executed, culprit.reason, culprit.message);
}

/**
 * Classifies a PipelineRun given its child TaskRuns (docs/classification.md). The reason
 * tables decide first; step states are read only where a row says to look at them.
 * 1. `True` → succeeded. `Unknown` (or no condition yet) → running, with `stuckReason` when a child
 *    TaskRun is stuck before execution (ExceededResourceQuota, PullImageFailed, ExceededNodeResources)
 *    and `userCodeStarted` from the children ({@link taskRunRanUserCode}; an unseen child counts as
 *    started, and so does a run in an `Unknown` reason we do not know that shows no child yet).
 * 2. `False` with a reason that proves nothing ran (CouldntGetPipeline, validation, params,
 *    workspaces…) → pre-execution; result-reference reasons → execution (`ResultInvalid`).
 * 3. `Failed`, `PipelineRunTimeout`, `Cancelled` and the "usually pre-execution" reasons: read the
 *    TaskRuns. Any ran user code ({@link taskRunRanUserCode}) → execution, else pre-execution; the
 *    category and `reason`/`message` come from the TaskRun that explains the failure (e.g.
 *    `TaskRunImagePullFailed` rather than the PipelineRun's `Failed`).
 * 4. Any other `False` reason is unknown: an execution failure (`Unknown`, or the explaining
 *    TaskRun's cause) unless the TaskRuns prove that no user step started — at least one TaskRun, and
 *    none that ran or may have run.
 *
 * `taskRuns` should hold every child TaskRun; a child listed in `childReferences` but not supplied
 * is assumed to have run user code (the safe direction).
 */
export function classifyPipelineRun(pr: PipelineRun, taskRuns: TaskRun[]): PipelineRunOutcome {
  const cond = succeededCondition(pr);
  const reason = cond?.reason ?? '';
  const message = cond?.message ?? '';
  if (cond?.status === 'True') return { state: 'succeeded', reason, message };
  if (cond?.status !== 'False') {
    const { children, ran } = readChildren(pr, taskRuns);
    const knownReason = cond === undefined || pipelineRunInProgress.has(reason);
    const userCodeStarted = ran || (!knownReason && children.length === 0);
    const stuck = children.find((c) => c.status === 'Unknown' && stuckReasons.has(c.reason));
    return stuck
      ? { state: 'running', reason, message, stuckReason: stuck.reason, userCodeStarted }
      : { state: 'running', reason, message, userCodeStarted };
  }
  const preExecution = rowOf(pipelineRunPreExecution, reason);
  if (preExecution) return failure(preExecution, false, reason, message);
  if (pipelineRunResultFailures.has(reason))
    return failure(FailureCategory.ResultInvalid, true, reason, message);
  return classifyFromChildren(pr, reason, message, taskRuns);
}

/**
 * The failure of a PipelineRun that disappeared (deleted, or gone when re-listed) before it
 * finished, given the last classified observation of it (`undefined`: never observed). Category and
 * reason `PipelineRunDeleted`. Whatever it did is unknown, so it is an execution failure unless that
 * observation proves no user step had started: a `running` outcome with `userCodeStarted: false`
 * (or a pre-execution failure). Not observed at all, or `userCodeStarted` absent, proves nothing.
 */
export function classifyDisappeared(lastObserved: PipelineRunOutcome | null | undefined): Failure {
  const proven =
    (lastObserved?.state === 'running' && lastObserved.userCodeStarted === false) ||
    (lastObserved?.state === 'failed' && !lastObserved.failure.wasExecutionFailure);
  const seen = (() => {
    if (!lastObserved) return 'it was never observed, so what it did is unknown';
    if (lastObserved.state === 'failed')
      return `last observed failed (${lastObserved.failure.reason || 'no reason'})`;
    const what = `last observed ${lastObserved.state} (${lastObserved.reason || 'no reason'})`;
    if (lastObserved.state === 'succeeded') return what;
    if (lastObserved.userCodeStarted === false) return `${what} with no user step started`;
    return lastObserved.userCodeStarted
      ? `${what} with user steps started`
      : `${what}; user steps may have run`;
  })();
  return {
    category: FailureCategory.PipelineRunDeleted,
    wasExecutionFailure: !proven,
    reason: 'PipelineRunDeleted',
    message: `PipelineRun disappeared before it finished: ${seen}`,
  };
}

/**
 * The observation to keep after `next`: `next` itself, except that once user code was seen started
 * it stays started (a retried TaskRun resets its steps, a stale read may miss a child).
 */
export function latestObservation(
  previous: PipelineRunOutcome | undefined,
  next: PipelineRunOutcome,
): PipelineRunOutcome {
  const startedBefore =
    previous !== undefined &&
    (previous.state === 'succeeded' ||
      (previous.state === 'running' && previous.userCodeStarted === true) ||
      (previous.state === 'failed' && previous.failure.wasExecutionFailure));
  if (startedBefore && next.state === 'running' && next.userCodeStarted !== true)
    return { ...next, userCodeStarted: true };
  return next;
}

/**
 * The API server refused to create the PipelineRun (404 when Tekton is not installed, 400/422 from
 * validation webhooks, 403, 500 `failed calling webhook`): nothing ran, so pre-execution.
 */
export function classifyCreateError(status: number, message: string): Failure {
  return {
    category: FailureCategory.CreateRejected,
    wasExecutionFailure: false,
    reason: `HTTP ${status}`,
    message,
  };
}
