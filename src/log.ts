/**
 * The one logger of the worker and the intake: one JSON object per line on stdout, for log
 * shippers. Every line has `time` (ISO-8601 UTC), `level` (debug|info|warn|error), `logger` (which
 * process or part wrote it) and `msg`, then the line's own fields. `LOG_LEVEL` sets the lowest
 * level written (default info). The Temporal SDK's own logs — the TypeScript side and the Rust
 * core's, forwarded — come through {@link temporalSdkLogger} in the same shape.
 */
import { z } from 'zod';
import { InvalidConfigError } from './domain/config';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  /** Whether a line at `level` would be written (skip building costly fields otherwise). */
  enabled(level: LogLevel): boolean;
  /** The same sink and level, with `bindings` on every line (e.g. `{ logger: 'catalog' }`). */
  child(bindings: LogFields): Logger;
}

/** Anything lines can be written to: process.stdout, a file stream, a test buffer. */
export interface LogSink {
  write(chunk: string): unknown;
}

export interface LoggerOptions {
  /** Written as `logger` on every line: `worker`, `intake`. */
  name: string;
  level?: LogLevel;
  sink?: LogSink;
  clock?: () => Date;
}

const LogEnvSchema = z.object({
  LOG_LEVEL: z
    .string()
    .transform((value) => value.trim().toLowerCase())
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }))
    .optional(),
});

/**
 * `LOG_LEVEL` from the environment (case-insensitive; unset or empty means info). Throws
 * {@link InvalidConfigError} naming `LOG_LEVEL` for any other value.
 */
export function logLevelFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): LogLevel {
  const raw = env.LOG_LEVEL;
  const parsed = LogEnvSchema.safeParse({ LOG_LEVEL: raw === '' ? undefined : raw });
  if (!parsed.success) {
    throw new InvalidConfigError([
      {
        field: 'LOG_LEVEL',
        rule: 'enum',
        message: `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(raw)})`,
      },
    ]);
  }
  return parsed.data.LOG_LEVEL ?? DEFAULT_LOG_LEVEL;
}

export function createLogger(options: LoggerOptions): Logger {
  return new JsonLogger(
    options.level ?? DEFAULT_LOG_LEVEL,
    options.sink ?? process.stdout,
    options.clock ?? (() => new Date()),
    { logger: options.name },
  );
}

class JsonLogger implements Logger {
  constructor(
    readonly level: LogLevel,
    private readonly sink: LogSink,
    private readonly clock: () => Date,
    private readonly bindings: LogFields,
  ) {}

  enabled(level: LogLevel): boolean {
    return SEVERITY[level] >= SEVERITY[this.level];
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    // A line may bring its own time (a forwarded SDK core line); otherwise it is now.
    const time = fields?.time instanceof Date ? fields.time : this.clock();
    this.write(logLine(time, level, msg, { ...this.bindings, ...fields }));
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  child(bindings: LogFields): Logger {
    return new JsonLogger(this.level, this.sink, this.clock, { ...this.bindings, ...bindings });
  }

  private write(line: string): void {
    try {
      this.sink.write(line);
    } catch {
      // a broken log sink must never take the process down
    }
  }
}

/** `time`, `level`, `logger`, `msg` first (a field cannot replace them), then the fields. */
export function logLine(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  const { time: _t, level: _l, msg: _m, logger, ...rest } = fields;
  const record = { time: time.toISOString(), level, logger, msg, ...rest };
  try {
    return `${JSON.stringify(record, jsonSafe)}\n`;
  } catch (error) {
    // A field that cannot be serialized (a cycle) must not lose the line.
    return `${JSON.stringify({ time: record.time, level, logger, msg, logError: String(error) })}\n`;
  }
}

/** Errors keep their name, message and stack (JSON.stringify would give `{}`); bigints become strings. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** The Temporal SDK's level names (its `Logger` interface), structurally. */
type SdkLogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
type SdkLogMeta = Record<string | symbol, unknown>;

/** The SDK's `Logger` interface (`@temporalio/common`), structurally, so the intake needs no SDK worker. */
export interface SdkLogger {
  log(level: SdkLogLevel, message: string, meta?: SdkLogMeta): void;
  trace(message: string, meta?: SdkLogMeta): void;
  debug(message: string, meta?: SdkLogMeta): void;
  info(message: string, meta?: SdkLogMeta): void;
  warn(message: string, meta?: SdkLogMeta): void;
  error(message: string, meta?: SdkLogMeta): void;
}

/** Where forwarded core logs carry their own time (nanoseconds since the epoch, a bigint). */
const SDK_LOG_TIMESTAMP = Symbol.for('log_timestamp');

const FROM_SDK_LEVEL: Record<SdkLogLevel, LogLevel> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logs (Runtime `logger`) as lines of `logger` with `logger: "temporal"`; the
 * SDK's metadata (`sdkComponent`, `workflowId`, `activityType`, …) become fields, and a forwarded
 * core line keeps its own time. TRACE is written as debug.
 */
export function temporalSdkLogger(logger: Logger): SdkLogger {
  const sdk = logger.child({ logger: 'temporal' });
  const log = (level: SdkLogLevel, message: string, meta?: SdkLogMeta): void => {
    const ours = FROM_SDK_LEVEL[level] ?? 'info';
    if (!sdk.enabled(ours)) return;
    const fields: LogFields = {};
    for (const [key, value] of Object.entries(meta ?? {})) fields[key] = value;
    const nanos = meta?.[SDK_LOG_TIMESTAMP];
    if (typeof nanos === 'bigint') fields.time = new Date(Number(nanos / 1_000_000n));
    sdk.log(ours, message, fields);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/** The SDK's name for our lowest level, for the core's log filter. */
export function sdkLogLevel(level: LogLevel): Exclude<SdkLogLevel, 'TRACE'> {
  return level.toUpperCase() as Exclude<SdkLogLevel, 'TRACE'>;
}
