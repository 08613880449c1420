/**
 * Worker settings: where Temporal and Kubernetes are, and the policy.
 * Sources, later wins: defaults ← `.stack/stack.json` (local stack) ← REMEDIATION_CONFIG file
 * (JSON or YAML) ← environment. Every field is validated with zod; errors name the field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InvalidConfigError, parsePolicyConfig, type PolicyConfig } from './domain/config';
import { toFieldErrors } from './domain/request';
import { DEFAULT_TASK_QUEUE } from './temporal-contract';

import { readStackInfo, type StackInfo, type StackTemporalTls } from './stack-file';

export { readStackInfo, type StackInfo, type StackTemporalTls };

export const WorkerSettingsSchema = z.strictObject({
  temporalAddress: z
    .string()
    .min(1)
    .describe('Temporal frontend host:port, below the Temporal profile (see Connecting to Temporal).')
    .default('127.0.0.1:7233'),
  temporalNamespace: z
    .string()
    .min(1)
    .describe('Temporal namespace, below the Temporal profile (see Connecting to Temporal).')
    .default('default'),
  taskQueue: z
    .string()
    .min(1)
    .describe('Task queue the worker polls and clients start on.')
    .default(DEFAULT_TASK_QUEUE),
  /** Path of a kubeconfig; in-cluster config is used when absent. */
  kubeconfig: z
    .string()
    .min(1)
    .describe(
      'Path of a kubeconfig, or a list merged as kubectl does (`a:b`); `~/.kube/config`, else in-cluster config, when absent.',
    )
    .optional(),
  kubeContext: z
    .string()
    .min(1)
    .describe("kubeconfig context to use instead of its current-context (kubectl's --context).")
    .optional(),
  executionNamespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label')
    .describe('Namespace of the Tekton Pipelines and of the PipelineRuns the worker creates.')
    .default('remediation-runs'),
  controlNamespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label')
    .describe('Namespace of the ledger (RemediationTarget and RemediationFingerprint objects).')
    .default('remediation-system'),
  /** Prometheus exporter port on 0.0.0.0 (SDK runtime metrics and our counters); 0 turns it off. */
  metricsPort: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .describe('Prometheus /metrics port (SDK runtime metrics and product counters); 0 turns it off.')
    .default(9464),
  healthPort: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .describe(
      'Port of GET /healthz, answered by the worker process itself (a liveness probe for a stuck event loop); 0 turns it off.',
    )
    .default(0),
  maxCachedWorkflows: z
    .number()
    .int()
    .min(0)
    .describe(
      'Workflows a worker keeps in memory between tasks; waiting ones beyond it are replayed when they wake.',
    )
    .default(200),
  maxConcurrentActivities: z
    .number()
    .int()
    .min(1)
    .describe('Activities one worker runs at once.')
    .default(200),
});
export type WorkerSettings = z.output<typeof WorkerSettingsSchema>;

const settingKeys = new Set(Object.keys(WorkerSettingsSchema.shape));

/** Reads a JSON or YAML config file: its policy keys (docs/behaviour.md#defaults) and its worker settings keys. */
export function readConfigFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  const value: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidConfigError([{ field: '(root)', rule: 'type', message: `${path} must hold an object` }]);
  }
  return value as Record<string, unknown>;
}

/**
 * The variables that point at real servers (a Temporal address or profile, a kubeconfig): while none
 * is set, `.stack/stack.json` of the local stack supplies the defaults, and `npm start` runs the
 * embedded stack.
 */
export function serverVariablesSet(env: Readonly<Record<string, string | undefined>>): string[] {
  return ['TEMPORAL_ADDRESS', 'TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE', 'KUBECONFIG'].filter(
    (name) => env[name],
  );
}

export function loadWorkerConfig(
  env: NodeJS.ProcessEnv = process.env,
  stack: StackInfo | null = serverVariablesSet(env).length > 0 ? null : readStackInfo(),
  /** Policy keys the caller sets unless the config file does (the embedded local stack's). */
  policyDefaults: Record<string, unknown> = {},
): { settings: WorkerSettings; policy: PolicyConfig } {
  const file = env.REMEDIATION_CONFIG ? readConfigFile(env.REMEDIATION_CONFIG) : {};
  const fileSettings: Record<string, unknown> = {};
  const filePolicy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(file))
    (settingKeys.has(key) ? fileSettings : filePolicy)[key] = value;

  const merged: Record<string, unknown> = {
    ...(stack
      ? {
          temporalAddress: stack.temporal.address,
          temporalNamespace: stack.temporal.namespace,
          kubeconfig: stack.kubeconfig,
          executionNamespace: stack.executionNamespace,
          controlNamespace: stack.controlNamespace,
        }
      : {}),
    ...fileSettings,
    ...definedOnly({
      temporalAddress: env.TEMPORAL_ADDRESS,
      temporalNamespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.REMEDIATION_TASK_QUEUE,
      kubeconfig: env.KUBECONFIG,
      kubeContext: env.KUBE_CONTEXT,
      metricsPort: env.METRICS_PORT === undefined ? undefined : Number(env.METRICS_PORT),
      healthPort: env.HEALTH_PORT === undefined ? undefined : Number(env.HEALTH_PORT),
    }),
  };
  const parsed = WorkerSettingsSchema.safeParse(merged);
  if (!parsed.success) throw new InvalidConfigError(toFieldErrors(parsed.error));
  return { settings: parsed.data, policy: parsePolicyConfig({ ...policyDefaults, ...filePolicy }) };
}

function definedOnly(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== ''));
}
