/**
 * The intake's counters, served at `GET /metrics` in the Prometheus text exposition format
 * (version 0.0.4). Hand-written: a handful of counters needs no client library. Every label has a
 * small fixed set of values (handlers, status codes, reasons), so cardinality stays bounded
 * whatever is posted.
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

  request(handler: IntakeHandler, code: number): void {
    inc(this.requests, [handler, String(code)]);
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

  /** Every counter with HELP and TYPE lines, series sorted, one trailing newline. */
  render(): string {
    return this.all()
      .map((c) => {
        const lines = [`# HELP ${c.name} ${escapeHelp(c.help)}`, `# TYPE ${c.name} counter`];
        const keys = [...c.values.keys()].sort();
        for (const key of keys) {
          const values = c.labels.length === 0 ? [] : key.split('\0');
          const labels = c.labels.map((l, i) => `${l}="${escapeLabelValue(values[i] ?? '')}"`).join(',');
          lines.push(`${c.name}${labels ? `{${labels}}` : ''} ${c.values.get(key)}`);
        }
        return lines.join('\n');
      })
      .join('\n')
      .concat('\n');
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
