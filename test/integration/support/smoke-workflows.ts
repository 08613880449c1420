/** The smallest workflow that proves a real Worker talks to the stack's Temporal server. */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';

export interface SmokeActivities {
  greet(name: string): Promise<string>;
}

const { greet } = proxyActivities<SmokeActivities>({ startToCloseTimeout: '10 seconds' });

export async function smokeWorkflow(name: string): Promise<string> {
  // Exercises a custom Keyword search attribute registered by the stack.
  upsertSearchAttributes({ RemediationPhase: ['Completed'] });
  return await greet(name);
}
