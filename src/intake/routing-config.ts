/**
 * Which alerts start which remediation: an ordered list of routes, first match wins, loaded from a
 * JSON or YAML file (INTAKE_ROUTES). Templates only substitute one alert's label or annotation,
 * written `{{ labels.X }}` / `{{ annotations.X }}` or as in Alertmanager's own templates
 * `{{ .Labels.X }}` / `{{ .Annotations.X }}`, plus the notification's `{{ .CommonLabels.X }}` /
 * `{{ .CommonAnnotations.X }}`: no expressions, no code. Everything that can be checked without an
 * alert is checked at load time, so a broken config fails the intake's start instead of the first page.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { durationSchema } from '../domain/duration-schema';
import { remediationRequestSchema, targetSchema, type FieldError } from '../domain/request';
import { describeFieldErrors, fieldErrorsOf, formatPath } from './fields';

/** Thrown by {@link parseRoutingConfig} and {@link loadRoutingConfig}; every error names its field. */
export class InvalidRoutingConfigError extends Error {
  override readonly name = 'InvalidRoutingConfigError';
  constructor(readonly errors: FieldError[]) {
    super(`invalid routing config: ${describeFieldErrors(errors)}`);
  }
}

// ------------------------------------------------------------------------------------ templates

/** Where a placeholder reads from: the alert's own labels/annotations, or the whole notification's common ones. */
export type TemplateSource = 'labels' | 'annotations' | 'commonLabels' | 'commonAnnotations';
/** One piece of a compiled template: literal text, or a label/annotation of the alert. */
export type TemplatePart = string | { source: TemplateSource; key: string };
export type Template = readonly TemplatePart[];

/** What a template is rendered against: one alert, and the common labels of its notification. */
export interface TemplateContext {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  commonLabels?: Record<string, string>;
  commonAnnotations?: Record<string, string>;
}

/** Prometheus label names; annotations follow the same rule. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const PLACEHOLDER = /\{\{(.*?)\}\}/g;
/** `labels.X`, or Alertmanager's spelling `.Labels.X` (its webhook template data, per alert and per group). */
const REFERENCE =
  /^\s*(labels|annotations|\.Labels|\.Annotations|\.CommonLabels|\.CommonAnnotations)\.([a-zA-Z_][a-zA-Z0-9_]*)\s*$/;
const SOURCES: Record<string, TemplateSource> = {
  labels: 'labels',
  annotations: 'annotations',
  '.Labels': 'labels',
  '.Annotations': 'annotations',
  '.CommonLabels': 'commonLabels',
  '.CommonAnnotations': 'commonAnnotations',
};
const SUPPORTED =
  'only {{ labels.NAME }}, {{ annotations.NAME }}, {{ .Labels.NAME }}, {{ .Annotations.NAME }}, ' +
  '{{ .CommonLabels.NAME }} and {{ .CommonAnnotations.NAME }} are substituted';

/** Compiles a template or returns why not (an unknown placeholder or a stray brace). */
export function compileTemplate(text: string): Template | string {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const ref = REFERENCE.exec(match[1] ?? '');
    if (!ref) return `unknown placeholder ${match[0]}: ${SUPPORTED}`;
    parts.push(text.slice(last, match.index));
    parts.push({ source: SOURCES[ref[1] ?? '']!, key: ref[2] ?? '' });
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  const literal = parts.filter((p): p is string => typeof p === 'string' && p !== '');
  if (literal.some((p) => p.includes('{{') || p.includes('}}'))) {
    return 'unbalanced "{{" or "}}": placeholders are written {{ labels.NAME }} or {{ .Labels.NAME }}';
  }
  return parts.filter((p) => p !== '');
}

/** The template's text when it has no placeholders, else null. */
function literalOf(template: Template): string | null {
  return template.every((p) => typeof p === 'string') ? template.join('') : null;
}

/** Renders a template; a label or annotation that is absent or empty is reported, never rendered as "". */
export function renderTemplate(
  template: Template,
  context: TemplateContext,
): { ok: true; value: string } | { ok: false; missing: string } {
  let value = '';
  for (const part of template) {
    if (typeof part === 'string') {
      value += part;
      continue;
    }
    const found = context[part.source]?.[part.key];
    if (!found) return { ok: false, missing: `${part.source}.${part.key}` };
    value += found;
  }
  return { ok: true, value };
}

// ------------------------------------------------------------------------------------- schema

/**
 * A template field. Without placeholders it is checked by the request rule for that field right
 * away (a lower-case literal Kind is a config error); a templated field can only be
 * checked per alert, by the mapper.
 */
const template = (rule?: z.ZodType) =>
  z.string().transform((text, ctx): Template => {
    const compiled = compileTemplate(text);
    if (typeof compiled === 'string') {
      ctx.addIssue({ code: 'custom', message: compiled, params: { rule: 'template' } });
      return z.NEVER;
    }
    const literal = literalOf(compiled);
    if (rule && literal !== null) {
      for (const issue of rule.safeParse(literal).error?.issues ?? []) ctx.addIssue({ ...issue });
    }
    return compiled;
  });

const actionShape = remediationRequestSchema().shape.action.shape;
const target = targetSchema().shape;
/** Param names are literal and must be Tekton param names (checked with the request rule). */
const paramName = z.string().superRefine((name, ctx) => {
  const result = actionShape.params.safeParse({ [name]: '' });
  for (const issue of result.error?.issues ?? []) ctx.addIssue({ ...issue, path: [] });
});

/** Label matchers use Alertmanager semantics: anchored regexes, an absent label matches as "". */
const matcher = z
  .union([z.string(), z.strictObject({ regex: z.string() })], {
    error: 'expected a label value or { regex: "…" }',
  })
  .transform((m, ctx) => {
    if (typeof m === 'string') return { equals: m };
    try {
      return { regex: new RegExp(`^(?:${m.regex})$`) };
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        path: ['regex'],
        message: `is not a valid regular expression: ${(error as Error).message}`,
        params: { rule: 'regex' },
      });
      return z.NEVER;
    }
  });

const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const RouteSchema = z.strictObject({
  name: z.string().regex(ROUTE_NAME, 'must be 1–63 letters, digits, ".", "_" or "-", starting alphanumeric'),
  match: z.record(z.string().regex(LABEL_NAME, 'must be a Prometheus label name'), matcher).default({}),
  action: z.strictObject({
    id: template(actionShape.id),
    /** Optional: a catalogued action names its own Pipeline (required only for uncatalogued ones). */
    pipeline: template(actionShape.pipeline).optional(),
    params: z.record(paramName, template()).default({}),
    serviceAccountName: template(actionShape.serviceAccountName).optional(),
    timeout: durationSchema.optional(),
  }),
  target: z.strictObject({
    kind: template(target.kind),
    name: template(target.name),
    namespace: template(target.namespace).optional(),
    cluster: template(target.cluster).optional(),
  }),
  /** The alert label that carries the severity. */
  severityLabel: z.string().regex(LABEL_NAME, 'must be a Prometheus label name').default('severity'),
  /** Relative deadline of the remediations this route starts; the policy default otherwise. */
  deadline: durationSchema.optional(),
});
export type Route = z.output<typeof RouteSchema>;

export const RoutingConfigSchema = z
  .strictObject({ routes: z.array(RouteSchema).min(1, 'needs at least one route') })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.routes.forEach((route, i) => {
      if (seen.has(route.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'name'],
          message: `duplicate route name ${JSON.stringify(route.name)}: names are part of idempotency ids`,
          params: { rule: 'unique' },
        });
      }
      seen.add(route.name);
    });
  });
export type RoutingConfig = z.output<typeof RoutingConfigSchema>;

/** Validates a routing config already decoded from JSON/YAML. */
export function parseRoutingConfig(input: unknown): RoutingConfig {
  const result = RoutingConfigSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new InvalidRoutingConfigError(fieldErrorsOf(result.error));
  return result.data;
}

/** Reads and validates a routing config file: `.json` as JSON, anything else as YAML. */
export function loadRoutingConfig(path: string): RoutingConfig {
  const text = readFileSync(path, 'utf8');
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new InvalidRoutingConfigError([
      { field: formatPath([]), rule: 'syntax', message: `${path}: ${(error as Error).message}` },
    ]);
  }
  return parseRoutingConfig(value);
}

/** Does the route's every matcher accept the alert's labels? */
export function routeMatches(route: Route, labels: Record<string, string>): boolean {
  return Object.entries(route.match).every(([name, m]) => {
    const value = labels[name] ?? '';
    return 'equals' in m ? value === m.equals : m.regex.test(value);
  });
}
