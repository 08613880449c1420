import type { Failure } from '../domain/model';

/** What we ask Tekton to run for one attempt of one remediation (SEMANTICS §5). */
export interface PipelineRunRequest {
  /** Deterministic per (remediation, attempt), ≤ 50 chars so child TaskRun names fit in 63. */
  name: string;
  namespace: string;
  pipeline: string;
  params: Record<string, string>;
  serviceAccountName?: string;
  /** Tekton duration string such as "30m0s" (spec.timeouts.pipeline). */
  timeout?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The observed state of one PipelineRun, already classified (see domain/classifier). */
export type PipelineRunOutcome =
  | { state: 'running'; reason: string; message: string; stuckReason?: string }
  | { state: 'succeeded'; reason: string; message: string }
  | { state: 'failed'; failure: Failure };

export interface PipelineRunCreated {
  name: string;
  /** False when a PipelineRun of that name already existed and was adopted (crash-retry). */
  created: boolean;
  uid: string;
}

/** Thrown when the API server refuses the create outright (404/400/422/403/webhook 500). */
export class PipelineRunRejectedError extends Error {
  override readonly name = 'PipelineRunRejectedError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Tekton PipelineRuns as the product needs them: create-or-adopt, observe (classified),
 * watch until done, cancel. One real adapter (Kubernetes API) and one in-memory fake, both
 * held to the same contract tests.
 */
export interface PipelineRuns {
  create(request: PipelineRunRequest): Promise<PipelineRunCreated>;
  /** Null when no such PipelineRun exists. */
  observe(namespace: string, name: string): Promise<PipelineRunOutcome | null>;
  /**
   * Resolves with the first non-running outcome. Survives watch expiry (410) and API-server
   * restarts by re-listing; calls `onProgress` at least every `heartbeatMs` so the caller can
   * heartbeat. Rejects with AbortError when `signal` aborts.
   */
  waitForCompletion(
    namespace: string,
    name: string,
    options: {
      signal?: AbortSignal;
      heartbeatMs?: number;
      onProgress?: (outcome: PipelineRunOutcome) => void;
    },
  ): Promise<PipelineRunOutcome>;
  /** Sets spec.status=Cancelled (idempotent; a finished or missing run is left alone). */
  cancel(namespace: string, name: string): Promise<void>;
  /** For tests and audits: names of PipelineRuns carrying all the given labels. */
  list(namespace: string, labels: Record<string, string>): Promise<string[]>;
}
