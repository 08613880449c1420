/**
 * The simulator's script language: a Pipeline's
 * annotation says what every run of it does.
 */

export const SCRIPT_ANNOTATION = 'simulator.remediation.dev/script';

/** What a scripted run does. */
export const Outcome = {
  /** Every step exits 0. */
  Succeed: 'succeed',
  /** The last step exits 1. */
  FailStep: 'fail-step',
  /** The last step is OOMKilled (137). */
  Oom: 'oom',
  /** Steps run for durationMs, then the run times out. */
  Timeout: 'timeout',
  /** The first step's image never pulls. */
  ImagePull: 'image-pull',
  /** The pod is refused by a ResourceQuota until the run times out after durationMs. */
  Quota: 'quota',
  /** The first step's container cannot be configured (missing Secret). */
  ConfigError: 'config-error',
  /** An admission policy refuses the pod (Tekton then fails the TaskRun PodCreationFailed). */
  PodAdmission: 'pod-admission',
  /** The PipelineRun lacks a required parameter. */
  ParamMissing: 'param-missing',
  /** Steps run until the PipelineRun is cancelled (or its timeout fires). */
  Hang: 'hang',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

const outcomes: readonly string[] = Object.values(Outcome);

export interface Script {
  outcome: Outcome;
  durationMs: number;
}

/** No annotation means a plain successful run, as an unscripted Pipeline would be. */
export const DEFAULT_SCRIPT: Script = { outcome: Outcome.Succeed, durationMs: 0 };

/** Parses the annotation; an unusable one yields the reason, which the run fails with. */
export function parseScript(annotation: string | undefined): Script | { error: string } {
  if (annotation === undefined) return DEFAULT_SCRIPT;
  let parsed: unknown;
  try {
    parsed = JSON.parse(annotation);
  } catch (e) {
    return { error: `annotation ${SCRIPT_ANNOTATION} is not valid JSON: ${(e as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { error: `annotation ${SCRIPT_ANNOTATION} must be a JSON object` };
  }
  const { outcome, durationMs = 0 } = parsed as { outcome?: unknown; durationMs?: unknown };
  if (typeof outcome !== 'string' || !outcomes.includes(outcome)) {
    return { error: `annotation ${SCRIPT_ANNOTATION}: outcome must be one of ${outcomes.join(', ')}` };
  }
  if (typeof durationMs !== 'number' || !Number.isSafeInteger(durationMs) || durationMs < 0) {
    return { error: `annotation ${SCRIPT_ANNOTATION}: durationMs must be a non-negative integer` };
  }
  return { outcome: outcome as Outcome, durationMs };
}
