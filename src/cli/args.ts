/**
 * A thin typed layer over `node:util` parseArgs: strict flags, positionals, and the value
 * syntaxes the commands share. Every problem becomes a {@link UsageError} naming the flag.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Flags every command accepts (they may also come before the command name). */
export const globalOptions = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  profile: { type: 'string' },
  'config-file': { type: 'string' },
  'task-queue': { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'control-namespace': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies OptionsConfig;

/** Parses `args` strictly against `options` plus {@link globalOptions}. */
export function parseFlags<const O extends OptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({
      args,
      options: { ...globalOptions, ...options },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw toUsageError(error);
  }
}

/**
 * Splits leading global flags from the command name and its arguments, so that
 * `remediate --json status ID` and `remediate status ID --json` mean the same.
 */
export function splitCommand(argv: readonly string[]): { command: string | undefined; args: string[] } {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const token = argv[i] as string;
    if (!token.startsWith('-') || token === '--') break;
    leading.push(token);
    const name = token.replace(/^--?/, '');
    const spec = Object.entries(globalOptions).find(
      ([long, o]) => long === name || ('short' in o && o.short === name),
    );
    const takesValue = spec?.[1].type === 'string';
    if (takesValue && i + 1 < argv.length) leading.push(argv[++i] as string);
    i++;
  }
  const command = argv[i];
  return { command: command === '--' ? undefined : command, args: [...leading, ...argv.slice(i + 1)] };
}

/** The arguments before any `--` terminator: only those can be flags. */
function flagPart(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end < 0 ? argv : argv.slice(0, end);
}

/** True when `-h`/`--help` appears before any `--` terminator: help wins over every other check. */
export function wantsHelp(argv: readonly string[]): boolean {
  return flagPart(argv).some((a) => a === '--help' || a === '-h');
}

/** True for `--version` anywhere before `--` (then nothing else is checked, as for help). */
export function wantsVersion(argv: readonly string[]): boolean {
  return flagPart(argv).includes('--version');
}

/** JSON output: `--json`, or kubectl's `-o json` / `--output json` (also `-ojson`, `--output=json`). */
export function wantsJson(argv: readonly string[]): boolean {
  const flags = flagPart(argv);
  return flags.some(
    (a, i) =>
      a === '--json' ||
      a === '-ojson' ||
      a === '--output=json' ||
      ((a === '-o' || a === '--output') && flags[i + 1] === 'json'),
  );
}

/** Repeated `--flag k=v` into a record; a missing `=`, empty key or repeated key is a usage error. */
export function parseKeyValues(values: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of values ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(`--${flag} expects key=value, got ${JSON.stringify(entry)}`, {
        field: `--${flag}`,
        rule: 'format',
      });
    }
    const key = entry.slice(0, eq);
    if (Object.hasOwn(out, key)) {
      throw new UsageError(`--${flag} ${key} is given more than once`, {
        field: `--${flag}`,
        rule: 'duplicate',
      });
    }
    out[key] = entry.slice(eq + 1);
  }
  return out;
}

/** Exactly one positional argument, named `name` in usage messages. */
export function onePositional(positionals: readonly string[], name: string): string {
  const [first, ...rest] = positionals;
  if (first === undefined) throw new UsageError(`missing ${name}`, { field: name, rule: 'required' });
  if (rest.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`, {
      field: name,
      rule: 'unexpected',
    });
  }
  return first;
}

export function noPositionals(positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, {
      field: '(args)',
      rule: 'unexpected',
    });
  }
}

function toUsageError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return error;
  const message = (error as Error).message;
  // parseArgs quotes the offending flag first, e.g. "Unknown option '--bogus'".
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? '(args)';
  const rule = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 'unknownFlag' : 'format';
  return new UsageError(message, { field: flag.split('=')[0] ?? flag, rule });
}
