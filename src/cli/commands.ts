/**
 * The commands behind `remediate` (./run.ts dispatches here once the command is known). Input is
 * validated before connecting; every error propagates to run's one catch, which maps it through
 * {@link classify}.
 */
import { userInfo } from 'node:os';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { NamespaceNotFoundError, WorkflowNotFoundError } from '@temporalio/common';
import { RemediationClosedError, TargetNotFoundError } from '../client';
import { BlockReason, EndReason, Phase } from '../domain/model';
import { operatorInputErrors } from '../domain/operator';
import { InvalidRequestError, parseRemediationRequest, parseTargetKey } from '../domain/request';
import { KubeConfigError } from '../k8s/kube-config-error';
import { TemporalConfigError } from '../temporal-connection';
import {
  remediationIdFromWorkflowId,
  type ClearTargetResult,
  type RemediationStatus,
} from '../temporal-contract';
import { noPositionals, onePositional, parseFlags, parseKeyValues } from './args';
import { ConnectSettings, type GlobalValues } from './connect-options';
import { CliError, UsageError, messageOf } from './errors';
import {
  clearedText,
  closedText,
  listView,
  outcome,
  progressLine,
  statusView,
  targetViewText,
  actionsView,
} from './format';
import type { CliClient, Deps, Failure, FieldFlags, Io, Reporting } from './run';
import { commandFlags, listOutputs, type CommandName } from './spec';

/** Runs one known command (not `completion`, which ./run.ts answers itself). */
export async function runCommand(
  command: string,
  args: string[],
  deps: Deps,
  reporting: Reporting,
): Promise<number> {
  const handler = commands[command as Exclude<CommandName, 'completion'>];
  return handler(args, new Session(deps, reporting));
}

/** Per-invocation context: output in the chosen mode, settings, and the client's lifetime. */
class Session {
  readonly io: Io;
  readonly json: boolean;

  private readonly settings: ConnectSettings;

  constructor(
    private readonly deps: Deps,
    private readonly reporting: Reporting,
  ) {
    this.io = reporting.io;
    this.json = reporting.json;
    this.settings = new ConnectSettings(reporting.io);
  }

  /** Which flag sets which input field, for hints in text-mode error lists. */
  set fieldFlags(flags: FieldFlags) {
    this.reporting.fieldFlags = flags;
  }

  now(): Date {
    return this.io.now?.() ?? new Date();
  }

  /** Prints `value` as JSON in `--json` mode, else its text rendering. */
  print(value: unknown, text: () => string): void {
    this.io.stdout.write(`${this.json ? JSON.stringify(value, null, 2) : text()}\n`);
  }

  /** One compact JSON object on its own line: a `--json --wait` stream. */
  jsonLine(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Text-mode only lines (progress, notes) that would break `--json` output. */
  say(line: string): void {
    if (!this.json) this.io.stdout.write(`${line}\n`);
  }

  /** Text-mode only warnings on stderr (with `--json`, stderr carries only the error object). */
  warn(line: string): void {
    if (!this.json) this.io.stderr.write(`remediate: warning: ${line}\n`);
  }

  /** `--by`, defaulting to the OS user; an empty one is refused (the audit must say who). */
  by(value: string | undefined): string {
    if (value !== undefined) {
      if (!value.trim()) {
        throw new UsageError('--by must not be empty: it names who did this in the audit', {
          field: '--by',
          rule: 'required',
        });
      }
      return value;
    }
    let username: string | undefined;
    try {
      username = (this.io.userInfo ?? userInfo)().username;
    } catch {
      // No passwd entry (e.g. an arbitrary uid in a container): fall back to $USER.
    }
    username = username?.trim() || this.io.env['USER']?.trim();
    if (!username) {
      throw new UsageError('cannot tell who you are (no OS user name, no $USER): pass --by NAME', {
        field: '--by',
        rule: 'required',
      });
    }
    return username;
  }

  /** Where the ledger is read from (for messages), as the connection settings resolve it. */
  ledgerNamespace(values: GlobalValues): string {
    return this.settings.ledgerNamespace(values);
  }

  async withClient<T>(
    values: GlobalValues,
    use: (client: CliClient) => Promise<T>,
    ledger = false,
  ): Promise<T> {
    const options = this.settings.connectOptions(values, ledger, (line) => this.warn(line));
    const client = await this.deps.connect(options);
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  }
}

type Handler = (args: string[], session: Session) => Promise<number>;

const commands: Record<Exclude<CommandName, 'completion'>, Handler> = {
  async start(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.start);
    noPositionals(positionals);
    session.fieldFlags = startFieldFlags;
    const input = {
      id: values.id,
      signal: {
        fingerprint: values.fingerprint,
        name: values['signal-name'],
        severity: values.severity,
        labels: parseKeyValues(values.label, 'label'),
      },
      target: values.target === undefined ? undefined : targetParts(values.target),
      action: {
        id: values.action,
        pipeline: values.pipeline,
        params: parseKeyValues(values.param, 'param'),
        serviceAccountName: values['service-account'],
        timeout: values.timeout,
      },
      deadline: values.deadline,
      requestedBy: session.by(values.by),
    };
    // Rejected here, before connecting: an invalid request starts nothing.
    parseRemediationRequest(input, { now: session.now().getTime() });

    return session.withClient(values, async (client) => {
      const started = await client.start(input);
      // The bare id in text mode, so that `ID=$(remediate start …)` works; with --json --wait the
      // first line of the stream.
      if (!values.wait) session.print(started, () => started.id);
      else if (session.json) session.jsonLine(started);
      else session.say(started.id);
      if (!started.started && !session.json) {
        session.io.stderr.write(
          `remediation ${started.id} already exists (${started.workflowId}); not started again\n`,
        );
      }
      return values.wait ? follow(client, started.id, session) : 0;
    });
  },

  async actions(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.actions);
    noPositionals(positionals);
    return session.withClient(values, async (client) => {
      const view = await client.actions();
      session.print(view, () => actionsView(view));
      return 0;
    });
  },

  async status(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.status);
    const id = onePositional(positionals, 'ID');
    return session.withClient(values, async (client) => {
      if (values.wait) return follow(client, id, session);
      const status = await client.status(id);
      session.print(status, () => statusView(status, session.now()));
      return 0;
    });
  },

  async list(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.list);
    noPositionals(positionals);
    const output = parseOutput(values.output);
    const filter = {
      ...(values.phase !== undefined && { phase: parsePhase(values.phase) }),
      ...(values.reason !== undefined && { reason: parseReason(values.reason) }),
      ...(values.target !== undefined && { target: targetKeyArg(values.target) }),
      ...(values.fingerprint !== undefined && { fingerprint: values.fingerprint }),
      ...(values.limit !== undefined && { limit: parseLimit(values.limit) }),
    };
    return session.withClient(values, async (client) => {
      // Visibility orders open runs before closed ones; users expect newest first.
      const items = (await client.list(filter)).sort((a, b) => b.startTime.localeCompare(a.startTime));
      session.print(items, () => listView(items, session.now(), { wide: output === 'wide' }));
      return 0;
    });
  },

  async target(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.target);
    const key = targetKeyArg(onePositional(positionals, 'TARGET'));
    return session.withClient(
      values,
      async (client) => {
        const view = await client.target(key);
        session.print(view, () => targetViewText(view, session.now()));
        return 0;
      },
      true,
    );
  },

  async clear(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.clear);
    const key = targetKeyArg(onePositional(positionals, 'TARGET'));
    const { reason, by } = operatorInput(values, session);
    return session.withClient(
      values,
      async (client) => {
        let result: ClearTargetResult;
        try {
          result = await client.clear(key, reason, by, {
            onLedgerUnreadable: (error) =>
              session.warn(
                `could not read the ledger to check ${key} (${messageOf(error)}); the worker checks it instead`,
              ),
          });
        } catch (error) {
          if (error instanceof TargetNotFoundError && error.refusedBy === 'client') {
            throw new TargetNotFoundError(
              key,
              'client',
              `${error.message}; looked in the ledger in namespace ${session.ledgerNamespace(values)} ` +
                '(--control-namespace if the worker keeps it elsewhere)',
            );
          }
          throw error;
        }
        session.print(result, () => clearedText(result));
        return 0;
      },
      true,
    );
  },

  async override(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.override);
    const id = onePositional(positionals, 'ID');
    const { reason, by } = operatorInput(values, session);
    return session.withClient(values, async (client) => {
      const result = await client.override(id, reason, by);
      session.print(result, () => result.message);
      return 0;
    });
  },

  async resolve(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.resolve);
    const id = onePositional(positionals, 'ID');
    return session.withClient(values, async (client) => {
      await client.resolve(id, values.reason);
      const reason = values.reason ?? null;
      session.print({ id, resolved: true, reason }, () => `told ${id} that its signal resolved`);
      return 0;
    });
  },

  async approve(args, session) {
    return decide(args, session, 'approve');
  },

  async reject(args, session) {
    return decide(args, session, 'reject');
  },

  async cancel(args, session) {
    const { values, positionals } = parseFlags(args, commandFlags.cancel);
    const id = onePositional(positionals, 'ID');
    return session.withClient(values, async (client) => {
      await client.cancel(id, values.reason);
      const reason = values.reason ?? null;
      session.print(
        { id, cancelRequested: true, reason },
        () => `cancellation requested for ${id}${reason ? ` (${reason})` : ''}`,
      );
      return 0;
    });
  },
};

/**
 * The key's parts, unvalidated, so that parseRemediationRequest checks them together with every
 * other field and names each one (`target.kind`). A key of the wrong shape fails in parseTargetKey.
 */
function targetParts(key: string): object {
  const sep = key.indexOf('::');
  const parts = (sep >= 0 ? key.slice(sep + 2) : key).split('/');
  if (parts.length !== 2 && parts.length !== 3) return parseTargetKey(key);
  const [namespace, kind, name] = parts.length === 3 ? parts : [undefined, ...parts];
  return {
    kind,
    name,
    ...(namespace !== undefined && { namespace }),
    ...(sep >= 0 && { cluster: key.slice(0, sep) }),
  };
}

/** A validated target key, as given (keys are case-sensitive). */
function targetKeyArg(key: string): string {
  parseTargetKey(key);
  return key;
}

function parsePhase(value: string): Phase {
  const phase = Object.values(Phase).find((p) => p === value);
  if (!phase)
    throw invalid(
      'phase',
      'enum',
      `must be one of ${Object.values(Phase).join(', ')}, got ${JSON.stringify(value)}`,
    );
  return phase;
}

/** A block reason (while blocked) or an end reason (once ended): what `list --reason` filters on. */
function parseReason(value: string): string {
  const known = [...new Set([...Object.values(BlockReason), ...Object.values(EndReason)])];
  if (!known.includes(value as never))
    throw invalid('reason', 'enum', `must be one of ${known.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

/** `approve` / `reject ID --reason … [--by …]`: the update's validator says why it is refused. */
async function decide(args: string[], session: Session, decision: 'approve' | 'reject'): Promise<number> {
  const { values, positionals } = parseFlags(args, commandFlags[decision]);
  const id = onePositional(positionals, 'ID');
  const { reason, by } = operatorInput(values, session);
  return session.withClient(values, async (client) => {
    const result =
      decision === 'approve' ? await client.approve(id, reason, by) : await client.reject(id, reason, by);
    session.print(result, () => result.message);
    return 0;
  });
}

/**
 * `--wait`: follows the remediation until it ends; exit 0 if Completed, 1 otherwise. Text mode
 * prints one progress line per change, then the outcome; `--json` streams JSON lines, one status
 * object per phase change, the last one final (or the closed-workflow object).
 */
async function follow(client: CliClient, id: string, session: Session): Promise<number> {
  let lastLine = '';
  const emit = (status: RemediationStatus): void => {
    if (!session.json) return session.say(progressLine(status, session.now()));
    const line = JSON.stringify(status);
    if (line !== lastLine) session.jsonLine(status);
    lastLine = line;
  };
  let final: RemediationStatus;
  try {
    final = await client.wait(id, emit);
  } catch (error) {
    // Terminated, timed out …: the workflow closed without a final phase. Its end is the outcome.
    if (!(error instanceof RemediationClosedError)) throw error;
    if (session.json) session.jsonLine(error);
    else session.say(closedText(error));
    return 1;
  }
  if (session.json) emit(final);
  else session.say(outcome(final));
  return final.phase === Phase.Completed ? 0 : 1;
}

/** `list -o wide|json` (kubectl's flag); `-o json` is the same as `--json`. */
function parseOutput(value: string | undefined): (typeof listOutputs)[number] | undefined {
  if (value === undefined) return undefined;
  const output = listOutputs.find((o) => o === value);
  if (!output)
    throw new UsageError(
      `-o/--output must be one of ${listOutputs.join(', ')}, got ${JSON.stringify(value)}`,
      {
        field: '--output',
        rule: 'enum',
      },
    );
  return output;
}

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw invalid('limit', 'type', `must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/**
 * `--reason` and `--by` (the OS user by default) of an operator action, held to the same bounds
 * as the client and the workflows (src/domain/operator.ts) before connecting.
 */
function operatorInput(
  values: { reason?: string; by?: string },
  session: Session,
): { reason: string; by: string } {
  const reason = requireReason(values.reason);
  const by = session.by(values.by);
  const errors = operatorInputErrors({ by, reason });
  if (errors.length) {
    session.fieldFlags = operatorFieldFlags;
    throw new InvalidRequestError(errors);
  }
  return { reason, by };
}

const operatorFieldFlags = [
  ['by', '--by'],
  ['reason', '--reason'],
] as const;

/** Checked here as the client does, so that an empty reason fails before connecting. */
function requireReason(reason: string | undefined): string {
  if (reason === undefined || !reason.trim())
    throw invalid('reason', 'required', 'must not be empty (--reason "…")');
  return reason;
}

function invalid(field: string, rule: string, message: string): InvalidRequestError {
  return new InvalidRequestError([{ field, rule, message }]);
}

/** An error a command threw as exit code, code and message (./run.ts reports it). */
export function classify(error: unknown): Failure {
  if (error instanceof CliError) {
    return { exitCode: error.exitCode, code: error.code, message: error.message, fields: error.fields };
  }
  if (error instanceof TargetNotFoundError) {
    return { exitCode: 1, code: 'not_found', message: error.message, fields: [] };
  }
  if (error instanceof TemporalConfigError || error instanceof KubeConfigError) {
    // Settings that cannot work (unreadable certificate, unknown profile or context): nothing was done.
    return { exitCode: 2, code: 'config', message: error.message, fields: [] };
  }
  if (error instanceof RemediationClosedError) {
    return { exitCode: 1, code: 'closed', message: error.message, fields: [] };
  }
  if (error instanceof InvalidRequestError) {
    const names = [...new Set(error.errors.map((e) => e.field))].join(', ');
    return { exitCode: 2, code: 'invalid', message: `invalid input: ${names}`, fields: error.errors };
  }
  if (error instanceof WorkflowNotFoundError) {
    const id = remediationIdFromWorkflowId(error.workflowId);
    return { exitCode: 1, code: 'not_found', message: `remediation ${id}: ${error.message}`, fields: [] };
  }
  if (error instanceof NamespaceNotFoundError) {
    return { exitCode: 1, code: 'not_found', message: error.message, fields: [] };
  }
  if (error instanceof WorkflowUpdateFailedError) {
    // The cause carries the workflow's own words, e.g. why an override was refused.
    return { exitCode: 1, code: 'refused', message: messageOf(error.cause ?? error), fields: [] };
  }
  return { exitCode: 1, code: 'failed', message: messageOf(error), fields: [] };
}

/** Which `start` flag sets which request field. */
const startFieldFlags = [
  ['id', '--id'],
  ['signal.fingerprint', '--fingerprint'],
  ['signal.name', '--signal-name'],
  ['signal.severity', '--severity'],
  ['signal.labels', '--label'],
  ['target', '--target'],
  ['action.id', '--action'],
  ['action.pipeline', '--pipeline'],
  ['action.params', '--param'],
  ['action.serviceAccountName', '--service-account'],
  ['action.timeout', '--timeout'],
  ['deadline', '--deadline'],
  ['requestedBy', '--by'],
] as const;
