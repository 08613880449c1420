/**
 * Policy knobs, read from REMEDIATION_CONFIG. Input durations are strings such as
 * `"90s"` or milliseconds; the resolved {@link PolicyConfig} holds milliseconds in fields ending
 * in `Ms`. Unknown keys are errors so a typo never silently leaves a safety default in place.
 * Pure: importable in the workflow sandbox.
 */
import { z } from 'zod';
import { durationSchema } from './duration-schema';
import type { BudgetScope } from './model';
import { toFieldErrors, type FieldError } from './request';

export interface BackoffConfig {
  baseMs: number;
  maxMs: number;
  /** Fraction of the backoff value used as ± jitter, 0..1. */
  jitter: number;
}

/**
 * A blast-radius budget: how many remediations of one scope may run at once, and how many may
 * start within a window. `match` narrows which remediations it counts and applies to.
 */
export interface BudgetPolicy {
  /** Unique among the policy's budgets; defaults to the scope (`namespace+action` → `namespace-action`). */
  name: string;
  scope: BudgetScope;
  /** Null: every action / every namespace. Namespaces are globs (`*`, `?`), like the catalog's. */
  match: { actions: string[] | null; namespaces: string[] | null };
  maxConcurrent: number | null;
  maxPerWindow: { count: number; windowMs: number } | null;
}

/** The resolved policy; every duration in milliseconds. */
export interface PolicyConfig {
  /** Failed remediations in a row per fingerprint that trigger ConsecutiveFailures. */
  consecutiveFailureThreshold: number;
  /** How long ConsecutiveFailures blocks after the fingerprint's last failure. */
  fingerprintCooldownMs: number;
  /** RecentlyRemediated window after the same action succeeded on the target. */
  recentlyRemediatedCooldownMs: number;
  backoff: BackoffConfig;
  /** Pre-execution failures per target that trigger ExhaustedRetries. */
  maxConsecutiveFailures: number;
  /** Deadline of a remediation whose request gives none. */
  defaultDeadlineMs: number;
  /** PipelineRun timeout when the request gives none. */
  pipelineRunTimeoutMs: number;
  /** Safety-net re-check while waiting for a lock or a manual clearance (wake-ups may be lost). */
  lockRecheckIntervalMs: number;
  /** The longest deadline a request may ask for; longer ones are refused (I9). */
  maxDeadlineMs: number;
  /** A watch gives up on a PipelineRun this long after its own timeout: cancelled, counted as an execution failure (I4). */
  watchGraceMs: number;
  /** A waiting remediation continues as new once its history has this many events (I9: bounded history). */
  continueAsNewAfterEvents: number;
  /** How often a remediation waiting for a closed remediation's PipelineRun to stop looks again (I1). */
  orphanRecheckIntervalMs: number;
  /** Whether an action with no `RemediationAction` in the catalog may run with the caller's pipeline, params and ServiceAccount. */
  allowUncataloguedActions: boolean;
  /** `Shadow`: every action is a dry run (routing as usual, no PipelineRun created); `Enforce`: as the action says. */
  mode: 'Enforce' | 'Shadow';
  /** Blast-radius budgets (check 8, BudgetExceeded); empty: no budget applies. */
  budgets: BudgetPolicy[];
}

export const defaultPolicyConfig: PolicyConfig = {
  consecutiveFailureThreshold: 3,
  fingerprintCooldownMs: 3_600_000,
  recentlyRemediatedCooldownMs: 300_000,
  backoff: { baseMs: 60_000, maxMs: 600_000, jitter: 0.1 },
  maxConsecutiveFailures: 5,
  defaultDeadlineMs: 3_600_000,
  pipelineRunTimeoutMs: 1_800_000,
  lockRecheckIntervalMs: 30_000,
  maxDeadlineMs: 86_400_000,
  watchGraceMs: 300_000,
  continueAsNewAfterEvents: 2_000,
  orphanRecheckIntervalMs: 5_000,
  allowUncataloguedActions: false,
  mode: 'Enforce',
  budgets: [],
};

const positiveDuration = durationSchema.refine((ms) => ms > 0, {
  message: 'must be longer than 0',
  params: { rule: 'min' },
});
const threshold = z.number().int('must be a whole number').min(1, 'must be at least 1');
const d = defaultPolicyConfig;

const BUDGET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const BudgetSchema = z
  .strictObject({
    name: z
      .string()
      .max(63, 'must be at most 63 characters')
      .regex(BUDGET_NAME, 'must be lower-case letters, digits and dashes (like a Kubernetes name)')
      .optional()
      .describe(
        'Unique name of the budget; defaults to its scope. Shown in status and on the budget objects.',
      ),
    scope: z
      .enum(['cluster', 'namespace', 'action', 'namespace+action'])
      .describe(
        'What is counted together: all remediations, or those of one namespace, one action, or both.',
      ),
    match: z
      .strictObject({
        actions: z
          .array(z.string().min(1, 'must not be empty'))
          .min(1, 'must list at least one action')
          .optional(),
        namespaces: z
          .array(z.string().min(1, 'must not be empty'))
          .min(1, 'must list at least one namespace glob')
          .optional(),
      })
      .optional()
      .describe(
        'Only remediations of these actions / namespaces (globs) count and are limited; default all.',
      ),
    maxConcurrent: threshold
      .optional()
      .describe('At most this many remediations of one scope key hold the target lock (run) at once.'),
    maxPerWindow: z
      .strictObject({
        count: threshold.describe('Starts allowed per window.'),
        window: positiveDuration.describe('The sliding window, e.g. "1h".'),
      })
      .optional()
      .describe('At most `count` remediations of one scope key start within any `window`.'),
  })
  .superRefine((b, ctx) => {
    if (b.maxConcurrent === undefined && b.maxPerWindow === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['maxConcurrent'],
        message: 'a budget needs maxConcurrent, maxPerWindow or both',
        params: { rule: 'limitRequired' },
      });
  });

export const PolicyConfigSchema = z
  .strictObject({
    consecutiveFailureThreshold: threshold
      .default(d.consecutiveFailureThreshold)
      .describe(
        'Failed remediations in a row per fingerprint that block it (ConsecutiveFailures, BR-ORCH-042).',
      ),
    // 0 disables the cooldown; that is a legitimate (if brave) operator choice.
    fingerprintCooldown: durationSchema
      .default(d.fingerprintCooldownMs)
      .describe(
        "How long ConsecutiveFailures blocks after the fingerprint's last failure; then one trial run.",
      ),
    recentlyRemediatedCooldown: durationSchema
      .default(d.recentlyRemediatedCooldownMs)
      .describe('RecentlyRemediated window after the same action succeeded on the same target.'),
    backoff: z
      .strictObject({
        base: positiveDuration
          .default(d.backoff.baseMs)
          .describe('Backoff after the first pre-execution failure.'),
        max: positiveDuration.default(d.backoff.maxMs).describe('Upper bound of the backoff.'),
        jitter: z
          .number()
          .min(0, 'must be between 0 and 1')
          .max(1, 'must be between 0 and 1')
          .describe('Jitter as a share of the backoff: a uniform offset within ± this share.')
          .default(d.backoff.jitter),
      })
      .default({ base: d.backoff.baseMs, max: d.backoff.maxMs, jitter: d.backoff.jitter })
      .superRefine((b, ctx) => {
        if (b.base > b.max) {
          ctx.addIssue({
            code: 'custom',
            path: ['base'],
            message: `must not exceed backoff.max (${b.base}ms > ${b.max}ms)`,
            params: { rule: 'baseNotAboveMax' },
          });
        }
      }),
    maxConsecutiveFailures: threshold
      .default(d.maxConsecutiveFailures)
      .describe('Pre-execution failures in a row per target that block it until cleared (ExhaustedRetries).'),
    defaultDeadline: positiveDuration
      .default(d.defaultDeadlineMs)
      .describe('Deadline of a remediation whose request gives none; no PipelineRun starts after it.'),
    pipelineRunTimeout: positiveDuration
      .default(d.pipelineRunTimeoutMs)
      .describe('PipelineRun timeout (spec.timeouts.pipeline) when the request gives none.'),
    // 0 would turn the safety-net re-check into a busy loop.
    lockRecheckInterval: positiveDuration
      .default(d.lockRecheckIntervalMs)
      .describe(
        'Safety-net re-check while waiting for the target lock or a manual clear (wake-ups are signals).',
      ),
    maxDeadline: positiveDuration
      .default(d.maxDeadlineMs)
      .describe('The longest deadline a request may ask for; a longer one is refused naming the field.'),
    watchGrace: durationSchema
      .default(d.watchGraceMs)
      .describe(
        'How long past its own timeout a PipelineRun is watched before it is cancelled and counted as an execution failure.',
      ),
    continueAsNewAfterEvents: z
      .number()
      .int('must be a whole number')
      .min(50, 'must be at least 50')
      .max(9_000, 'must be at most 9000 (Temporal warns at 10,240 events)')
      .default(d.continueAsNewAfterEvents)
      .describe(
        'A waiting remediation continues as new (same id, same state) once its history has this many events.',
      ),
    orphanRecheckInterval: positiveDuration
      .default(d.orphanRecheckIntervalMs)
      .describe(
        "How often a remediation waiting for a closed remediation's PipelineRun to stop looks again.",
      ),
    allowUncataloguedActions: z
      .boolean()
      .default(d.allowUncataloguedActions)
      .describe(
        "Let an action that has no RemediationAction in the catalog run with the caller's pipeline, params and ServiceAccount. Off by default: the catalog decides what may run.",
      ),
    mode: z
      .enum(['Enforce', 'Shadow'])
      .default(d.mode)
      .describe(
        'Shadow: every action is a dry run (checks, claims and waits as usual; the exact PipelineRun is only submitted as a server-side dry run). Enforce: each action as its catalog entry says.',
      ),
    budgets: z
      .array(BudgetSchema)
      .max(20, 'must have at most 20 budgets')
      .default([])
      .describe(
        'Blast-radius budgets: maxConcurrent and/or maxPerWindow per scope (cluster, namespace, action, namespace+action).',
      )
      .superRefine((budgets, ctx) => {
        const seen = new Map<string, number>();
        budgets.forEach((b, i) => {
          const name = budgetName(b);
          const first = seen.get(name);
          if (first !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `duplicate budget name "${name}" (also budgets[${first}]); give each budget a unique name`,
              params: { rule: 'unique' },
            });
          else seen.set(name, i);
        });
      }),
  })
  .transform((c): PolicyConfig => ({
    consecutiveFailureThreshold: c.consecutiveFailureThreshold,
    fingerprintCooldownMs: c.fingerprintCooldown,
    recentlyRemediatedCooldownMs: c.recentlyRemediatedCooldown,
    backoff: { baseMs: c.backoff.base, maxMs: c.backoff.max, jitter: c.backoff.jitter },
    maxConsecutiveFailures: c.maxConsecutiveFailures,
    defaultDeadlineMs: c.defaultDeadline,
    pipelineRunTimeoutMs: c.pipelineRunTimeout,
    lockRecheckIntervalMs: c.lockRecheckInterval,
    maxDeadlineMs: c.maxDeadline,
    watchGraceMs: c.watchGrace,
    continueAsNewAfterEvents: c.continueAsNewAfterEvents,
    orphanRecheckIntervalMs: c.orphanRecheckInterval,
    allowUncataloguedActions: c.allowUncataloguedActions,
    mode: c.mode,
    budgets: c.budgets.map((b): BudgetPolicy => ({
      name: budgetName(b),
      scope: b.scope,
      match: { actions: b.match?.actions ?? null, namespaces: b.match?.namespaces ?? null },
      maxConcurrent: b.maxConcurrent ?? null,
      maxPerWindow: b.maxPerWindow ? { count: b.maxPerWindow.count, windowMs: b.maxPerWindow.window } : null,
    })),
  }));

function budgetName(b: { name?: string | undefined; scope: BudgetScope }): string {
  return b.name ?? b.scope.replace('+', '-');
}
/** The config file's shape (durations as strings or ms). */
export type PolicyConfigInput = z.input<typeof PolicyConfigSchema>;

export class InvalidConfigError extends Error {
  override readonly name = 'InvalidConfigError';
  constructor(readonly errors: FieldError[]) {
    super(`invalid remediation config: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
  }
}

/** Validates a config object (already parsed from JSON/YAML); `undefined` means all defaults. */
export function parsePolicyConfig(input: unknown): PolicyConfig {
  const result = PolicyConfigSchema.safeParse(input ?? {}, { reportInput: true });
  if (!result.success) throw new InvalidConfigError(toFieldErrors(result.error));
  return result.data;
}
