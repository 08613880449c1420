/**
 * Field-level errors for the intake's inputs (webhook payloads, routing config). Same
 * {@link FieldError} shape and rule names as request validation, but paths keep array indices
 * visible (`alerts[1].labels`, `routes[2].target.name`) because these inputs are lists.
 */
import { z } from 'zod';
import { toFieldErrors, type FieldError } from '../domain/request';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `["routes", 2, "target", "name"]` → `routes[2].target.name`; odd keys are quoted: `labels["a b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && IDENTIFIER.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(root)';
}

/** One {@link FieldError} per zod issue (per key for unknown keys), with bracketed paths. */
export function fieldErrorsOf(error: z.ZodError): FieldError[] {
  return issuesToFieldErrors(error.issues);
}

function issuesToFieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    // A bad record key: report what is wrong with the key, not just that it is bad.
    if (issue.code === 'invalid_key' && issue.issues.length > 0) {
      return issuesToFieldErrors(issue.issues.map((inner) => ({ ...inner, path: issue.path })));
    }
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: formatPath([...issue.path, key]),
        rule: 'unknownKey',
        message: 'is not a known field',
      }));
    }
    // Reuse the request validator's rule names and messages; only the path format differs.
    return toFieldErrors(new z.ZodError([{ ...issue, path: [] }])).map((e) => ({
      ...e,
      field: formatPath(issue.path),
    }));
  });
}

export function describeFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message} [${e.rule}]`).join('; ');
}
