import { ApplicationFailure, patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { RemediationActivities } from '../activities';
import { describeOperatorErrors, operatorInputErrors } from '../domain/operator';
import { InvalidRequestError, parseTargetKey, type FieldError } from '../domain/request';
import {
  ErrorType,
  SearchAttributes,
  nonRetryableErrorTypes,
  type ClearTargetInput,
  type ClearTargetResult,
} from '../temporal-contract';

const { clearTarget: clear } = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes },
});

/** Operator clear of a target, startable from the plain `temporal` CLI. */
export async function clearTarget(input: ClearTargetInput): Promise<ClearTargetResult> {
  // Refused before anything runs or is written: the target must be a key, `by` and `reason` are
  // required and bounded (audited). Histories recorded before this check replay without it.
  if (patched('clear-target-validate-input')) validate(input);
  // Filterable by target however it was started (the client sets it at start, the plain CLI does not).
  if (patched('clear-target-search-attribute') && typeof input?.target === 'string' && input.target) {
    upsertSearchAttributes([{ key: SearchAttributes.target, value: input.target }]);
  }
  return clear.executeWithOptions({ summary: `Clear ${input.target} (by ${input.by}): ${input.reason}` }, [
    input,
  ]);
}

/**
 * Fails the workflow (non-retryable `InvalidRequestError`, every bad field named, the field errors
 * as details) when the input is not a clear anyone could audit.
 */
function validate(input: ClearTargetInput | null | undefined): void {
  const errors: FieldError[] = [];
  const target: unknown = input?.target;
  if (typeof target !== 'string' || !target) {
    errors.push({ field: 'target', rule: 'required', message: 'is required: the target key ns/Kind/name' });
  } else {
    try {
      parseTargetKey(target);
    } catch (error) {
      if (!(error instanceof InvalidRequestError)) throw error;
      errors.push(...error.errors);
    }
  }
  errors.push(...operatorInputErrors(input));
  if (errors.length) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidRequest,
      message: `clear refused, nothing was written: ${describeOperatorErrors(errors)}`,
      nonRetryable: true,
      details: [errors],
    });
  }
}
