/**
 * Every command's own flags, in one table: the commands parse with it and the shell completion
 * scripts are generated from it. Light on purpose (no Temporal, Kubernetes or zod), since
 * `--help`, `--version` and `completion` load only this side of the CLI.
 */
import type { ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

const operator = { reason: { type: 'string' }, by: { type: 'string' } } as const;

export const commandFlags = {
  start: {
    fingerprint: { type: 'string' },
    target: { type: 'string' },
    action: { type: 'string' },
    pipeline: { type: 'string' },
    param: { type: 'string', multiple: true },
    id: { type: 'string' },
    deadline: { type: 'string' },
    severity: { type: 'string' },
    'signal-name': { type: 'string' },
    label: { type: 'string', multiple: true },
    'service-account': { type: 'string' },
    timeout: { type: 'string' },
    by: { type: 'string' },
    wait: { type: 'boolean' },
  },
  status: { wait: { type: 'boolean' } },
  list: {
    phase: { type: 'string' },
    reason: { type: 'string' },
    target: { type: 'string' },
    fingerprint: { type: 'string' },
    limit: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  target: {},
  clear: operator,
  override: operator,
  resolve: { reason: { type: 'string' } },
  approve: operator,
  reject: operator,
  cancel: { reason: { type: 'string' } },
  actions: {},
  completion: {},
} as const satisfies Record<string, OptionsConfig>;

export type CommandName = keyof typeof commandFlags;

export const commandNames = Object.keys(commandFlags) as CommandName[];

/** `list -o`: kubectl's output formats that make sense here. */
export const listOutputs = ['wide', 'json'] as const;

export const shells = ['bash', 'zsh'] as const;
