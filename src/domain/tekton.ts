/**
 * The parts of Tekton's tekton.dev/v1 PipelineRun and TaskRun that this product reads or writes
 * (see deploy/crds/tekton for the full schemas). Wire strings are kept verbatim.
 */

export const TEKTON_GROUP = 'tekton.dev';
export const TEKTON_VERSION = 'v1';
export const TEKTON_API_VERSION = 'tekton.dev/v1';

/** Resource plurals, as in the CRDs' `spec.names.plural`. */
export const TektonPlural = {
  Pipeline: 'pipelines',
  PipelineRun: 'pipelineruns',
  TaskRun: 'taskruns',
} as const;

/** Labels Tekton puts on every child TaskRun. */
export const PIPELINE_RUN_LABEL = 'tekton.dev/pipelineRun';
export const PIPELINE_TASK_LABEL = 'tekton.dev/pipelineTask';

/** `spec.status` value that cancels a PipelineRun (merge patch). */
export const PIPELINE_RUN_CANCELLED = 'Cancelled';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

/** knative-style condition; Tekton uses a single `Succeeded` condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface Param {
  name: string;
  value: string | string[] | Record<string, string>;
}

export interface Pipeline {
  apiVersion: 'tekton.dev/v1';
  kind: 'Pipeline';
  metadata: ObjectMeta;
  spec: {
    params?: { name: string; type?: string; default?: unknown }[];
    tasks?: PipelineTask[];
  };
}

export interface PipelineTask {
  name: string;
  taskRef?: { name: string };
  /** Embedded Task spec; the CRD keeps it as free-form JSON. */
  taskSpec?: { steps?: { name?: string; image?: string; script?: string }[] } & Record<string, unknown>;
  params?: Param[];
}

export interface ChildReference {
  apiVersion: string;
  kind: string;
  name: string;
  pipelineTaskName: string;
}

export interface PipelineRun {
  apiVersion: 'tekton.dev/v1';
  kind: 'PipelineRun';
  metadata: ObjectMeta;
  spec: {
    pipelineRef?: { name: string };
    params?: Param[];
    /** `Cancelled`, `CancelledRunFinally`, `StoppedRunFinally` or `PipelineRunPending`. */
    status?: string;
    timeouts?: { pipeline?: string; tasks?: string; finally?: string };
    taskRunTemplate?: { serviceAccountName?: string };
  };
  status?: PipelineRunStatus;
}

export interface PipelineRunStatus {
  conditions?: Condition[];
  startTime?: string;
  completionTime?: string;
  childReferences?: ChildReference[];
}

export interface StepState {
  name?: string;
  container?: string;
  imageID?: string;
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    exitCode: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
  };
}

export interface TaskRun {
  apiVersion: 'tekton.dev/v1';
  kind: 'TaskRun';
  metadata: ObjectMeta;
  spec: {
    params?: Param[];
    taskRef?: { name: string };
    taskSpec?: unknown;
    serviceAccountName?: string;
    timeout?: string;
    /** `TaskRunCancelled` cancels the TaskRun; `statusMessage` says why. */
    status?: string;
    statusMessage?: string;
  };
  status?: TaskRunStatus;
}

export interface TaskRunStatus {
  conditions?: Condition[];
  /** Required by the CRD schema on write; empty when no pod was ever created (quota, admission). */
  podName?: string;
  startTime?: string;
  completionTime?: string;
  steps?: StepState[];
}

/** The `Succeeded` condition of a PipelineRun or TaskRun, if any. */
export function succeededCondition(obj: { status?: { conditions?: Condition[] } }): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === 'Succeeded');
}
