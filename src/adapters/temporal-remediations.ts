import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Remediations } from '../ports/remediations';
import { duplicateSignal, wakeSignal, REMEDIATION_WORKFLOW } from '../temporal-contract';

/** Remediations over a Temporal client (describe, signal, visibility list). */
export class TemporalRemediations implements Remediations {
  constructor(private readonly client: Client) {}

  async isRunning(workflowId: string, runId?: string): Promise<boolean> {
    try {
      const description = await this.client.workflow.getHandle(workflowId, runId).describe();
      return description.status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  async wake(workflowId: string, cause: string): Promise<void> {
    await ignoreClosed(() => this.client.workflow.getHandle(workflowId).signal(wakeSignal, { cause }));
  }

  async notifyDuplicate(workflowId: string, duplicate: { remediationId: string; at: string }): Promise<void> {
    await ignoreClosed(() => this.client.workflow.getHandle(workflowId).signal(duplicateSignal, duplicate));
  }

  async runningOnTarget(targetKey: string): Promise<string[]> {
    const ids: string[] = [];
    const query =
      `WorkflowType = '${REMEDIATION_WORKFLOW}' AND ExecutionStatus = 'Running' ` +
      `AND TargetResource = '${targetKey.replace(/'/g, "\\'")}'`;
    for await (const execution of this.client.workflow.list({ query })) ids.push(execution.workflowId);
    return ids;
  }
}

async function ignoreClosed(send: () => Promise<void>): Promise<void> {
  try {
    await send();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return;
    throw error;
  }
}
