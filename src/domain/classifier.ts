/**
 * Classifies Tekton PipelineRuns (reference/tekton-status.md, SEMANTICS §5): running, succeeded, or
 * failed — and if failed, whether any user step ran (execution) or not (pre-execution). Matches
 * Tekton's reason strings verbatim and reads step states; never loose message substrings.
 * Pure: importable in the workflow sandbox.
 */
import type { PipelineRun, StepState, TaskRun } from '../k8s/tekton-types';
import { succeededCondition } from '../k8s/tekton-types';
import { FailureCategory, type Failure } from './model';
import type { PipelineRunOutcome } from '../ports/pipeline-runs';

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

/** TaskRun reasons whose cause is known without reading the steps. */
const taskRunCauses: Readonly<Record<string, FailureCategory>> = {
  TaskRunImagePullFailed: FailureCategory.ImagePullFailed,
  CreateContainerConfigError: FailureCategory.ContainerConfigError,
  PodCreationFailed: FailureCategory.PodCreationFailed,
  PodAdmissionFailed: FailureCategory.PodAdmissionFailed,
  TaskRunResolutionFailed: FailureCategory.TaskNotFound,
  TaskRunValidationFailed: FailureCategory.ValidationFailed,
  TaskValidationFailed: FailureCategory.ValidationFailed,
  ResourceVerificationFailed: FailureCategory.ValidationFailed,
  InvalidParamValue: FailureCategory.ParameterInvalid,
  InitContainerFailed: FailureCategory.NotStarted,
  InitContainerOOM: FailureCategory.NotStarted,
  Failed: FailureCategory.StepFailed,
  StepFailed: FailureCategory.StepFailed,
  SidecarFailed: FailureCategory.StepFailed,
  StepOOM: FailureCategory.OutOfMemory,
  SidecarOOM: FailureCategory.OutOfMemory,
  PodEvicted: FailureCategory.Evicted,
  TaskRunResultLargerThanAllowedLimit: FailureCategory.ResultInvalid,
  // Stuck (condition Unknown) before execution; surfaced while running, and as a cause if the run dies.
  ExceededResourceQuota: FailureCategory.ResourceQuotaExceeded,
  PullImageFailed: FailureCategory.ImagePullFailed,
  ExceededNodeResources: FailureCategory.NotStarted,
};

/** TaskRun `Unknown` reasons meaning "stuck before execution" (tekton-status.md). */
const stuckReasons = new Set(['ExceededResourceQuota', 'PullImageFailed', 'ExceededNodeResources']);

/** A timed-out TaskRun remembers why its pod never ran: `… Previous status: [<reason>] …`. */
const PREVIOUS_STATUS_RE =
  /Previous status: \[(ExceededResourceQuota|PullImageFailed|ExceededNodeResources)\]/;
/** Tekton's own wording when a PipelineRun timeout cancels its TaskRuns. */
const CANCELLED_BY_TIMEOUT = 'TaskRun cancelled as the PipelineRun it belongs to has timed out.';
/** Older Tekton reports OOM as `Failed` with exactly this message shape. */
const OOM_EXIT_RE = /^"[^"]+" exited with code 137: OOMKilled$/;
/** Container termination reasons that only a started container can have. */
const executedTerminationReasons = new Set(['Completed', 'Error', 'OOMKilled']);

function stepExecuted(step: StepState, createdAt: number): boolean {
  if (step.running) return true;
  const t = step.terminated;
  if (!t) return false;
  if (t.reason !== undefined && executedTerminationReasons.has(t.reason)) return true;
  // Tekton overlays waiting and running steps alike with the TaskRun reason; only a waiting step
  // gets startedAt = creationTimestamp (the "trap" in tekton-status.md).
  if (t.startedAt === undefined) return false;
  const startedAt = Date.parse(t.startedAt);
  return Number.isNaN(createdAt) || Number.isNaN(startedAt) || startedAt !== createdAt;
}

/**
 * True iff at least one user step of the TaskRun ran: a step is `running`, or `terminated` with
 * reason Completed/Error/OOMKilled, or terminated with a TaskRun-reason overlay whose `startedAt`
 * differs from the TaskRun's creationTimestamp. Exit code 1 alone proves nothing.
 */
export function taskRunExecutedUserCode(tr: TaskRun): boolean {
  const created =
    tr.metadata.creationTimestamp === undefined ? Number.NaN : Date.parse(tr.metadata.creationTimestamp);
  return (tr.status?.steps ?? []).some((s) => stepExecuted(s, created));
}

function taskRunCategory(tr: TaskRun, executed: boolean): FailureCategory {
  const cond = succeededCondition(tr);
  const reason = cond?.reason ?? '';
  const message = cond?.message ?? '';
  if (reason === 'TaskRunTimeout' || reason === 'TaskRunCancelled') {
    if (executed) {
      if (reason === 'TaskRunTimeout' || message === CANCELLED_BY_TIMEOUT) return FailureCategory.TimedOut;
      return FailureCategory.Cancelled;
    }
    const previous = PREVIOUS_STATUS_RE.exec(message)?.[1];
    return previous ? (taskRunCauses[previous] ?? FailureCategory.NotStarted) : FailureCategory.NotStarted;
  }
  if (reason === 'Failed' || reason === 'StepFailed' || reason === 'SidecarFailed') {
    const oomKilled = (tr.status?.steps ?? []).some((s) => s.terminated?.reason === 'OOMKilled');
    if (oomKilled || OOM_EXIT_RE.test(message)) return FailureCategory.OutOfMemory;
  }
  const known = taskRunCauses[reason];
  if (known) return known;
  return executed ? FailureCategory.StepFailed : FailureCategory.NotStarted;
}

interface Child {
  tr: TaskRun;
  status: string;
  reason: string;
  message: string;
  executed: boolean;
}

/** Rank for choosing the TaskRun that explains a failure: its own failure beats collateral cancellation. */
function rank(c: Child): number {
  if (c.status === 'False' && c.reason !== 'TaskRunCancelled') return c.executed ? 0 : 1;
  if (c.status === 'False') return c.executed ? 2 : 3;
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

function classifyFromChildren(
  pr: PipelineRun,
  prReason: string,
  prMessage: string,
  taskRuns: TaskRun[],
): PipelineRunOutcome {
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
      executed: taskRunExecutedUserCode(tr),
    };
  });
  // A child we cannot inspect (TaskRun not supplied, or a CustomRun) may have run user code: assume
  // it did, because misreading an execution failure as pre-execution would retry a run that may
  // already have changed the cluster.
  const seen = new Set(mine.map((tr) => tr.metadata.name));
  const unseen = (pr.status?.childReferences ?? []).filter(
    (ref) => ref.kind !== 'TaskRun' || !seen.has(ref.name),
  );
  const executed = children.some((c) => c.executed) || unseen.length > 0;
  const fallback = pipelineRunFallback[prReason] ?? {
    pre: FailureCategory.NotStarted,
    exec: FailureCategory.StepFailed,
  };

  const culprit = [...children].sort((a, b) => rank(a) - rank(b)).find((c) => rank(c) < 9);
  if (!culprit) {
    const note = unseen.length
      ? ` (child ${unseen.map((r) => r.name).join(', ')} not inspected; assuming it ran)`
      : '';
    return failure(executed ? fallback.exec : fallback.pre, executed, prReason, prMessage + note);
  }
  let category = taskRunCategory(culprit.tr, culprit.executed);
  // The TaskRun was cancelled or timed out by the PipelineRun while its pod never started, but a
  // sibling did run: the PipelineRun's own reason is then the better description.
  if (executed && category === FailureCategory.NotStarted) category = fallback.exec;
  return failure(category, executed, culprit.reason, culprit.message);
}

/**
 * Classifies a PipelineRun given its child TaskRuns (tekton-status.md "Classifier"):
 * 1. `True` → succeeded. `Unknown` (or no condition yet) → running, with `stuckReason` when a child
 *    TaskRun is stuck before execution (ExceededResourceQuota, PullImageFailed, ExceededNodeResources).
 * 2. `False` with a reason that proves nothing ran (CouldntGetPipeline, validation, params,
 *    workspaces…) → pre-execution; result-reference reasons → execution (`ResultInvalid`).
 * 3. Otherwise read the TaskRuns: any executed user code ({@link taskRunExecutedUserCode}) →
 *    execution, else pre-execution; the category and `reason`/`message` come from the TaskRun that
 *    explains the failure (e.g. `TaskRunImagePullFailed` rather than the PipelineRun's `Failed`).
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
    const stuck = taskRuns.find((tr) => {
      const c = succeededCondition(tr);
      return c?.status === 'Unknown' && c.reason !== undefined && stuckReasons.has(c.reason);
    });
    const stuckReason = stuck ? succeededCondition(stuck)?.reason : undefined;
    return stuckReason
      ? { state: 'running', reason, message, stuckReason }
      : { state: 'running', reason, message };
  }
  const preExecution = pipelineRunPreExecution[reason];
  if (preExecution) return failure(preExecution, false, reason, message);
  if (pipelineRunResultFailures.has(reason))
    return failure(FailureCategory.ResultInvalid, true, reason, message);
  return classifyFromChildren(pr, reason, message, taskRuns);
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
