import type { PipelineRunOutcome, WouldRun } from '../domain/model';
import { TEKTON_API_VERSION, type PipelineRun } from '../domain/tekton';

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

/**
 * The PipelineRun object `create` submits for `request`, and the one `dryRun` submits: one
 * builder, so a dry run checks exactly what a real create would send.
 */
export function pipelineRunFor(request: PipelineRunRequest): PipelineRun {
  return {
    apiVersion: TEKTON_API_VERSION,
    kind: 'PipelineRun',
    metadata: {
      name: request.name,
      namespace: request.namespace,
      labels: { ...request.labels },
      ...(request.annotations ? { annotations: { ...request.annotations } } : {}),
    },
    spec: {
      pipelineRef: { name: request.pipeline },
      params: Object.entries(request.params).map(([name, value]) => ({ name, value })),
      ...(request.serviceAccountName
        ? { taskRunTemplate: { serviceAccountName: request.serviceAccountName } }
        : {}),
      ...(request.timeout ? { timeouts: { pipeline: request.timeout } } : {}),
    },
  };
}

/** What a dry run would have created (the domain's type; see domain/model). */
export type { WouldRun };

/** The result of {@link PipelineRuns.dryRun}. Nothing was created. */
export interface PipelineRunDryRun {
  /** The referenced Pipeline exists in the request's namespace (a GET at the time of the dry run). */
  pipelineExists: boolean;
  /**
   * The API server's validation and admission (schema, metadata, webhooks) accepted the exact
   * PipelineRun `create` would submit. It does not resolve pipelineRef: a run of a missing Pipeline
   * is accepted (Tekton's controller would fail it as PipelineNotFound), see `pipelineExists`.
   */
  accepted: boolean;
  /** Why not, when not accepted: the HTTP status and the server's message, as `create` would throw them. */
  rejection: { status: number; message: string } | null;
  /**
   * A PipelineRun of that name exists already (the dry run met 409 AlreadyExists, which the API
   * server answers only after validation and admission passed, so it counts as accepted). A real
   * create would adopt it or refuse it by its {@link ADOPTION_LABELS}.
   */
  alreadyExists: boolean;
  wouldRun: WouldRun;
}

/** The {@link WouldRun} of a PipelineRun object built by {@link pipelineRunFor}. */
export function wouldRunOf(pr: PipelineRun): WouldRun {
  return {
    pipelineRun: pr.metadata.name ?? '',
    pipeline: pr.spec.pipelineRef?.name ?? '',
    params: Object.fromEntries(
      (pr.spec.params ?? []).map((p) => [
        p.name,
        typeof p.value === 'string' ? p.value : JSON.stringify(p.value),
      ]),
    ),
    serviceAccountName: pr.spec.taskRunTemplate?.serviceAccountName ?? null,
  };
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
  /**
   * Checks, creating nothing, what `create(request)` would do (DryRun / Shadow mode): GETs the
   * referenced Pipeline in the request's namespace, and submits the exact object `create` would
   * ({@link pipelineRunFor}) with a server-side dry run (`dryRun=All`: admission and validation run,
   * nothing is persisted). What `create` throws as {@link PipelineRunRejectedError} is reported as
   * `accepted: false` with its `rejection`; 409 AlreadyExists is accepted with `alreadyExists`.
   * Anything else (network, 5xx, the Pipeline's GET failing other than 404) throws, so the caller
   * retries.
   */
  dryRun(request: PipelineRunRequest): Promise<PipelineRunDryRun>;
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
  /**
   * Watch connections to the API server held open now for `waitForCompletion`: at most one per
   * namespace with waits in it, however many waits (one shared watch, each wait subscribed to its
   * run's events), so executing remediations do not each cost a long-running request.
   */
  watchConnections(): number;
  /** Sets spec.status=Cancelled (idempotent; a finished or missing run is left alone). */
  cancel(namespace: string, name: string): Promise<void>;
  /** For tests and audits: names of PipelineRuns carrying all the given labels. */
  list(namespace: string, labels: Record<string, string>): Promise<string[]>;
}
