import { proxyActivities } from '@temporalio/workflow';
import type { RemediationActivities } from '../activities';
import type { ClearTargetInput, ClearTargetResult } from '../shared';

const { clearTarget: clear } = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes: ['InvalidRequestError'] },
});

/** Operator clear of a target (SEMANTICS §7), startable from the plain `temporal` CLI. */
export async function clearTarget(input: ClearTargetInput): Promise<ClearTargetResult> {
  return clear.executeWithOptions({ summary: `Clear ${input.target} (by ${input.by}): ${input.reason}` }, [
    input,
  ]);
}
