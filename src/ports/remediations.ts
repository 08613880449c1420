/**
 * What activities need to know about, and say to, other remediations: whether a lock holder or
 * waiter is still running, and waking them. Real adapter: Temporal client; fake: in memory.
 */
export interface Remediations {
  /** False when the workflow (run) is closed or unknown. */
  isRunning(workflowId: string, runId?: string): Promise<boolean>;
  /** Best effort: a closed workflow is ignored. */
  wake(workflowId: string, cause: string): Promise<void>;
  /** Best effort: tells the original that a duplicate of it was skipped. */
  notifyDuplicate(workflowId: string, duplicate: { remediationId: string; at: string }): Promise<void>;
  /** Workflow ids of running remediations on a target (from visibility). */
  runningOnTarget(targetKey: string): Promise<string[]>;
}
