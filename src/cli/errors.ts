/**
 * The CLI's own failures, each carrying its exit code (1 the operation failed, 2 bad usage or
 * invalid input). `run` maps these, and the few Temporal errors users can cause, to
 * a message and an exit code in one place.
 */
import type { FieldError } from '../domain/request';

export abstract class CliError extends Error {
  abstract readonly exitCode: 1 | 2;
  /** Stable machine-readable code for `{"error": {"code": …}}`. */
  abstract readonly code: string;

  constructor(
    message: string,
    readonly fields: FieldError[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Bad command line: unknown command or flag, missing or malformed value. Exit 2. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
  readonly code = 'usage';

  /** `field` names the flag or argument at fault, e.g. `--param` or `ID`. */
  constructor(message: string, field?: { field: string; rule: string }) {
    super(message, field ? [{ ...field, message }] : []);
  }
}

/** Temporal could not be reached: nothing was done. Exit 1. */
export class UnreachableError extends CliError {
  override readonly name = 'UnreachableError';
  readonly exitCode = 1;
  readonly code = 'unreachable';

  constructor(address: string, namespace: string, cause: unknown) {
    super(`cannot reach Temporal at ${address} (namespace ${namespace}): ${messageOf(cause)}`, [], { cause });
  }
}

/** Connection settings that cannot work (unreadable certificate, unknown profile): nothing was done. Exit 2. */
export class ConfigError extends CliError {
  override readonly name = 'ConfigError';
  readonly exitCode = 2;
  readonly code = 'config';

  constructor(cause: Error) {
    super(cause.message, [], { cause });
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
