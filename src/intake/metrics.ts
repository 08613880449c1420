/**
 * The intake's counters and its request duration histogram, served at `GET /metrics` in the
 * Prometheus text exposition format (version 0.0.4), by Prometheus's conventions: counters end in
 * `_total`, durations are in seconds with the unit in the name. Hand-written: a handful of series
 * needs no client library. Every label has a small fixed set of values (handlers, status codes,
 * reasons), so cardinality stays bounded whatever is posted.
 */
import type { AuthFailure } from './auth';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Which endpoint a request hit; unknown paths are `other`, so a scanner cannot grow the series. */
export type IntakeHandler = 'alertmanager' | 'healthz' | 'metrics' | 'other';

/** Why a whole payload was refused (nothing started for any of its alerts). */
export type PayloadRejection =
  | 'body_too_large'
  | 'too_many_alerts'
  | 'body_timeout'
  | 'unsupported_media_type'
  | 'invalid_json'
  | 'invalid_payload';

interface Counter {
  name: string;
  help: string;
  /** Label names, in output order. */
  labels: readonly string[];
  /** Label values joined by \0 → value; pre-filled series appear at 0 before anything happens. */
  values: Map<string, number>;
}

const rejections: readonly PayloadRejection[] = [
  'body_too_large',
  'too_many_alerts',
  'body_timeout',
  'unsupported_media_type',
  'invalid_json',
  'invalid_payload',
];
const authFailures: readonly AuthFailure[] = ['missing', 'invalid'];

/** Upper bounds (seconds) of the request duration buckets: a webhook starts Temporal workflows. */
export const REQUEST_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

interface Histogram {
  name: string;
  help: string;
  label: string;
  /** Label value → cumulative counts per bucket (then +Inf), sum and count. */
  values: Map<string, { buckets: number[]; sum: number; count: number }>;
}

export class IntakeMetrics {
  private readonly requests = counter(
    'remediation_intake_requests_total',
    'HTTP requests answered by the intake, by handler and status code.',
    ['handler', 'code'],
  );
  private readonly alerts = counter(
    'remediation_intake_alerts_received_total',
    'Alerts received in accepted webhook payloads, by alert status.',
    ['status'],
    [['firing'], ['resolved']],
  );
  private readonly started = counter(
    'remediation_intake_remediations_started_total',
    'Remediations started by the intake (redeliveries of an already started alert are not counted).',
    [],
    [[]],
  );
  private readonly authFailures = counter(
    'remediation_intake_auth_failures_total',
    'Requests refused with 401: no bearer token (missing) or a wrong one (invalid).',
    ['reason'],
    authFailures.map((r) => [r]),
  );
  private readonly rejections = counter(
    'remediation_intake_payload_rejections_total',
    'Authenticated webhook payloads refused as a whole (nothing started), by reason.',
    ['reason'],
    rejections.map((r) => [r]),
  );

  private readonly durations: Histogram = {
    name: 'remediation_intake_request_duration_seconds',
    help: "Time from a request's arrival to the end of its answer, by handler.",
    label: 'handler',
    values: new Map(),
  };

  /** One answered request; `seconds` (from its arrival to the end of its answer) feeds the histogram. */
  request(handler: IntakeHandler, code: number, seconds?: number): void {
    inc(this.requests, [handler, String(code)]);
    if (seconds !== undefined) this.observe(handler, seconds);
  }

  private observe(handler: IntakeHandler, seconds: number): void {
    let series = this.durations.values.get(handler);
    if (!series) {
      series = { buckets: REQUEST_DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.durations.values.set(handler, series);
    }
    REQUEST_DURATION_BUCKETS.forEach((le, i) => {
      if (seconds <= le) series.buckets[i]! += 1;
    });
    series.sum += seconds;
    series.count += 1;
  }

  alertReceived(status: 'firing' | 'resolved'): void {
    inc(this.alerts, [status]);
  }

  remediationStarted(): void {
    inc(this.started, []);
  }

  authFailure(reason: AuthFailure): void {
    inc(this.authFailures, [reason]);
  }

  payloadRejected(reason: PayloadRejection): void {
    inc(this.rejections, [reason]);
  }

  /** The current value of one series (tests and logs); 0 when it never moved. */
  value(name: string, labels: Record<string, string> = {}): number {
    const c = this.all().find((x) => x.name === name);
    if (!c) throw new Error(`no intake metric ${name}`);
    return c.values.get(c.labels.map((l) => labels[l] ?? '').join('\0')) ?? 0;
  }

  /** Every counter, then the histogram, with HELP and TYPE lines, series sorted, one trailing newline. */
  render(): string {
    const counters = this.all().map((c) => {
      const lines = [`# HELP ${c.name} ${escapeHelp(c.help)}`, `# TYPE ${c.name} counter`];
      const keys = [...c.values.keys()].sort();
      for (const key of keys) {
        const values = c.labels.length === 0 ? [] : key.split('\0');
        const labels = c.labels.map((l, i) => `${l}="${escapeLabelValue(values[i] ?? '')}"`).join(',');
        lines.push(`${c.name}${labels ? `{${labels}}` : ''} ${c.values.get(key)}`);
      }
      return lines.join('\n');
    });
    return [...counters, renderHistogram(this.durations)].join('\n').concat('\n');
  }

  private all(): Counter[] {
    return [this.requests, this.alerts, this.started, this.authFailures, this.rejections];
  }
}

function counter(
  name: string,
  help: string,
  labels: readonly string[],
  initial: readonly (readonly string[])[] = [],
): Counter {
  return { name, help, labels, values: new Map(initial.map((v) => [v.join('\0'), 0])) };
}

function renderHistogram(h: Histogram): string {
  const lines = [`# HELP ${h.name} ${escapeHelp(h.help)}`, `# TYPE ${h.name} histogram`];
  for (const key of [...h.values.keys()].sort()) {
    const series = h.values.get(key)!;
    const label = `${h.label}="${escapeLabelValue(key)}"`;
    REQUEST_DURATION_BUCKETS.forEach((le, i) => {
      lines.push(`${h.name}_bucket{${label},le="${le}"} ${series.buckets[i]}`);
    });
    lines.push(`${h.name}_bucket{${label},le="+Inf"} ${series.count}`);
    lines.push(`${h.name}_sum{${label}} ${series.sum}`);
    lines.push(`${h.name}_count{${label}} ${series.count}`);
  }
  return lines.join('\n');
}

function inc(c: Counter, values: readonly string[]): void {
  const key = values.join('\0');
  c.values.set(key, (c.values.get(key) ?? 0) + 1);
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
