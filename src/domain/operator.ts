/**
 * What every operator action (clear, override, and any later approve/reject) must say about
 * itself: who did it (`by`) and why (`reason`). Both land in the target's audit trail and in the
 * worker's audit log lines, so both are required and bounded here, once, for the client library,
 * the CLI and the workflows' own entry points (validators, input checks) alike.
 * Pure: importable in the workflow sandbox.
 */
import type { FieldError } from './request';

/** Longest `by`, in characters (code points); also the ledger CRD's `maxLength` of `audit[].by`. */
export const MAX_BY_LENGTH = 256;
/** Longest `reason`, in characters (code points); also the CRD's `maxLength` of `audit[].reason`. */
export const MAX_REASON_LENGTH = 1024;

/** What an operator action carries, as given (it may come from the plain `temporal` CLI). */
export interface OperatorInput {
  by?: unknown;
  reason?: unknown;
}

/**
 * The violated rules of an operator action's `by` and `reason` (empty when both are fine):
 * required (a non-blank string) and at most {@link MAX_BY_LENGTH} / {@link MAX_REASON_LENGTH}
 * characters, counted as the API server counts `maxLength` (code points, not UTF-16 units).
 */
export function operatorInputErrors(input: OperatorInput | null | undefined): FieldError[] {
  return [
    ...fieldErrors('by', input?.by, MAX_BY_LENGTH, 'who is doing this (audited)'),
    ...fieldErrors('reason', input?.reason, MAX_REASON_LENGTH, 'why (audited)'),
  ];
}

/** `by: is required: who is doing this (audited) [required]; …` — one line naming every field. */
export function describeOperatorErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message} [${e.rule}]`).join('; ');
}

function fieldErrors(field: string, value: unknown, max: number, what: string): FieldError[] {
  if (value === undefined || value === null)
    return [{ field, rule: 'required', message: `is required: ${what}` }];
  if (typeof value !== 'string')
    return [{ field, rule: 'type', message: `must be a string: ${what}, got ${typeof value}` }];
  if (!value.trim()) return [{ field, rule: 'required', message: `is required: ${what}, must not be empty` }];
  const length = [...value].length;
  if (length > max)
    return [{ field, rule: 'maxLength', message: `must be at most ${max} characters, got ${length}` }];
  return [];
}
