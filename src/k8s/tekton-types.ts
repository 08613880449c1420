/**
 * The parts of Tekton's tekton.dev/v1 PipelineRun and TaskRun that this product reads or writes
 * (see deploy/crds/tekton for the full schemas). Wire strings are kept verbatim.
 */

export const TEKTON_GROUP = 'tekton.dev';
export const TEKTON_VERSION = 'v1';

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
    tasks?: { name: string; taskSpec?: unknown; taskRef?: { name: string }; params?: Param[] }[];
  };
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
  status?: {
    conditions?: Condition[];
    startTime?: string;
    completionTime?: string;
    childReferences?: ChildReference[];
  };
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
  spec: { params?: Param[]; taskRef?: { name: string }; taskSpec?: unknown; status?: string };
  status?: {
    conditions?: Condition[];
    podName?: string;
    startTime?: string;
    completionTime?: string;
    steps?: StepState[];
  };
}

/** The `Succeeded` condition of a PipelineRun or TaskRun, if any. */
export function succeededCondition(obj: { status?: { conditions?: Condition[] } }): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === 'Succeeded');
}
