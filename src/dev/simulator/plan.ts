/**
 * The simulated Tekton controller's decisions, without I/O: a PipelineRun plus its Pipeline →
 * the timed list of statuses Tekton v1.15 would write (strings as docs/classification.md lists them),
 * and the overlays Tekton applies when it cancels or times out a run.
 *
 * Every timestamp is derived from the PipelineRun's `startTime` and the TaskRuns'
 * `creationTimestamp`, so the same inputs always give the same statuses: the controller can tell
 * from the objects alone which transitions were already written (see {@link appliedIndex}).
 */
import { parseDuration } from '../../domain/duration';
import {
  PIPELINE_RUN_LABEL,
  PIPELINE_TASK_LABEL,
  TEKTON_API_VERSION,
  type Condition,
  type Pipeline,
  type PipelineRun,
  type PipelineRunStatus,
  type PipelineTask,
  type StepState,
  type TaskRun,
  type TaskRunStatus,
} from '../../domain/tekton';
import { Outcome, parseScript, SCRIPT_ANNOTATION, type Script } from './script';

/** Tekton's default `timeouts.pipeline`. */
export const DEFAULT_PIPELINE_TIMEOUT_MS = 3_600_000;
/**
 * Pod scheduling and init containers before the first step runs. Keeps every step's `startedAt`
 * later than its TaskRun's `creationTimestamp`, as in a real cluster: the classifier relies on it.
 */
export const POD_START_MS = 1_000;

/** The `spec.statusMessage` Tekton sets on the TaskRuns of a cancelled PipelineRun. */
export const TASKRUN_CANCELLED_MESSAGE =
  'TaskRun cancelled as the PipelineRun it belongs to has been cancelled.';
/** The same, when the PipelineRun timed out. */
export const TASKRUN_CANCELLED_BY_TIMEOUT_MESSAGE =
  'TaskRun cancelled as the PipelineRun it belongs to has timed out.';

/**
 * The condition message of a cancelled TaskRun: `TaskRun "x" was cancelled. <statusMessage>`, plus
 * the condition it had before when that says more than Started/Running/Pending.
 */
export function taskRunCancelledMessage(
  name: string,
  statusMessage: string,
  previous: Condition | undefined,
): string {
  const message = `TaskRun "${name}" was cancelled. ${statusMessage}`;
  return withPreviousStatus(message, previous);
}

/** Tekton's `Previous status: [reason] message` suffix, left out for Started, Running and Pending. */
function withPreviousStatus(message: string, previous: Condition | undefined): string {
  if (!previous?.reason || !previous.message || ['Started', 'Running', 'Pending'].includes(previous.reason))
    return message;
  return `${message}\nPrevious status: [${previous.reason}] ${previous.message}`;
}

/** Tekton's prefix on the messages of failures it blames on the user's spec. */
const USER_ERROR = '[User error] ';

const DEFAULT_STEP = { name: 'run', image: 'registry.example.com/remediation/run:1.0' };

export interface PlannedTaskRun {
  name: string;
  pipelineTask: string;
  status: TaskRunStatus;
}

/** The state of a run from `atMs` after its `startTime` on: TaskRuns are written before the PipelineRun. */
export interface Transition {
  atMs: number;
  pipelineRun: PipelineRunStatus;
  taskRuns: PlannedTaskRun[];
}

export interface PlanInput {
  pipelineRun: PipelineRun;
  /** Undefined when `spec.pipelineRef` names no existing Pipeline. */
  pipeline: Pipeline | undefined;
  /** The run's `status.startTime` (set by the first transition). */
  startTime: string;
  /** Actual `creationTimestamp` of child TaskRuns by name; planned times are used for missing ones. */
  taskRunCreated?: ReadonlyMap<string, string>;
}

/** RFC 3339 with whole seconds, as Kubernetes serializes `metav1.Time`. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Go's `time.Duration.String()` for whole milliseconds: `1h0m0s`, `1m30s`, `1.5s`, `500ms`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = `${(ms % 60_000) / 1000}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  return m > 0 ? `${m}m${s}` : s;
}

/** `spec.timeouts.pipeline` in ms; `"0"` means no timeout, as in Tekton. */
export function pipelineTimeoutMs(pr: PipelineRun): number {
  const text = pr.spec.timeouts?.pipeline;
  if (text === undefined) return DEFAULT_PIPELINE_TIMEOUT_MS;
  if (text === '0') return Infinity;
  try {
    const ms = parseDuration(text);
    return ms === 0 ? Infinity : ms;
  } catch {
    return DEFAULT_PIPELINE_TIMEOUT_MS;
  }
}

export function taskRunName(pipelineRun: string, pipelineTask: string): string {
  return `${pipelineRun}-${pipelineTask}`;
}

/** The child TaskRun Tekton creates for one pipeline task (status is written separately). */
export function newTaskRun(pr: PipelineRun, task: PipelineTask): TaskRun {
  const prName = pr.metadata.name ?? '';
  const timeoutMs = pipelineTimeoutMs(pr);
  return {
    apiVersion: TEKTON_API_VERSION,
    kind: 'TaskRun',
    metadata: {
      name: taskRunName(prName, task.name),
      namespace: pr.metadata.namespace,
      labels: { ...pr.metadata.labels, [PIPELINE_RUN_LABEL]: prName, [PIPELINE_TASK_LABEL]: task.name },
      ownerReferences: [
        {
          apiVersion: TEKTON_API_VERSION,
          kind: 'PipelineRun',
          name: prName,
          uid: pr.metadata.uid ?? '',
          controller: true,
        },
      ],
    },
    spec: {
      ...(task.taskRef
        ? { taskRef: task.taskRef }
        : { taskSpec: task.taskSpec ?? { steps: [DEFAULT_STEP] } }),
      ...(pr.spec.taskRunTemplate?.serviceAccountName
        ? { serviceAccountName: pr.spec.taskRunTemplate.serviceAccountName }
        : {}),
      ...(Number.isFinite(timeoutMs) ? { timeout: formatGoDuration(timeoutMs) } : {}),
    },
  };
}

function condition(
  status: Condition['status'],
  reason: string,
  message: string | undefined,
  at: string,
): Condition {
  return {
    type: 'Succeeded',
    status,
    reason,
    ...(message === undefined ? {} : { message }),
    lastTransitionTime: at,
  };
}

function counts(total: number, failed: number): string {
  return `Tasks Completed: ${total} (Failed: ${failed}, Cancelled 0), Skipped: 0`;
}

function isDone(status: { conditions?: Condition[] } | undefined): boolean {
  const c = status?.conditions?.find((x) => x.type === 'Succeeded');
  return c !== undefined && c.status !== 'Unknown';
}

/**
 * What Tekton does to a TaskRun it fails from outside the pod (timeout, cancel, image pull, config
 * error): every running or waiting step becomes `terminated{exitCode: 1, reason}`; a running step
 * keeps its real `startedAt`, a waiting one gets the TaskRun's `creationTimestamp`.
 */
export function failTaskRun(
  status: TaskRunStatus,
  reason: string,
  message: string,
  finishedAt: string,
  creationTimestamp: string,
): TaskRunStatus {
  const steps = status.steps?.map((step): StepState => {
    const { running, waiting, ...rest } = step;
    if (running)
      return { ...rest, terminated: { exitCode: 1, reason, startedAt: running.startedAt, finishedAt } };
    if (waiting)
      return { ...rest, terminated: { exitCode: 1, reason, startedAt: creationTimestamp, finishedAt } };
    return step;
  });
  return {
    ...status,
    podName: status.podName ?? '',
    conditions: [condition('False', reason, message, finishedAt)],
    completionTime: finishedAt,
    ...(steps ? { steps } : {}),
  };
}

/** Tekton's reaction to `spec.status: Cancelled`, from the objects as they are at `now`. */
export function cancelRun(
  pr: PipelineRun,
  taskRuns: readonly TaskRun[],
  now: number,
): { pipelineRun: PipelineRunStatus; taskRuns: PlannedTaskRun[] } {
  const at = isoSeconds(now);
  const children = taskRuns
    .filter((tr) => !isDone(tr.status))
    .map((tr) => ({
      name: tr.metadata.name ?? '',
      pipelineTask: tr.metadata.labels?.[PIPELINE_TASK_LABEL] ?? '',
      status: failTaskRun(
        tr.status ?? { podName: '' },
        'TaskRunCancelled',
        taskRunCancelledMessage(
          tr.metadata.name ?? '',
          TASKRUN_CANCELLED_MESSAGE,
          tr.status?.conditions?.find((c) => c.type === 'Succeeded'),
        ),
        at,
        tr.metadata.creationTimestamp ?? at,
      ),
    }));
  const name = pr.metadata.name ?? '';
  return {
    pipelineRun: {
      ...pr.status,
      startTime: pr.status?.startTime ?? at,
      conditions: [condition('False', 'Cancelled', `PipelineRun "${name}" was cancelled`, at)],
      completionTime: at,
    },
    taskRuns: children,
  };
}

interface StepSpec {
  name: string;
  image: string;
}

function stepsOf(task: PipelineTask): StepSpec[] {
  const steps = task.taskSpec?.steps;
  if (!steps?.length) return [DEFAULT_STEP];
  return steps.map((s, i) => ({ name: s.name ?? `unnamed-${i}`, image: s.image ?? DEFAULT_STEP.image }));
}

/** One TaskRun's own timeline, in ms after the run's start. `end` is absent while it would run forever. */
interface TaskRunTimeline {
  points: { atMs: number; status: TaskRunStatus }[];
  end?: { atMs: number; status: TaskRunStatus; failed: boolean };
}

function taskRunTimeline(
  script: Script,
  trName: string,
  steps: StepSpec[],
  created: number,
  podName: string,
): TaskRunTimeline {
  const t = (ms: number) => isoSeconds(created + ms);
  const d = script.durationMs;
  const waiting = (reason: string, message?: string) => ({
    reason,
    ...(message === undefined ? {} : { message }),
  });
  const stepState = (s: StepSpec, state: Partial<StepState>): StepState => ({
    name: s.name,
    container: `step-${s.name}`,
    ...state,
  });
  const pending: TaskRunStatus = {
    podName,
    startTime: t(0),
    conditions: [
      condition(
        'Unknown',
        'Pending',
        'pod status "Initialized":"False"; message: "containers with incomplete status: [prepare place-scripts]"',
        t(0),
      ),
    ],
    steps: steps.map((s) => stepState(s, { waiting: waiting('PodInitializing') })),
  };
  const first = steps[0] ?? DEFAULT_STEP;

  switch (script.outcome) {
    case Outcome.Succeed:
    case Outcome.FailStep:
    case Outcome.Oom:
    case Outcome.Timeout:
    case Outcome.Hang: {
      // All step containers start together; Tekton's entrypoint runs them one after another.
      const startedAt = t(POD_START_MS);
      const running = (done: number, lastExit?: { exitCode: number; reason: string }): TaskRunStatus => ({
        ...pending,
        conditions: [
          condition('Unknown', 'Running', 'Not all Steps in the Task have finished executing', startedAt),
        ],
        steps: steps.map((s, i) => {
          const finishedAt = t(POD_START_MS + Math.round((d * (i + 1)) / steps.length));
          if (i < done)
            return stepState(s, { terminated: { exitCode: 0, reason: 'Completed', startedAt, finishedAt } });
          if (i === done && lastExit)
            return stepState(s, { terminated: { ...lastExit, startedAt, finishedAt } });
          return stepState(s, { running: { startedAt } });
        }),
      });
      const points = [
        { atMs: 0, status: pending },
        { atMs: POD_START_MS, status: running(0) },
      ];
      if (script.outcome === Outcome.Timeout || script.outcome === Outcome.Hang) return { points };
      for (let i = 1; i < steps.length; i++) {
        points.push({ atMs: POD_START_MS + Math.round((d * i) / steps.length), status: running(i) });
      }
      const endMs = POD_START_MS + d;
      const finished = (lastExit: { exitCode: number; reason: string }) =>
        running(steps.length - 1, lastExit);
      const last = `step-${(steps[steps.length - 1] ?? DEFAULT_STEP).name}`;
      if (script.outcome === Outcome.Succeed) {
        const status = finished({ exitCode: 0, reason: 'Completed' });
        return {
          points,
          end: {
            atMs: endMs,
            failed: false,
            status: {
              ...status,
              conditions: [condition('True', 'Succeeded', 'All Steps have completed executing', t(endMs))],
              completionTime: t(endMs),
            },
          },
        };
      }
      const [exit, reason, message] =
        script.outcome === Outcome.Oom
          ? [{ exitCode: 137, reason: 'OOMKilled' }, 'StepOOM', `"${last}" exited with code 137: OOMKilled`]
          : [{ exitCode: 1, reason: 'Error' }, 'StepFailed', `"${last}" exited with code 1: Error`];
      const status = finished(exit);
      return {
        points,
        end: {
          atMs: endMs,
          failed: true,
          status: {
            ...status,
            conditions: [condition('False', reason, message, t(endMs))],
            completionTime: t(endMs),
          },
        },
      };
    }
    case Outcome.ImagePull:
    case Outcome.ConfigError: {
      const pull = script.outcome === Outcome.ImagePull;
      const [waitReason, waitMessage] = pull
        ? ['ImagePullBackOff', `Back-off pulling image "${first.image}"`]
        : ['CreateContainerConfigError', 'secret "remediation-credentials" not found'];
      const stuck: TaskRunStatus = {
        ...pending,
        conditions: [
          condition(
            'Unknown',
            'Pending',
            `build step "step-${first.name}" is pending with reason "${waitReason}"`,
            t(POD_START_MS),
          ),
        ],
        steps: steps.map((s, i) =>
          stepState(s, { waiting: i === 0 ? waiting(waitReason, waitMessage) : waiting('PodInitializing') }),
        ),
      };
      const endMs = POD_START_MS + d;
      const points = [
        { atMs: 0, status: pending },
        { atMs: POD_START_MS, status: stuck },
      ];
      if (!pull) {
        // Tekton fails it from the pod's status with its own fixed message; the steps stay waiting.
        const status: TaskRunStatus = {
          ...stuck,
          conditions: [
            condition(
              'False',
              'CreateContainerConfigError',
              'Failed to create pod due to config error',
              t(endMs),
            ),
          ],
          completionTime: t(endMs),
        };
        return { points, end: { atMs: endMs, failed: true, status } };
      }
      // Tekton names the step's imageID, which stays empty for an image that was never pulled.
      const message = `the step "${first.name}" in TaskRun "${trName}" failed to pull the image "". The pod errored with the message: "${waitMessage}."`;
      return {
        points,
        end: {
          atMs: endMs,
          failed: true,
          status: failTaskRun(stuck, 'TaskRunImagePullFailed', message, t(endMs), t(0)),
        },
      };
    }
    case Outcome.PodAdmission: {
      const started: TaskRunStatus = {
        podName: '',
        startTime: t(0),
        conditions: [condition('Unknown', 'Started', undefined, t(0))],
      };
      // An admission policy refusing the pod is an error Tekton does not recognise (only PodSecurity
      // and OpenShift SCC refusals become PodAdmissionFailed): PodCreationFailed, steps by name only.
      const message = `failed to create task run pod "${trName}": pods "${podName}" is forbidden: ValidatingAdmissionPolicy 'pod-policy' with binding 'pod-policy' denied request: this pod is not allowed by the cluster's pod policy. Maybe invalid TaskSpec`;
      return {
        points: [{ atMs: 0, status: started }],
        end: {
          atMs: d,
          failed: true,
          status: {
            ...started,
            conditions: [condition('False', 'PodCreationFailed', message, t(d))],
            completionTime: t(d),
            steps: steps.map((s) => ({ name: s.name })),
          },
        },
      };
    }
    case Outcome.Quota: {
      // Tekton resets startTime while the pod cannot be created, and retries until the timeout.
      const message = `TaskRun Pod exceeded available resources: pods "${podName}" is forbidden: exceeded quota: remediation-quota, requested: pods=1, used: pods=0, limited: pods=0`;
      return {
        points: [
          {
            atMs: 0,
            status: {
              podName: '',
              conditions: [condition('Unknown', 'ExceededResourceQuota', message, t(0))],
              steps: steps.map((s) => ({ name: s.name })),
            },
          },
        ],
      };
    }
    case Outcome.ParamMissing:
      return { points: [] };
  }
}

/**
 * Every status the run goes through, in order; several transitions may share one `atMs` (they are
 * still written one after another, as Tekton's reconcilers would).
 */
export function planRun(input: PlanInput): Transition[] {
  const pr = input.pipelineRun;
  const name = pr.metadata.name ?? '';
  const namespace = pr.metadata.namespace ?? '';
  const anchor = Date.parse(input.startTime);
  const at = (ms: number) => isoSeconds(anchor + ms);
  const started: Transition = {
    atMs: 0,
    pipelineRun: {
      startTime: input.startTime,
      conditions: [condition('Unknown', 'Started', undefined, at(0))],
    },
    taskRuns: [],
  };
  const failNow = (reason: string, message: string): Transition[] => [
    started,
    {
      atMs: 0,
      pipelineRun: {
        startTime: input.startTime,
        conditions: [condition('False', reason, message, at(0))],
        completionTime: at(0),
      },
      taskRuns: [],
    },
  ];

  const pipelineName = pr.spec.pipelineRef?.name;
  const pipeline = input.pipeline;
  if (!pipelineName || !pipeline) {
    return failNow(
      'CouldntGetPipeline',
      `Error retrieving pipeline for pipelinerun ${namespace}/${name}: error when getting Pipeline for PipelineRun ${name}: tekton client cannot get pipeline ${pipelineName ?? ''} from local cluster: pipelines.tekton.dev "${pipelineName ?? ''}" not found`,
    );
  }
  const invalid = (why: string) =>
    failNow(
      'PipelineValidationFailed',
      `${USER_ERROR}Pipeline ${namespace}/${pipelineName} can't be Run; it has an invalid spec: ${why}`,
    );
  const script = parseScript(pipeline.metadata.annotations?.[SCRIPT_ANNOTATION]);
  if ('error' in script) return invalid(script.error);
  const tasks = pipeline.spec.tasks ?? [];
  if (tasks.length === 0) return invalid('expected at least one, got none: spec.tasks');

  if (script.outcome === Outcome.ParamMissing) {
    const given = new Set((pr.spec.params ?? []).map((p) => p.name));
    const required = (pipeline.spec.params ?? []).filter(
      (p) => p.default === undefined && !given.has(p.name),
    );
    // The script forces the failure even when the Pipeline declares no required parameter.
    const missing = required.length ? required.map((p) => p.name) : ['simulated-param'];
    return failNow(
      'ParameterMissing',
      `${USER_ERROR}PipelineRun ${namespace}/${name} is missing some parameters required by Pipeline ${namespace}/${pipelineName}: pipelineRun missing parameters: [${missing.join(' ')}]`,
    );
  }

  const children = tasks.map((task) => {
    const trName = taskRunName(name, task.name);
    const createdText = input.taskRunCreated?.get(trName);
    const created = createdText === undefined ? anchor : Date.parse(createdText);
    return {
      name: trName,
      pipelineTask: task.name,
      created: isoSeconds(created),
      timeline: taskRunTimeline(script, trName, stepsOf(task), created, `${trName}-pod`),
    };
  });
  const childReferences = children.map((c) => ({
    apiVersion: TEKTON_API_VERSION,
    kind: 'TaskRun',
    name: c.name,
    pipelineTaskName: c.pipelineTask,
  }));
  const running: PipelineRunStatus = {
    startTime: input.startTime,
    conditions: [condition('Unknown', 'Running', counts(0, 0), at(0))],
    childReferences,
  };
  // Every TaskRun follows the same script, so their timelines share the same instants.
  const reference = children[0]?.timeline ?? { points: [] };
  const transitions: Transition[] = [started];
  reference.points.forEach((point, i) =>
    transitions.push({
      atMs: point.atMs,
      pipelineRun: running,
      taskRuns: children.map((c) => ({
        name: c.name,
        pipelineTask: c.pipelineTask,
        status: c.timeline.points[i]?.status ?? point.status,
      })),
    }),
  );

  const specTimeoutMs = pipelineTimeoutMs(pr);
  const scriptDeadlineMs =
    script.outcome === Outcome.Timeout
      ? POD_START_MS + script.durationMs
      : script.outcome === Outcome.Quota
        ? script.durationMs
        : Infinity;
  const deadlineMs = Math.min(specTimeoutMs, scriptDeadlineMs);
  const end = reference.end;
  if (end && end.atMs <= deadlineMs) {
    transitions.push({
      atMs: end.atMs,
      pipelineRun: {
        ...running,
        conditions: [
          end.failed
            ? condition('False', 'Failed', counts(children.length, children.length), at(end.atMs))
            : condition('True', 'Succeeded', counts(children.length, 0), at(end.atMs)),
        ],
        completionTime: at(end.atMs),
      },
      taskRuns: children.map((c) => ({
        name: c.name,
        pipelineTask: c.pipelineTask,
        status: c.timeline.end?.status ?? end.status,
      })),
    });
    return transitions;
  }
  if (!Number.isFinite(deadlineMs)) return transitions;

  // Timed out: cut the timeline at the deadline and fail whatever is still going.
  const timeoutText = formatGoDuration(deadlineMs);
  const kept = transitions.filter((tr) => tr.atMs <= deadlineMs);
  const last = kept[kept.length - 1] ?? started;
  const finishedAt = at(deadlineMs);
  kept.push({
    atMs: deadlineMs,
    pipelineRun: {
      ...running,
      conditions: [
        condition(
          'False',
          'PipelineRunTimeout',
          `PipelineRun "${name}" failed to finish within "${timeoutText}"`,
          finishedAt,
        ),
      ],
      completionTime: finishedAt,
    },
    taskRuns: children.map((c) => {
      // The PipelineRun's timeout cancels its TaskRuns (their own timeout is no shorter).
      const current = last.taskRuns.find((tr) => tr.name === c.name)?.status ?? { podName: '' };
      const message = taskRunCancelledMessage(
        c.name,
        TASKRUN_CANCELLED_BY_TIMEOUT_MESSAGE,
        current.conditions?.find((x) => x.type === 'Succeeded'),
      );
      return {
        name: c.name,
        pipelineTask: c.pipelineTask,
        status: failTaskRun(current, 'TaskRunCancelled', message, finishedAt, c.created),
      };
    }),
  });
  return kept;
}

/** Order-insensitive deep equality of JSON values (the API server re-orders object keys). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/**
 * Index of the last transition already fully written, judged from the objects alone (a restarted
 * simulator resumes there instead of replaying the run); -1 when none. The PipelineRun is written
 * last in each transition, so when TaskRuns are ahead of it the PipelineRun decides.
 */
export function appliedIndex(
  plan: readonly Transition[],
  pipelineRun: PipelineRunStatus | undefined,
  taskRuns: ReadonlyMap<string, TaskRunStatus | undefined>,
): number {
  let prOnly = -1;
  for (let i = plan.length - 1; i >= 0; i--) {
    const step = plan[i];
    if (!step || !sameJson(step.pipelineRun, pipelineRun)) continue;
    if (step.taskRuns.every((tr) => sameJson(tr.status, taskRuns.get(tr.name)))) return i;
    if (prOnly < 0) prOnly = i;
  }
  return prOnly;
}
