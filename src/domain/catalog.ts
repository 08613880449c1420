/**
 * The action catalog: operators define what an action runs; callers only name it.
 *
 * Routing guards the target key, but a PipelineRun acts on its params, so who picks the params
 * picks the victim. A `RemediationAction` fixes the Pipeline, the ServiceAccount, which targets it
 * may act on, which params the worker fills from the (locked) target and which params callers may
 * set, each under a rule. {@link admitAction} is the one decision: a pure function of the request,
 * the catalog entry and the policy, refusing with one {@link FieldError} per violated rule.
 * Pure: importable in the workflow sandbox.
 */
import { z } from 'zod';
import { formatDuration } from './duration';
import { durationSchema } from './duration-schema';
import {
  KIND,
  TEKTON_PARAM_NAME,
  actionTimeoutSchema,
  dnsSubdomain,
  requestLimits,
  toFieldErrors,
  type FieldError,
  type RemediationRequest,
  type Target,
} from './request';

export const ActionMode = { Enforce: 'Enforce', DryRun: 'DryRun' } as const;
export type ActionMode = (typeof ActionMode)[keyof typeof ActionMode];

/** The variables a `targetParams` template may use, and where each comes from. */
const TARGET_VARIABLES = ['namespace', 'name', 'kind', 'cluster'] as const;
type TargetVariable = (typeof TARGET_VARIABLES)[number];
const TEMPLATE_PART = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Limits of a catalog entry (mirrored by the CRD's structural schema). */
export const catalogLimits = {
  maxParams: 64,
  maxEnumValues: 256,
  maxPatternChars: 1024,
  maxTemplateChars: 1024,
  maxGlobs: 256,
  maxDescriptionChars: 1024,
} as const;

/** `*` matches any run of characters, `?` one; everything else is literal (no regex involved). */
export function globMatches(pattern: string, value: string): boolean {
  // Classic two-pointer wildcard match: on a mismatch, let the last `*` swallow one more character.
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === value[v])) {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The variables a template uses, or the first problem with it. */
function templateVariables(template: string): { variables: TargetVariable[] } | { problem: string } {
  const variables: TargetVariable[] = [];
  for (const match of template.matchAll(TEMPLATE_PART)) {
    const expression = match[1] ?? '';
    const variable = expression.startsWith('target.') ? expression.slice('target.'.length) : null;
    if (!variable || !(TARGET_VARIABLES as readonly string[]).includes(variable)) {
      return {
        problem: `unknown template variable {{ ${expression} }}; use ${TARGET_VARIABLES.map((v) => `{{ target.${v} }}`).join(', ')}`,
      };
    }
    variables.push(variable as TargetVariable);
  }
  const rest = template.replace(TEMPLATE_PART, '');
  if (rest.includes('{{') || rest.includes('}}')) return { problem: 'has an unbalanced {{ or }}' };
  return { variables };
}

/** Renders a `targetParams` template for a target; `missing` names a variable the target lacks. */
export function renderTemplate(
  template: string,
  target: Target,
): { value: string } | { missing: TargetVariable } {
  let missing: TargetVariable | null = null;
  const value = template.replace(TEMPLATE_PART, (_, expression: string) => {
    const variable = expression.slice('target.'.length) as TargetVariable;
    const filled = target[variable];
    if (filled === undefined) missing ??= variable;
    return filled ?? '';
  });
  return missing ? { missing } : { value };
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

const paramRuleSchema = () =>
  z
    .strictObject({
      name: z.string().regex(TEKTON_PARAM_NAME, `must match ${TEKTON_PARAM_NAME.source}`),
      description: z.string().max(catalogLimits.maxDescriptionChars).optional(),
      /** Must match the whole value (it is anchored as `^(?:pattern)$`). */
      pattern: z
        .string()
        .min(1)
        .max(catalogLimits.maxPatternChars)
        .refine(compiles, { error: 'must be a valid regular expression', params: { rule: 'pattern' } })
        .optional(),
      enum: z
        .array(z.string().max(requestLimits.maxParamValueChars))
        .min(1)
        .max(catalogLimits.maxEnumValues)
        .optional(),
      maxLength: z.number().int().min(0).max(requestLimits.maxParamValueChars).optional(),
      default: z.string().max(requestLimits.maxParamValueChars).optional(),
      /** The caller must give it (a param with a default never is). */
      required: z.boolean().default(false),
    })
    .superRefine((rule, ctx) => {
      if (rule.required && rule.default !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['required'],
          message: 'a param with a default is never missing: drop required or the default',
          params: { rule: 'required' },
        });
      if (rule.default !== undefined) {
        const broken = paramRuleViolation(rule, rule.default);
        if (broken)
          ctx.addIssue({ code: 'custom', path: ['default'], message: broken, params: { rule: 'default' } });
      }
    });
export type ParamRule = z.output<ReturnType<typeof paramRuleSchema>>;

/** The `spec` of a `RemediationAction`, as validated by the worker (the CRD schema checks the shape too). */
export const remediationActionSpecSchema = () =>
  z
    .strictObject({
      description: z.string().max(catalogLimits.maxDescriptionChars).optional(),
      pipeline: dnsSubdomain(253),
      serviceAccountName: dnsSubdomain(253).optional(),
      targets: z
        .strictObject({
          kinds: z
            .array(z.string().regex(KIND, 'must be CamelCase as Kubernetes spells it'))
            .max(catalogLimits.maxGlobs)
            .optional(),
          namespaces: z
            .array(
              z
                .string()
                .min(1)
                .max(63)
                .regex(/^[a-z0-9*?-]+$/, 'must be a namespace name or a glob of one (* and ?)'),
            )
            .max(catalogLimits.maxGlobs)
            .optional(),
        })
        .default({}),
      targetParams: z
        .record(
          z.string().regex(TEKTON_PARAM_NAME, `must match ${TEKTON_PARAM_NAME.source}`),
          z.string().max(catalogLimits.maxTemplateChars),
        )
        .default({}),
      params: z.array(paramRuleSchema()).max(catalogLimits.maxParams).default([]),
      timeout: actionTimeoutSchema().optional(),
      mode: z.enum([ActionMode.Enforce, ActionMode.DryRun]).default(ActionMode.Enforce),
      approval: z
        .strictObject({
          required: z.boolean().default(false),
          forbidSelfApproval: z.boolean().default(false),
        })
        .default({ required: false, forbidSelfApproval: false }),
      verification: z
        .strictObject({ window: durationSchema.refine((ms) => ms > 0, 'must be greater than 0') })
        .optional(),
      runWhenResolved: z.boolean().default(false),
    })
    .superRefine((spec, ctx) => {
      for (const [name, template] of Object.entries(spec.targetParams)) {
        const parsed = templateVariables(template);
        if ('problem' in parsed)
          ctx.addIssue({
            code: 'custom',
            path: ['targetParams', name],
            message: parsed.problem,
            params: { rule: 'template' },
          });
      }
      const seen = new Set<string>();
      spec.params.forEach((rule, i) => {
        if (seen.has(rule.name))
          ctx.addIssue({
            code: 'custom',
            path: ['params', i, 'name'],
            message: `duplicate param ${rule.name}`,
            params: { rule: 'unique' },
          });
        seen.add(rule.name);
        if (rule.name in spec.targetParams)
          ctx.addIssue({
            code: 'custom',
            path: ['params', i, 'name'],
            message: `${rule.name} is filled from the target (targetParams); callers cannot also set it`,
            params: { rule: 'targetParam' },
          });
      });
    });
export type RemediationActionSpec = z.output<ReturnType<typeof remediationActionSpecSchema>>;
export type RemediationActionSpecInput = z.input<ReturnType<typeof remediationActionSpecSchema>>;

/** One object of the catalog as the worker sees it: parsed, or kept with what is wrong with it. */
export interface CatalogEntry {
  /** The object's name, which is the action id. */
  id: string;
  resourceVersion: string;
  spec: RemediationActionSpec | null;
  /** Why the object is unusable (it is then refused, never half-applied); empty when valid. */
  problems: FieldError[];
}

/** Parses a `RemediationAction` object's spec; an invalid one is kept with its problems. */
export function parseCatalogEntry(id: string, resourceVersion: string, spec: unknown): CatalogEntry {
  const result = remediationActionSpecSchema().safeParse(spec ?? {}, { reportInput: true });
  if (result.success) return { id, resourceVersion, spec: result.data, problems: [] };
  return {
    id,
    resourceVersion,
    spec: null,
    problems: toFieldErrors(result.error).map((e) => ({ ...e, field: `spec.${e.field}` })),
  };
}

/** What an admitted action runs, exactly. */
export interface ResolvedAction {
  id: string;
  /** False for an uncatalogued action the policy lets through (`allowUncataloguedActions`). */
  catalogued: boolean;
  /** The catalog object's resourceVersion the decision used (audit: which rules applied). */
  resourceVersion: string | null;
  pipeline: string;
  /** Caller params checked against their rules, defaults applied, then the target's params. */
  params: Record<string, string>;
  serviceAccountName: string | null;
  /** The PipelineRun timeout, ms; null: the policy's `pipelineRunTimeout`. */
  timeoutMs: number | null;
  mode: ActionMode;
  approval: { required: boolean; forbidSelfApproval: boolean };
  verification: { windowMs: number } | null;
  runWhenResolved: boolean;
}

export type ActionAdmission =
  { kind: 'allowed'; action: ResolvedAction } | { kind: 'refused'; errors: FieldError[]; message: string };

export interface AdmissionPolicy {
  allowUncataloguedActions: boolean;
  /** The PipelineRun timeout the policy applies when neither the action nor the caller gives one. */
  pipelineRunTimeoutMs: number;
  /** The control namespace, named in refusals so an operator knows where to look. */
  catalogNamespace: string;
  /** Policy mode Shadow: every action, catalogued or not, is a dry run. */
  shadow?: boolean;
  /** Capabilities this worker implements; an action asking for one it lacks is refused, never half-run. */
  supports: { dryRun: boolean; approval: boolean; verification: boolean };
}

function paramRuleViolation(rule: Omit<ParamRule, 'name'>, value: string): string | null {
  if (rule.maxLength !== undefined && value.length > rule.maxLength)
    return `must be at most ${rule.maxLength} characters, got ${value.length}`;
  if (rule.enum && !rule.enum.includes(value))
    return `must be one of ${rule.enum.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`;
  if (rule.pattern !== undefined && !new RegExp(`^(?:${rule.pattern})$`, 'u').test(value))
    return `must match ${rule.pattern} (the whole value), got ${JSON.stringify(value)}`;
  return null;
}

function refused(errors: FieldError[]): ActionAdmission {
  return {
    kind: 'refused',
    errors,
    message: `action not allowed: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
  };
}

/**
 * The last gate before a real create: the action as the catalog says *now* must still let this
 * remediation run for real. An operator who turns an action into a dry run, or makes it need an
 * approval, after a remediation was admitted must not see that remediation run anyway. Null: go.
 */
export function createRefusal(action: ResolvedAction, holdsApproval: boolean): string | null {
  if (action.mode === ActionMode.DryRun)
    return `action ${action.id} is now a dry run (mode DryRun, or the policy's Shadow mode), but this remediation was admitted to run for real: nothing was created`;
  if (action.approval.required && !holdsApproval)
    return `action ${action.id} now requires an approval, and this remediation was admitted without one: nothing was created (start a new remediation to ask for one)`;
  return null;
}

/**
 * Decides whether `request` may run and what exactly it runs. Every violated rule is reported,
 * each naming its field, so one refusal tells the caller everything to fix.
 */
export function admitAction(
  request: RemediationRequest,
  entry: CatalogEntry | undefined,
  policy: AdmissionPolicy,
): ActionAdmission {
  const { action, target } = request;
  if (!entry) return admitUncatalogued(request, policy);
  const errors: FieldError[] = [];
  const fail = (field: string, rule: string, message: string) => errors.push({ field, rule, message });
  const spec = entry.spec;
  if (!spec) {
    fail(
      'action.id',
      'catalogEntryInvalid',
      `RemediationAction ${action.id} in ${policy.catalogNamespace} is invalid (${entry.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}); fix the object`,
    );
    return refused(errors);
  }

  if (action.pipeline !== undefined && action.pipeline !== spec.pipeline)
    fail(
      'action.pipeline',
      'catalog',
      `must be ${JSON.stringify(spec.pipeline)} (the action's pipeline) or omitted, got ${JSON.stringify(action.pipeline)}`,
    );
  if (action.serviceAccountName !== undefined && action.serviceAccountName !== spec.serviceAccountName)
    fail(
      'action.serviceAccountName',
      'catalog',
      `set by the action (${spec.serviceAccountName ?? 'the namespace default'}); callers cannot choose another`,
    );
  const timeoutCap = spec.timeout ?? policy.pipelineRunTimeoutMs;
  if (action.timeout !== undefined && action.timeout > timeoutCap)
    fail(
      'action.timeout',
      'max',
      `must be at most ${formatDuration(timeoutCap)} (the action's timeout), got ${formatDuration(action.timeout)}`,
    );

  const { kinds, namespaces } = spec.targets;
  if (kinds && !kinds.includes(target.kind))
    fail('target.kind', 'catalog', `action ${action.id} acts on ${kinds.join(', ')}, not ${target.kind}`);
  if (namespaces) {
    if (target.namespace === undefined)
      fail(
        'target.namespace',
        'catalog',
        `action ${action.id} acts only in namespaces ${namespaces.join(', ')}; the target is cluster-scoped`,
      );
    else if (!namespaces.some((glob) => globMatches(glob, target.namespace!)))
      fail(
        'target.namespace',
        'catalog',
        `action ${action.id} acts only in namespaces ${namespaces.join(', ')}, not ${target.namespace}`,
      );
  }

  const params: Record<string, string> = {};
  const rules = new Map(spec.params.map((rule) => [rule.name, rule]));
  for (const [name, value] of Object.entries(action.params)) {
    const field = `action.params.${name}`;
    const rule = rules.get(name);
    if (name in spec.targetParams) fail(field, 'targetParam', 'set by the action from the target');
    else if (!rule)
      fail(
        field,
        'unknownParam',
        `is not a parameter of action ${action.id}${spec.params.length ? ` (allowed: ${spec.params.map((r) => r.name).join(', ')})` : ' (it takes none)'}`,
      );
    else {
      const broken = paramRuleViolation(rule, value);
      if (broken) fail(field, 'paramRule', broken);
      else params[name] = value;
    }
  }
  for (const rule of spec.params) {
    if (rule.name in action.params) continue;
    if (rule.default !== undefined) params[rule.name] = rule.default;
    else if (rule.required)
      fail(`action.params.${rule.name}`, 'required', `is required by action ${action.id}`);
  }
  for (const [name, template] of Object.entries(spec.targetParams)) {
    const rendered = renderTemplate(template, target);
    if ('missing' in rendered)
      fail(
        `target.${rendered.missing}`,
        'required',
        `action ${action.id} fills param ${name} from the target's ${rendered.missing}; the target has none`,
      );
    else params[name] = rendered.value;
  }

  const unsupported = (
    [
      [spec.mode === ActionMode.DryRun && !policy.supports.dryRun, 'mode DryRun'],
      [spec.approval.required && !policy.supports.approval, 'approval'],
      [spec.verification !== undefined && !policy.supports.verification, 'verification'],
    ] as const
  ).filter(([asked]) => asked);
  for (const [, what] of unsupported)
    fail(
      'action.id',
      'unsupported',
      `action ${action.id} asks for ${what}, which this worker does not implement; it is refused rather than run without it`,
    );

  if (errors.length) return refused(errors);
  return {
    kind: 'allowed',
    action: {
      id: action.id,
      catalogued: true,
      resourceVersion: entry.resourceVersion,
      pipeline: spec.pipeline,
      params,
      serviceAccountName: spec.serviceAccountName ?? null,
      timeoutMs: action.timeout ?? spec.timeout ?? null,
      mode: policy.shadow ? ActionMode.DryRun : spec.mode,
      approval: spec.approval,
      verification: spec.verification ? { windowMs: spec.verification.window } : null,
      runWhenResolved: spec.runWhenResolved,
    },
  };
}

function admitUncatalogued(request: RemediationRequest, policy: AdmissionPolicy): ActionAdmission {
  const { action } = request;
  if (!policy.allowUncataloguedActions) {
    return refused([
      {
        field: 'action.id',
        rule: 'catalog',
        message: `no RemediationAction ${action.id} in ${policy.catalogNamespace}, and uncatalogued actions are not allowed (policy allowUncataloguedActions: false)`,
      },
    ]);
  }
  if (action.pipeline === undefined) {
    return refused([
      {
        field: 'action.pipeline',
        rule: 'required',
        message: `is required: action ${action.id} is not in the catalog`,
      },
    ]);
  }
  return {
    kind: 'allowed',
    action: {
      id: action.id,
      catalogued: false,
      resourceVersion: null,
      pipeline: action.pipeline,
      params: { ...action.params },
      serviceAccountName: action.serviceAccountName ?? null,
      timeoutMs: action.timeout ?? null,
      mode: policy.shadow ? ActionMode.DryRun : ActionMode.Enforce,
      approval: { required: false, forbidSelfApproval: false },
      verification: null,
      runWhenResolved: false,
    },
  };
}
