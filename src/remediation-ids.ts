/**
 * A remediation's workflow id and the name of its status query, apart from ./temporal-contract.ts (which
 * loads the workflow and zod modules) so that `remediate status` can ask without them.
 */

/** Workflow id of a remediation: the idempotency key. */
export function remediationWorkflowId(remediationId: string): string {
  return `remediation-${remediationId}`;
}

export function remediationIdFromWorkflowId(workflowId: string): string {
  return workflowId.startsWith('remediation-') ? workflowId.slice('remediation-'.length) : workflowId;
}

/** The query every remediation answers with its RemediationStatus (./temporal-contract.ts `statusQuery`). */
export const STATUS_QUERY = 'status';
