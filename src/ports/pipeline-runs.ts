import type { PipelineRunOutcome } from '../domain/model';

/** The classified observation lives with the classifier in the domain core; re-exported for adapters. */
export type { PipelineRunOutcome };

/** What we ask Tekton to run for one attempt of one remediation. */
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
 * The labels that name the owner of a PipelineRun. A create that finds its name taken adopts the
 * existing run only when each of these equals the request's (a label absent on both sides counts
 * as equal): a PipelineRun of another remediation, attempt or lock holder is never adopted.
 */
export const ADOPTION_LABELS = [
  'remediation.dev/remediation-id',
  'remediation.dev/attempt',
  'remediation.dev/fencing-token',
] as const;

/** The first adoption label on which `existing` differs from the request, if any. */
/** Adopting an existing run of the requested name: refused unless its labels name the same owner (I10). */
export function assertAdoptable(
  request: { namespace: string; name: string; labels: Record<string, string> },
  existing: Record<string, string> | undefined,
): void {
  const mismatch = adoptionMismatch(request.labels, existing);
  if (mismatch)
    throw new PipelineRunConflictError(
      request.namespace,
      request.name,
      mismatch.label,
      mismatch.expected,
      mismatch.actual,
    );
}

export function adoptionMismatch(
  requested: Record<string, string>,
  existing: Record<string, string> | undefined,
): { label: string; expected: string | undefined; actual: string | undefined } | undefined {
  for (const label of ADOPTION_LABELS) {
    const expected = requested[label];
    const actual = existing?.[label];
    if (expected !== actual) return { label, expected, actual };
  }
  return undefined;
}

/**
 * Thrown by `create` when a PipelineRun of the requested name already exists but its adoption
 * labels name another remediation, attempt or fencing token. The existing run is left untouched.
 */
export class PipelineRunConflictError extends Error {
  override readonly name = 'PipelineRunConflictError';
  constructor(
    readonly namespace: string,
    /** The PipelineRun's name. */
    readonly pipelineRun: string,
    /** The first adoption label that differed. */
    readonly label: string,
    readonly expected: string | undefined,
    readonly actual: string | undefined,
  ) {
    super(
      `PipelineRun ${namespace}/${pipelineRun} already exists and is not ours to adopt: label ${label} is ${
        actual === undefined ? 'missing' : JSON.stringify(actual)
      }, expected ${expected === undefined ? 'none' : JSON.stringify(expected)}`,
    );
  }
}

/**
 * Tekton PipelineRuns as the product needs them: create-or-adopt, observe (classified),
 * watch until done, cancel. One real adapter (Kubernetes API) and one in-memory fake, both
 * held to the same contract tests.
 */
export interface PipelineRuns {
  /**
   * Creates the PipelineRun, or adopts the one already there under that name (a retried create):
   * only when its {@link ADOPTION_LABELS} equal the request's, else throws
   * {@link PipelineRunConflictError}. Throws {@link PipelineRunRejectedError} when the API server
   * refuses the create.
   */
  create(request: PipelineRunRequest): Promise<PipelineRunCreated>;
  /** Null when no such PipelineRun exists. */
  observe(namespace: string, name: string): Promise<PipelineRunOutcome | null>;
  /**
   * Resolves with the first non-running outcome. Survives watch expiry (410) and API-server
   * restarts by re-listing; calls `onProgress` at least every `heartbeatMs` so the caller can
   * heartbeat. Rejects only with AbortError, when `signal` aborts.
   *
   * A PipelineRun that is not found, or is deleted while being watched, before it finished
   * resolves `{state: 'failed'}` with `classifyDisappeared` (domain/classifier) of the last outcome
   * this wait observed: category `PipelineRunDeleted`, an execution failure unless that
   * observation proves no user step had started (never observed proves nothing). When the deleted
   * object itself shows the run had finished, that outcome is returned instead.
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
