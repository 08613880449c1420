/**
 * The `remediate` entry, free of process globals: `run` takes the argv, an {@link Io} and a
 * `connect` dependency and returns the exit code, so tests drive it with a fake client. Every error
 * reaches one catch that maps it to an exit code (0 success, 1 the operation failed, 2 bad usage or
 * invalid input).
 *
 * This module loads nothing heavy: `--help`, `--version` and `completion` answer from here, and the
 * commands (./commands.ts, with the Temporal client, zod and the rest, through ./load-heavy.ts) are
 * loaded only when one runs; `status ID`, the command polled most, loads only ./quick-status.ts
 * and its query (see {@link Deps.queryStatus}). Keep it that way: every import here is paid by
 * every invocation.
 */
import type { RemediationClient } from '../client';
import type { FieldError } from '../domain/request';
import type { TemporalConnectionOptions } from '../temporal-connection';
import { splitCommand, wantsHelp, wantsJson, wantsVersion } from './args';
import { completionCommand } from './completion';
import { CliError, UsageError } from './errors';
import { commandHelp, mainHelp } from './help';
import { loadHeavy } from './load-heavy';
import { quickStatus, type QueryStatus } from './quick-status';
import { commandFlags } from './spec';
import { versionCommand } from './version';

/** What the commands use of {@link RemediationClient}. */
export type CliClient = Pick<
  RemediationClient,
  | 'start'
  | 'status'
  | 'wait'
  | 'list'
  | 'target'
  | 'clear'
  | 'override'
  | 'approve'
  | 'reject'
  | 'resolve'
  | 'cancel'
  | 'close'
  | 'actions'
>;

export interface ConnectOptions {
  address: string;
  namespace: string;
  taskQueue: string;
  /** The full connection (address, TLS, API key, gRPC metadata), as the flags, env and profile resolve it. */
  connection: TemporalConnectionOptions;
  /** Set only for commands that read the ledger (`target`): where the Kubernetes API is. */
  ledger?: { kubeconfig?: string; context?: string; namespace?: string };
}

export interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
  /** Where `.stack/stack.json` is looked for. */
  cwd: string;
  now?: () => Date;
  /** The OS user, the default of `--by` (default os.userInfo(); $USER when that fails). */
  userInfo?: () => { username: string };
}

export interface Deps {
  connect(options: ConnectOptions): Promise<CliClient>;
  /**
   * `status ID` without `--wait`: one status over a connection made for it (main.ts: a bundle with
   * only that call). Without it, `status` connects a full client.
   */
  queryStatus?: QueryStatus;
}

/** Which flag sets which input field (prefix of the field path, flag), for hints in error lists. */
export type FieldFlags = readonly (readonly [prefix: string, flag: string])[];

/** How errors are reported for this invocation; a command sets `fieldFlags` for its input. */
export interface Reporting {
  readonly io: Io;
  readonly json: boolean;
  fieldFlags: FieldFlags;
}

export interface Failure {
  exitCode: 1 | 2;
  code: string;
  message: string;
  fields: FieldError[];
}

export async function run(argv: readonly string[], io: Io, deps: Deps): Promise<number> {
  const reporting: Reporting = { io, json: wantsJson(argv), fieldFlags: [] };
  try {
    if (wantsVersion(argv)) return versionCommand(io, reporting.json);
    const { command, args } = splitCommand(argv);
    if (command === undefined || command === 'help') {
      const topic = command === 'help' ? args.find((a) => !a.startsWith('-')) : undefined;
      if (topic !== undefined) return printHelp(io, topic);
      if (command === undefined && !wantsHelp(args)) {
        io.stderr.write(mainHelp);
        return 2;
      }
      io.stdout.write(mainHelp);
      return 0;
    }
    if (command === 'version') return versionCommand(io, reporting.json);
    if (!Object.hasOwn(commandFlags, command)) throw unknownCommand(command);
    if (wantsHelp(args)) return printHelp(io, command);
    if (command === 'completion') return completionCommand(args, io);
    if (command === 'status') {
      const code = await quickStatus(args, reporting, deps.queryStatus ?? statusThroughClient(deps));
      if (code !== undefined) return code;
    }
    const { runCommand } = await loadHeavy();
    return await runCommand(command, args, deps, reporting);
  } catch (error) {
    return report(error, reporting);
  }
}

function statusThroughClient(deps: Deps): QueryStatus {
  return async (options, id) => {
    const client = await deps.connect(options);
    try {
      return await client.status(id);
    } finally {
      await client.close();
    }
  };
}

function printHelp(io: Io, command: string): number {
  const text = commandHelp[command];
  if (text === undefined) throw unknownCommand(command);
  io.stdout.write(text);
  return 0;
}

function unknownCommand(command: string): UsageError {
  return new UsageError(`unknown command ${JSON.stringify(command)} (see remediate --help)`, {
    field: 'command',
    rule: 'unknown',
  });
}

/** The one place errors become exit codes and messages (JSON on stderr with `--json`). */
async function report(error: unknown, reporting: Reporting): Promise<number> {
  // The CLI's own errors need nothing else loaded; any other one came from a command, so the
  // module that classifies it is loaded already.
  const failure: Failure =
    error instanceof CliError
      ? { exitCode: error.exitCode, code: error.code, message: error.message, fields: error.fields }
      : (await loadHeavy()).classify(error);
  const io = reporting.io;
  if (reporting.json) {
    const { code, message, fields } = failure;
    io.stderr.write(`${JSON.stringify({ error: { code, message, fields } })}\n`);
  } else {
    const lines = [`remediate: ${failure.message}`];
    if (failure.code === 'invalid') {
      for (const f of failure.fields) {
        const flag = reporting.fieldFlags.find(
          ([prefix]) => f.field === prefix || f.field.startsWith(`${prefix}.`),
        );
        lines.push(`  ${f.field}: ${f.message}${flag ? ` (${flag[1]})` : ''}`);
      }
    }
    if (failure.code === 'usage')
      lines.push('Run `remediate --help` or `remediate <command> --help` for usage.');
    io.stderr.write(`${lines.join('\n')}\n`);
  }
  return failure.exitCode;
}
