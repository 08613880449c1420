/**
 * Alert → remediation request (pure). Decides, per alert of a webhook payload, whether to start a
 * remediation and with which request; every decision carries a reason an SRE can read.
 * Starting is the caller's job (server.ts): `started` vs `duplicate` is only known after it.
 */
import { createHash } from 'node:crypto';
import {
  InvalidRequestError,
  createRequestParser,
  requestLimits,
  type FieldError,
  type RemediationRequestInput,
} from '../domain/request';
import type { Alert } from './alertmanager';
import { renderTemplate, routeMatches, type Route, type Template } from './routing-config';

/** One schema for every alert the intake maps (the intake is one long-lived process). */
const parseRequest = createRequestParser();

/** The notification an alert arrived in: what `{{ .CommonLabels.X }}` and `{{ .CommonAnnotations.X }}` read. */
export interface AlertGroup {
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
}

const NO_GROUP: AlertGroup = { commonLabels: {}, commonAnnotations: {} };

/** What happened to one alert. */
export const AlertOutcome = {
  /** A new remediation was started. */
  started: 'started',
  /** A remediation with the same idempotency id already exists (same alert delivered again). */
  duplicate: 'duplicate',
  /** Nothing to do: no route matches, or a resolved alert nobody was remediating. */
  ignored: 'ignored',
  /** A resolved alert: the running remediations of its fingerprint were told (Verifying → Effective, waiting → AlreadyResolved). */
  resolved: 'resolved',
  /** A route matched but no valid request could be built: nothing was started. */
  rejected: 'rejected',
  /** Starting failed for a reason outside the alert (e.g. Temporal unreachable); safe to redeliver. */
  error: 'error',
} as const;
export type AlertOutcome = (typeof AlertOutcome)[keyof typeof AlertOutcome];

export interface AlertDecision {
  /** The alert's Alertmanager fingerprint, or the label-set hash used in its place. */
  fingerprint: string;
  route: string | null;
  outcome: AlertOutcome;
  reason: string;
  remediationId?: string;
  /** For `rejected`: every violated request rule. */
  fields?: FieldError[];
}

/** The mapper's verdict before anything is started. */
export type AlertPlan =
  | { start: false; decision: AlertDecision }
  | { start: true; route: string; fingerprint: string; id: string; input: RemediationRequestInput };

/** Label-set hash for alerts that carry no fingerprint; order-independent, like Alertmanager's own. */
export function labelsFingerprint(labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

/**
 * Idempotency id: the same alert (fingerprint and startsAt) delivered again through the same
 * route maps to the same remediation; a new firing has a new startsAt.
 */
export function remediationIdFor(fingerprint: string, startsAt: string, route: string): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([fingerprint, startsAt, route]))
    .digest('hex');
  return `am-${hash.slice(0, 32)}`;
}

const SEVERITIES = ['critical', 'warning', 'info'] as const;

function severityOf(value: string | undefined): (typeof SEVERITIES)[number] {
  const lower = value?.toLowerCase();
  return SEVERITIES.find((s) => s === lower) ?? 'warning';
}

/**
 * Labels are descriptive and bounded: sorted by name, oversized entries dropped,
 * at most `maxLabels`, so a noisy alert is still remediated rather than rejected.
 */
function boundedLabels(labels: Record<string, string>): Record<string, string> {
  const kept = Object.keys(labels)
    .sort()
    .filter((k) => {
      const v = labels[k] ?? '';
      return k.length <= requestLimits.maxLabelKeyChars && v.length <= requestLimits.maxLabelValueChars;
    })
    .slice(0, requestLimits.maxLabels);
  return Object.fromEntries(kept.map((k) => [k, labels[k] ?? '']));
}

/**
 * Builds the request for `alert` through `route`, validated by the request rules; a rejection
 * names the missing label or the violated fields. The request's id is {@link remediationIdFor}.
 */
export function mapAlert(
  alert: Alert,
  route: Route,
  group: AlertGroup = NO_GROUP,
):
  | { ok: true; id: string; input: RemediationRequestInput }
  | { ok: false; reason: string; fields?: FieldError[] } {
  let missing: string | undefined;
  const context = {
    labels: alert.labels,
    annotations: alert.annotations,
    commonLabels: group.commonLabels,
    commonAnnotations: group.commonAnnotations,
  };
  const render = (field: string, tpl: Template): string => {
    const r = renderTemplate(tpl, context);
    if (r.ok) return r.value;
    missing ??= `${r.missing} is missing or empty (needed for ${field})`;
    return '';
  };
  const optional = <K extends string>(key: K, field: string, tpl: Template | undefined) =>
    tpl === undefined ? {} : ({ [key]: render(field, tpl) } as Record<K, string>);

  const fingerprint = alert.fingerprint ?? labelsFingerprint(alert.labels);
  const alertname = alert.labels['alertname'];
  const id = remediationIdFor(fingerprint, alert.startsAt, route.name);
  const input: RemediationRequestInput = {
    id,
    signal: {
      fingerprint,
      ...(alertname ? { name: alertname } : {}),
      severity: severityOf(alert.labels[route.severityLabel]),
      labels: boundedLabels(alert.labels),
    },
    target: {
      kind: render('target.kind', route.target.kind),
      name: render('target.name', route.target.name),
      ...optional('namespace', 'target.namespace', route.target.namespace),
      ...optional('cluster', 'target.cluster', route.target.cluster),
    },
    action: {
      id: render('action.id', route.action.id),
      ...optional('pipeline', 'action.pipeline', route.action.pipeline),
      params: Object.fromEntries(
        Object.entries(route.action.params).map(([k, tpl]) => [k, render(`action.params.${k}`, tpl)]),
      ),
      ...optional('serviceAccountName', 'action.serviceAccountName', route.action.serviceAccountName),
      ...(route.action.timeout === undefined ? {} : { timeout: route.action.timeout }),
    },
    ...(route.deadline === undefined ? {} : { deadline: route.deadline }),
  };
  if (missing) return { ok: false, reason: missing };
  try {
    parseRequest(input);
  } catch (error) {
    if (!(error instanceof InvalidRequestError)) throw error;
    return { ok: false, reason: error.message, fields: error.errors };
  }
  return { ok: true, id, input };
}

/** First matching route wins; resolved alerts and unmatched alerts are ignored. */
export function planAlert(alert: Alert, routes: readonly Route[], group: AlertGroup = NO_GROUP): AlertPlan {
  const fingerprint = alert.fingerprint ?? labelsFingerprint(alert.labels);
  if (alert.status === 'resolved') {
    return {
      start: false,
      decision: { fingerprint, route: null, outcome: 'ignored', reason: 'alert is resolved' },
    };
  }
  const route = routes.find((r) => routeMatches(r, alert.labels));
  if (!route) {
    return {
      start: false,
      decision: { fingerprint, route: null, outcome: 'ignored', reason: 'no route matches the alert labels' },
    };
  }
  const mapped = mapAlert(alert, route, group);
  if (!mapped.ok) {
    return {
      start: false,
      decision: {
        fingerprint,
        route: route.name,
        outcome: 'rejected',
        reason: mapped.reason,
        ...(mapped.fields ? { fields: mapped.fields } : {}),
      },
    };
  }
  return { start: true, route: route.name, fingerprint, id: mapped.id, input: mapped.input };
}
