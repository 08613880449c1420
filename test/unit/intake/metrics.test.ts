import {
  IntakeMetrics,
  METRICS_CONTENT_TYPE,
  REQUEST_DURATION_BUCKETS,
  escapeLabelValue,
} from '../../../src/intake/metrics';

// The text exposition format 0.0.4, line by line: comments, then `name{labels} value`.
const HELP = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/;

/** Parses the exposition, checking its grammar: every sample follows the HELP and TYPE of its metric. */
function parse(text: string): { types: Map<string, string>; samples: Map<string, number> } {
  expect(text.endsWith('\n')).toBe(true);
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = HELP.exec(line))) {
      expect(helped.has(m[1]!)).toBe(false);
      helped.add(m[1]!);
    } else if ((m = TYPE.exec(line))) {
      expect({ line, helped: helped.has(m[1]!), typed: types.has(m[1]!) }).toEqual({
        line,
        helped: true,
        typed: false,
      });
      types.set(m[1]!, m[2]!);
    } else if ((m = SAMPLE.exec(line))) {
      // A histogram's series are its name with _bucket, _sum or _count.
      const family = types.has(m[1]!) ? m[1]! : m[1]!.replace(/_(bucket|sum|count)$/, '');
      expect({ line, typed: types.has(family) }).toEqual({ line, typed: true });
      expect(samples.has(m[1]! + (m[2] ?? ''))).toBe(false);
      samples.set(m[1]! + (m[2] ?? ''), Number(m[3]));
    } else {
      throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    }
  }
  return { types, samples };
}

describe('IntakeMetrics', () => {
  it('when nothing happened then every metric is exposed with HELP and TYPE, fixed series at 0', () => {
    const text = new IntakeMetrics().render();
    const { types, samples } = parse(text);
    expect([...types.entries()]).toEqual([
      ['remediation_intake_requests_total', 'counter'],
      ['remediation_intake_alerts_received_total', 'counter'],
      ['remediation_intake_remediations_started_total', 'counter'],
      ['remediation_intake_auth_failures_total', 'counter'],
      ['remediation_intake_payload_rejections_total', 'counter'],
      ['remediation_intake_request_duration_seconds', 'histogram'],
    ]);
    // Prometheus's conventions: counters end in _total, durations are histograms in seconds.
    for (const [name, type] of types) {
      expect(name).toMatch(type === 'counter' ? /^remediation_intake_[a-z_]+_total$/ : /_seconds$/);
    }
    expect(Object.fromEntries(samples)).toEqual({
      'remediation_intake_alerts_received_total{status="firing"}': 0,
      'remediation_intake_alerts_received_total{status="resolved"}': 0,
      remediation_intake_remediations_started_total: 0,
      'remediation_intake_auth_failures_total{reason="invalid"}': 0,
      'remediation_intake_auth_failures_total{reason="missing"}': 0,
      'remediation_intake_payload_rejections_total{reason="body_timeout"}': 0,
      'remediation_intake_payload_rejections_total{reason="body_too_large"}': 0,
      'remediation_intake_payload_rejections_total{reason="invalid_json"}': 0,
      'remediation_intake_payload_rejections_total{reason="invalid_payload"}': 0,
      'remediation_intake_payload_rejections_total{reason="too_many_alerts"}': 0,
      'remediation_intake_payload_rejections_total{reason="unsupported_media_type"}': 0,
    });
  });

  it('when events are counted then the exposition is exactly this', () => {
    const m = new IntakeMetrics();
    m.request('alertmanager', 200);
    m.request('alertmanager', 200);
    m.request('alertmanager', 401);
    m.request('metrics', 200);
    m.alertReceived('firing');
    m.alertReceived('firing');
    m.alertReceived('resolved');
    m.remediationStarted();
    m.authFailure('missing');
    m.payloadRejected('too_many_alerts');
    expect(m.render()).toBe(
      [
        '# HELP remediation_intake_requests_total HTTP requests answered by the intake, by handler and status code.',
        '# TYPE remediation_intake_requests_total counter',
        'remediation_intake_requests_total{handler="alertmanager",code="200"} 2',
        'remediation_intake_requests_total{handler="alertmanager",code="401"} 1',
        'remediation_intake_requests_total{handler="metrics",code="200"} 1',
        '# HELP remediation_intake_alerts_received_total Alerts received in accepted webhook payloads, by alert status.',
        '# TYPE remediation_intake_alerts_received_total counter',
        'remediation_intake_alerts_received_total{status="firing"} 2',
        'remediation_intake_alerts_received_total{status="resolved"} 1',
        '# HELP remediation_intake_remediations_started_total Remediations started by the intake (redeliveries of an already started alert are not counted).',
        '# TYPE remediation_intake_remediations_started_total counter',
        'remediation_intake_remediations_started_total 1',
        '# HELP remediation_intake_auth_failures_total Requests refused with 401: no bearer token (missing) or a wrong one (invalid).',
        '# TYPE remediation_intake_auth_failures_total counter',
        'remediation_intake_auth_failures_total{reason="invalid"} 0',
        'remediation_intake_auth_failures_total{reason="missing"} 1',
        '# HELP remediation_intake_payload_rejections_total Authenticated webhook payloads refused as a whole (nothing started), by reason.',
        '# TYPE remediation_intake_payload_rejections_total counter',
        'remediation_intake_payload_rejections_total{reason="body_timeout"} 0',
        'remediation_intake_payload_rejections_total{reason="body_too_large"} 0',
        'remediation_intake_payload_rejections_total{reason="invalid_json"} 0',
        'remediation_intake_payload_rejections_total{reason="invalid_payload"} 0',
        'remediation_intake_payload_rejections_total{reason="too_many_alerts"} 1',
        'remediation_intake_payload_rejections_total{reason="unsupported_media_type"} 0',
        "# HELP remediation_intake_request_duration_seconds Time from a request's arrival to the end of its answer, by handler.",
        '# TYPE remediation_intake_request_duration_seconds histogram',
        '',
      ].join('\n'),
    );
    expect(m.value('remediation_intake_requests_total', { handler: 'alertmanager', code: '200' })).toBe(2);
    expect(m.value('remediation_intake_remediations_started_total')).toBe(1);
    expect(m.value('remediation_intake_auth_failures_total', { reason: 'invalid' })).toBe(0);
    expect(() => m.value('nope')).toThrow(/no intake metric nope/);
  });

  it('when request durations are observed then the histogram has cumulative buckets in seconds, a sum and a count', () => {
    const m = new IntakeMetrics();
    m.request('alertmanager', 200, 0.004);
    m.request('alertmanager', 200, 0.3);
    m.request('alertmanager', 503, 12);
    m.request('healthz', 200, 0.001);
    const { types, samples } = parse(m.render());
    expect(types.get('remediation_intake_request_duration_seconds')).toBe('histogram');
    const bucket = (handler: string, le: string) =>
      samples.get(`remediation_intake_request_duration_seconds_bucket{handler="${handler}",le="${le}"}`);
    expect(REQUEST_DURATION_BUCKETS.map((le) => bucket('alertmanager', String(le)))).toEqual([
      1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2,
    ]);
    expect(bucket('alertmanager', '+Inf')).toBe(3);
    expect(
      samples.get('remediation_intake_request_duration_seconds_sum{handler="alertmanager"}'),
    ).toBeCloseTo(12.304);
    expect(samples.get('remediation_intake_request_duration_seconds_count{handler="alertmanager"}')).toBe(3);
    expect(bucket('healthz', '0.005')).toBe(1);
    expect(samples.get('remediation_intake_request_duration_seconds_count{handler="healthz"}')).toBe(1);
    expect(m.value('remediation_intake_requests_total', { handler: 'alertmanager', code: '503' })).toBe(1);
  });

  it('escapes label values as the format requires', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it('is served as text format version 0.0.4', () => {
    expect(METRICS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});
