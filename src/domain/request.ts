/**
 * Remediation requests: validation, normalisation and the keys derived from them.
 * Invalid input is rejected before any workflow starts, naming every field and rule.
 * Pure: importable in the workflow sandbox.
 */
import { z } from 'zod';
import { formatDuration } from './duration';
import { durationSchema } from './duration-schema';
import type { Timestamp } from './model';

/** One violated rule on one field. */
export interface FieldError {
  /** Dotted path, e.g. `target.kind` or `action.params.foo`; `(root)` for the whole input. */
  field: string;
  /** Short rule name: `required`, `type`, `pattern`, `minLength`, `maxLength`, `unknownKey`, … */
  rule: string;
  message: string;
}

function describe(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message} [${e.rule}]`).join('; ');
}

/** The error type an invalid request travels under, across activities, workflows and clients. */
export const INVALID_REQUEST_ERROR = 'InvalidRequestError';

/** Thrown by {@link parseRemediationRequest} and {@link parseTargetKey}. */
export class InvalidRequestError extends Error {
  override readonly name = INVALID_REQUEST_ERROR;
  constructor(readonly errors: FieldError[]) {
    super(`invalid remediation request: ${describe(errors)}`);
  }
}

// ------------------------------------------------------------------------------------ patterns

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const KIND = /^[A-Z][A-Za-z0-9]*$/;
const KEY_CHARS = /^[A-Za-z0-9._:-]+$/;
export const TEKTON_PARAM_NAME = /^[a-zA-Z_][a-zA-Z0-9_.-]*$/;

export const requestLimits = {
  maxParams: 64,
  maxParamValueChars: 4096,
  maxParamsTotalChars: 32768,
  maxLabels: 64,
  maxLabelKeyChars: 256,
  maxLabelValueChars: 1024,
  /**
   * Hard cap on how far ahead a deadline may lie (30 days). The worker's policy `maxDeadline`
   * (default 24h) is stricter; this bound only keeps absurd values out of every entry point.
   */
  maxDeadlineMs: 30 * 24 * 3_600_000,
  /** `action.timeout` bounds: 0 would disable Tekton's PipelineRun timeout. */
  minActionTimeoutMs: 1_000,
  maxActionTimeoutMs: 24 * 3_600_000,
} as const;

/** Options of {@link parseRemediationRequest}. */
export interface ParseRequestOptions {
  /**
   * The caller's clock (epoch ms). When given, an absolute deadline must lie after it and at most
   * {@link requestLimits.maxDeadlineMs} ahead. Clients pass it before starting; the workflow
   * re-validates without it (its input may legitimately carry an instant that has passed since).
   */
  now?: number;
}

export const dnsLabel = (max = 63) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(
      DNS1123_LABEL,
      'must be a DNS-1123 label: lower-case alphanumerics and "-", starting and ending alphanumeric',
    );
export const dnsSubdomain = (max = 253) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(
      DNS1123_SUBDOMAIN,
      'must be a DNS-1123 subdomain: lower-case alphanumerics, "-" and ".", starting and ending alphanumeric',
    );
const keyString = (max: number) =>
  z.string().min(1).max(max).regex(KEY_CHARS, 'may only contain letters, digits and . _ : -');

const labelsSchema = () =>
  z.record(z.string(), z.string()).superRefine((labels, ctx) => {
    const entries = Object.entries(labels);
    if (entries.length > requestLimits.maxLabels) {
      ctx.addIssue({
        code: 'custom',
        message: `at most ${requestLimits.maxLabels} labels, got ${entries.length}`,
        params: { rule: 'maxEntries' },
      });
    }
    for (const [key, value] of entries) {
      if (key.length === 0 || key.length > requestLimits.maxLabelKeyChars) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `label name must be 1–${requestLimits.maxLabelKeyChars} chars`,
          params: { rule: 'maxLength' },
        });
      }
      if (value.length > requestLimits.maxLabelValueChars) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `label value must be at most ${requestLimits.maxLabelValueChars} chars, got ${value.length}`,
          params: { rule: 'maxLength' },
        });
      }
    }
  });

const paramsSchema = () =>
  z.record(z.string(), z.string()).superRefine((params, ctx) => {
    const entries = Object.entries(params);
    if (entries.length > requestLimits.maxParams) {
      ctx.addIssue({
        code: 'custom',
        message: `at most ${requestLimits.maxParams} params, got ${entries.length}`,
        params: { rule: 'maxEntries' },
      });
    }
    let total = 0;
    for (const [name, value] of entries) {
      total += value.length;
      if (!TEKTON_PARAM_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `param name must match ${TEKTON_PARAM_NAME.source}`,
          params: { rule: 'pattern' },
        });
      }
      if (value.length > requestLimits.maxParamValueChars) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `param value must be at most ${requestLimits.maxParamValueChars} chars, got ${value.length}`,
          params: { rule: 'maxLength' },
        });
      }
    }
    if (total > requestLimits.maxParamsTotalChars) {
      ctx.addIssue({
        code: 'custom',
        message: `param values must total at most ${requestLimits.maxParamsTotalChars} chars, got ${total}`,
        params: { rule: 'maxTotalLength' },
      });
    }
  });

/** When a remediation must have started its PipelineRun by. */
export type RequestDeadline =
  /** An absolute instant. */
  | { kind: 'at'; at: Timestamp }
  /** Relative to the remediation's start. */
  | { kind: 'after'; ms: number };

const deadlineSchema = (clock: () => number | undefined) => {
  // ISO-8601 date-time with an explicit zone, so a deadline never depends on the parser's local time.
  const isoDatetime = z.iso.datetime({ offset: true });
  const union = z.union(
    [
      z.strictObject({ kind: z.literal('at'), at: isoDatetime }),
      z.strictObject({ kind: z.literal('after'), ms: z.number().int().nonnegative() }),
      z.number().transform((ms, ctx): RequestDeadline => ({ kind: 'after', ms: durationOrIssue(ms, ctx) })),
      z.string().transform((value, ctx): RequestDeadline => {
        if (isoDatetime.safeParse(value).success) return { kind: 'at', at: new Date(value).toISOString() };
        return { kind: 'after', ms: durationOrIssue(value, ctx) };
      }),
    ],
    { error: 'expected an ISO-8601 date-time (e.g. 2026-01-01T10:00:00Z) or a duration like 30m' },
  );
  // A deadline is strictly in the future: a relative one is > 0, and none lies past the hard cap.
  return union.superRefine((deadline, ctx) => {
    const cap = formatDuration(requestLimits.maxDeadlineMs);
    const issue = (rule: 'min' | 'max', message: string) =>
      ctx.addIssue({ code: 'custom', message, params: { rule } });
    if (deadline.kind === 'after') {
      if (deadline.ms <= 0) issue('min', 'must be in the future: a duration greater than 0, e.g. 30m');
      else if (deadline.ms > requestLimits.maxDeadlineMs) {
        issue('max', `must be at most ${cap} (30 days) ahead, got ${formatDuration(deadline.ms)}`);
      }
      return;
    }
    const now = clock();
    if (now === undefined) return;
    const at = Date.parse(deadline.at);
    if (at <= now) {
      issue('min', `must be in the future, got ${deadline.at} (now ${new Date(now).toISOString()})`);
    } else if (at - now > requestLimits.maxDeadlineMs) {
      issue('max', `must be at most ${cap} (30 days) ahead, got ${deadline.at}`);
    }
  });
};

/** A PipelineRun timeout: a duration in [1s, 24h] (0 would disable Tekton's timeout). */
export const actionTimeoutSchema = () =>
  durationSchema.pipe(
    z
      .number()
      .min(requestLimits.minActionTimeoutMs, {
        error: `must be at least ${formatDuration(requestLimits.minActionTimeoutMs)} (0 would disable the PipelineRun timeout)`,
      })
      .max(requestLimits.maxActionTimeoutMs, {
        error: (issue) =>
          `must be at most ${formatDuration(requestLimits.maxActionTimeoutMs)}, got ${formatDuration(Number(issue.input))}`,
      }),
  );

function durationOrIssue(value: string | number, ctx: z.RefinementCtx): number {
  const result = durationSchema.safeParse(value);
  if (result.success) return result.data;
  ctx.addIssue({
    code: 'custom',
    message: 'expected an ISO-8601 date-time (e.g. 2026-01-01T10:00:00Z) or a duration like 30m',
    params: { rule: 'deadline' },
  });
  return z.NEVER;
}

// Schemas are built by functions, not held in module constants: the workflow validates its input
// once, and a module-level schema would stay resident in every cached workflow (the workflow
// sandbox evaluates this module per workflow).
export const targetSchema = () =>
  z.strictObject({
    kind: z
      .string()
      .min(1)
      .max(63)
      .regex(
        KIND,
        'must be CamelCase as Kubernetes spells it (e.g. Deployment), matching ^[A-Z][A-Za-z0-9]*$',
      ),
    name: dnsSubdomain(253),
    namespace: dnsLabel(63).optional(),
    cluster: dnsSubdomain(253).optional(),
  });
export type Target = z.output<ReturnType<typeof targetSchema>>;

export const remediationRequestSchema = (
  options: ParseRequestOptions & {
    /** Read at each parse instead of a fixed `now` (the one schema {@link createRequestParser} keeps). */
    clock?: () => number | undefined;
  } = {},
) =>
  z.strictObject({
    id: keyString(200).optional(),
    signal: z
      .strictObject({
        fingerprint: keyString(128),
        /** Descriptive; defaults to the fingerprint (the CLI does not ask for it). */
        name: z.string().min(1).max(256).optional(),
        severity: z.enum(['critical', 'warning', 'info']).default('warning'),
        labels: labelsSchema().default({}),
      })
      .transform((s) => ({ ...s, name: s.name ?? s.fingerprint })),
    target: targetSchema(),
    action: z.strictObject({
      id: dnsSubdomain(63),
      /** Optional for a catalogued action (the catalog names it); required for an uncatalogued one. */
      pipeline: dnsSubdomain(253).optional(),
      params: paramsSchema().default({}),
      serviceAccountName: dnsSubdomain(253).optional(),
      /** PipelineRun timeout in ms (input: a duration, 1s–24h); the policy default applies when absent. */
      timeout: actionTimeoutSchema().optional(),
    }),
    deadline: deadlineSchema(options.clock ?? (() => options.now)).optional(),
    /** Who asked for it (`start --by`); compared with an approver when self-approval is forbidden. */
    requestedBy: z.string().min(1).max(256).optional(),
  });

/**
 * A validated request with defaults applied. Durations are milliseconds (`action.timeout`) and the
 * deadline is normalised to {@link RequestDeadline}; this shape parses again to itself, so the
 * workflow may re-validate its input.
 */
export type RemediationRequest = z.output<ReturnType<typeof remediationRequestSchema>>;
/** What callers may send (durations as strings, deadline as ISO string or duration). */
export type RemediationRequestInput = z.input<ReturnType<typeof remediationRequestSchema>>;

// ------------------------------------------------------------------------------ zod → FieldError

function ruleOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : 'type';
    case 'too_small':
      return issue.origin === 'string' ? 'minLength' : 'min';
    case 'too_big':
      return issue.origin === 'string' ? 'maxLength' : 'max';
    case 'invalid_format':
      return issue.format === 'regex' ? 'pattern' : issue.format;
    case 'invalid_value':
      return 'enum';
    case 'invalid_union':
      return 'format';
    case 'custom': {
      const rule: unknown = issue.params?.['rule'];
      return typeof rule === 'string' ? rule : 'custom';
    }
    default:
      return issue.code;
  }
}

function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  if (issue.code === 'too_small' && issue.origin === 'string' && issue.minimum === 1)
    return 'must not be empty';
  if (issue.code === 'too_big' && issue.origin === 'string')
    return `must be at most ${String(issue.maximum)} characters`;
  return issue.message;
}

/**
 * Flattens zod issues into one {@link FieldError} per field and rule (unknown keys one each).
 * Parse with `{ reportInput: true }` so a missing field reads `required` rather than `type`.
 */
export function toFieldErrors(error: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    // An empty key (`{"": 1}`) must still name a field.
    const base = issue.path.map((part) => String(part) || '""');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          field: [...base, key || '""'].join('.'),
          rule: 'unknownKey',
          message: 'is not a known field',
        });
      }
      continue;
    }
    out.push({
      field: base.length ? base.join('.') : '(root)',
      rule: ruleOf(issue),
      message: messageOf(issue),
    });
  }
  return out;
}

/**
 * Validates and normalises a request; throws {@link InvalidRequestError} listing every problem.
 * Pass `now` (see {@link ParseRequestOptions}) to also check an absolute deadline against a clock.
 */
export function parseRemediationRequest(
  input: unknown,
  options: ParseRequestOptions = {},
): RemediationRequest {
  return parseWith(remediationRequestSchema(options), input);
}

/**
 * {@link parseRemediationRequest} for a long-lived process (the client, the intake): the schema is
 * built once, where building it per call cost zod a compile (about 4 ms a request in a profile). The
 * caller's `now` is read while a parse runs (parsing is synchronous, so parses never overlap).
 * Workflow code keeps the per-call form: the SDK evaluates workflow modules once per workflow, so a
 * kept schema would sit in every cached workflow's memory.
 */
export function createRequestParser(): (input: unknown, options?: ParseRequestOptions) => RemediationRequest {
  let parsingAt: number | undefined;
  const schema = remediationRequestSchema({ clock: () => parsingAt });
  return (input, options = {}) => {
    parsingAt = options.now;
    try {
      return parseWith(schema, input);
    } finally {
      parsingAt = undefined;
    }
  };
}

function parseWith(schema: ReturnType<typeof remediationRequestSchema>, input: unknown): RemediationRequest {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw new InvalidRequestError(toFieldErrors(result.error));
  return result.data;
}

/**
 * Epoch ms by which the PipelineRun must have started: the request's deadline, or
 * `startedAt + defaultDeadlineMs`.
 */
export function resolveDeadline(
  deadline: RequestDeadline | undefined,
  startedAt: number,
  defaultDeadlineMs: number,
): number {
  if (!deadline) return startedAt + defaultDeadlineMs;
  return deadline.kind === 'at' ? Date.parse(deadline.at) : startedAt + deadline.ms;
}

// --------------------------------------------------------------------------------------- keys

/**
 * The target key: `namespace/Kind/name`, `Kind/name` when cluster-scoped,
 * prefixed `cluster::` when a cluster is given. Case-sensitive, exactly as given.
 */
export function targetKey(target: {
  kind: string;
  name: string;
  namespace?: string;
  cluster?: string;
}): string {
  const local = target.namespace
    ? `${target.namespace}/${target.kind}/${target.name}`
    : `${target.kind}/${target.name}`;
  return target.cluster ? `${target.cluster}::${local}` : local;
}

/** Inverse of {@link targetKey}; validates every part with the request rules. */
export function parseTargetKey(key: string): Target {
  const sep = key.indexOf('::');
  const cluster = sep >= 0 ? key.slice(0, sep) : undefined;
  const parts = (sep >= 0 ? key.slice(sep + 2) : key).split('/');
  let candidate: Record<string, string | undefined>;
  if (parts.length === 3) candidate = { namespace: parts[0], kind: parts[1], name: parts[2] };
  else if (parts.length === 2) candidate = { kind: parts[0], name: parts[1] };
  else {
    throw new InvalidRequestError([
      {
        field: 'target',
        rule: 'format',
        message: `expected [cluster::]namespace/Kind/name or [cluster::]Kind/name, got ${JSON.stringify(key)}`,
      },
    ]);
  }
  if (cluster !== undefined) candidate['cluster'] = cluster;
  const result = targetSchema().safeParse(candidate, { reportInput: true });
  if (!result.success) {
    throw new InvalidRequestError(
      toFieldErrors(result.error).map((e) => ({
        field: 'target',
        rule: e.rule,
        message: `${e.field} ${e.message} (in ${JSON.stringify(key)})`,
      })),
    );
  }
  return result.data;
}

/**
 * The fingerprint key: `[cluster::]namespace/fingerprint`, namespace empty for
 * cluster-scoped targets, so one tenant's alerts never block or swallow another's.
 */
export function fingerprintKey(request: {
  signal: { fingerprint: string };
  target: { namespace?: string; cluster?: string };
}): string {
  const local = `${request.target.namespace ?? ''}/${request.signal.fingerprint}`;
  return request.target.cluster ? `${request.target.cluster}::${local}` : local;
}
