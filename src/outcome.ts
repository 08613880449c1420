/**
 * How a remediation's end shows in Temporal's own tools (docs/behaviour.md#how-a-remediation-closes-in-temporal).
 * Phase Failed closes the workflow as FAILED with a non-retryable failure of type
 * {@link REMEDIATION_FAILED} whose first detail is the final status; Completed and Skipped complete
 * the workflow with the status as its result, Cancelled cancels it. Pure: the workflow and the
 * client share it.
 */
import type { RemediationStatus } from './temporal-contract';
import { Phase, terminalPhases } from './domain/model';

/** The `type` of the workflow failure of a remediation that ended Failed. Stable: clients recognise the outcome by it. */
export const REMEDIATION_FAILED = 'RemediationFailed';

/** Only Failed is an error: Completed fixed it, Skipped decided not to run (e.g. a duplicate), Cancelled was asked for. */
export function failsWorkflow(phase: Phase): boolean {
  return phase === Phase.Failed;
}

/** The failure's message: the end reason and the numbers an operator triages by, then the status message. */
export function remediationFailedMessage(status: RemediationStatus): string {
  const runs = status.pipelineRuns;
  const numbers = [
    `${status.attempts} attempt${status.attempts === 1 ? '' : 's'}`,
    `${runs.length} PipelineRun${runs.length === 1 ? '' : 's'}${runs.length ? ` (last ${runs[runs.length - 1]})` : ''}`,
    ...(status.failure ? [`failure ${failureName(status.failure)}`] : []),
  ];
  return `remediation ${status.id} on ${status.target} ended Failed (${status.reason ?? 'unknown reason'}) after ${numbers.join(', ')}: ${status.message}`;
}

/**
 * The final status a {@link REMEDIATION_FAILED} failure carries in its details, or null when the
 * failure is of another type or its first detail is not a final status.
 */
export function finalStatusFromFailure(failure: {
  type?: unknown;
  details?: unknown;
}): RemediationStatus | null {
  if (failure.type !== REMEDIATION_FAILED || !Array.isArray(failure.details)) return null;
  const status: unknown = failure.details[0];
  if (typeof status !== 'object' || status === null) return null;
  const phase = (status as { phase?: unknown }).phase;
  return terminalPhases.includes(phase as Phase) ? (status as RemediationStatus) : null;
}

/** The category, and Tekton's own reason when it says more (e.g. `ImagePullFailed (TaskRunImagePullFailed)`). */
function failureName({ category, reason }: { category: string; reason: string }): string {
  return reason && reason !== category ? `${category} (${reason})` : category;
}
