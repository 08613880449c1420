import { patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { RemediationActivities } from '../activities';
import {
  SearchAttributes,
  nonRetryableErrorTypes,
  type ClearTargetInput,
  type ClearTargetResult,
} from '../shared';

const { clearTarget: clear } = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes },
});

/** Operator clear of a target, startable from the plain `temporal` CLI. */
export async function clearTarget(input: ClearTargetInput): Promise<ClearTargetResult> {
  // Filterable by target however it was started (the client sets it at start, the plain CLI does not).
  if (patched('clear-target-search-attribute') && typeof input?.target === 'string' && input.target) {
    upsertSearchAttributes([{ key: SearchAttributes.target, value: input.target }]);
  }
  return clear.executeWithOptions({ summary: `Clear ${input.target} (by ${input.by}): ${input.reason}` }, [
    input,
  ]);
}
