/**
 * Where a command connects, from its flags, the environment, the Temporal profile and the local
 * stack's `.stack/stack.json`: shared by the commands (./commands.ts) and the quick `status` path
 * (./quick-status.ts), and light (no Temporal client, Kubernetes client or zod).
 */
import { resolve } from 'node:path';
import { DEFAULT_CONTROL_NAMESPACE } from '../k8s/ledger-types';
import { readStackInfo, type StackInfo } from '../stack-file';
import { resolveTemporalConnection } from '../temporal-connection';
import type { globalOptions } from './args';
import type { ConnectOptions, Io } from './run';

export type GlobalValues = {
  [K in keyof typeof globalOptions]?: (typeof globalOptions)[K]['type'] extends 'string' ? string : boolean;
};

export class ConnectSettings {
  private stack: StackInfo | null | undefined;

  constructor(private readonly io: Io) {}

  private fromStack(): StackInfo | null {
    return (this.stack ??= readStackInfo(resolve(this.io.cwd, '.stack/stack.json')));
  }

  /**
   * Temporal: flag, else environment, else the Temporal profile (`--profile`/TEMPORAL_PROFILE of
   * `--config-file`/TEMPORAL_CONFIG_FILE), else `.stack/stack.json` (the local stack), else the
   * defaults. Settings that cannot take effect are passed to `warn`.
   */
  connectOptions(values: GlobalValues, ledger: boolean, warn: (line: string) => void): ConnectOptions {
    const env = this.io.env;
    const temporal = resolveTemporalConnection({
      env,
      explicit: {
        address: values.address,
        namespace: values.namespace,
        profile: values.profile,
        configFile: values['config-file'],
      },
      fallback: () => {
        const stack = this.fromStack();
        return stack
          ? {
              address: stack.temporal.address,
              namespace: stack.temporal.namespace,
              source: '.stack/stack.json',
              ...(stack.temporal.tls && { tls: stack.temporal.tls }),
            }
          : null;
      },
    });
    for (const warning of temporal.warnings) warn(warning);
    return {
      address: temporal.connectionOptions.address,
      namespace: temporal.namespace,
      connection: temporal.connectionOptions,
      taskQueue: values['task-queue'] ?? (env['REMEDIATION_TASK_QUEUE'] || 'remediation'),
      ...(ledger && { ledger: this.ledgerOptions(values) }),
    };
  }

  /** Kubernetes: flag, else KUBECONFIG / KUBE_CONTEXT, else `.stack/stack.json`, else kubectl's defaults. */
  ledgerOptions(values: GlobalValues): NonNullable<ConnectOptions['ledger']> {
    const env = this.io.env;
    const context = values.context ?? (env['KUBE_CONTEXT'] || undefined);
    return {
      kubeconfig: values.kubeconfig ?? (env['KUBECONFIG'] || this.fromStack()?.kubeconfig),
      ...(context !== undefined && { context }),
      namespace: values['control-namespace'] ?? this.fromStack()?.controlNamespace,
    };
  }

  /** Where the ledger is read from (for messages), as {@link ledgerOptions} resolves it. */
  ledgerNamespace(values: GlobalValues): string {
    return this.ledgerOptions(values).namespace ?? DEFAULT_CONTROL_NAMESPACE;
  }
}
