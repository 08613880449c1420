import type { Remediations } from '../../ports/remediations';

/** Remediations for unit tests: a set of running workflows and a log of what was said to them. */
export class InMemoryRemediations implements Remediations {
  readonly running = new Map<string, { targetKey?: string }>();
  readonly wakes: { workflowId: string; cause: string }[] = [];
  readonly duplicates: { workflowId: string; remediationId: string; at: string }[] = [];

  async isRunning(workflowId: string): Promise<boolean> {
    return this.running.has(workflowId);
  }

  async wake(workflowId: string, cause: string): Promise<void> {
    if (this.running.has(workflowId)) this.wakes.push({ workflowId, cause });
  }

  async notifyDuplicate(workflowId: string, duplicate: { remediationId: string; at: string }): Promise<void> {
    if (this.running.has(workflowId)) this.duplicates.push({ workflowId, ...duplicate });
  }

  async runningOnTarget(targetKey: string): Promise<string[]> {
    return [...this.running.entries()].filter(([, w]) => w.targetKey === targetKey).map(([id]) => id);
  }
}
