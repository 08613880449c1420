/**
 * Bad input: property-based fuzzing of the Alertmanager payload parser, the mapper and the HTTP
 * intake. No crash, no start for a rejected input, a clear error for every rejection.
 */
import fc from 'fast-check';
import { parseRemediationRequest } from '../../../src/domain/request';
import {
  InvalidAlertmanagerPayloadError,
  parseAlertmanagerPayload,
  type AlertmanagerPayload,
} from '../../../src/intake/alertmanager';
import { planAlert } from '../../../src/intake/mapper';
import { parseRoutingConfig } from '../../../src/intake/routing-config';
import { createIntakeServer, type IntakeServer } from '../../../src/intake/server';
import { fakeStart, fixture, fixtureNames, fixtureRoutes, json, request } from '../intake/support';
import { expectNamedErrors, hostileValue, mutate, mutation } from './arbitraries';

// Templated everywhere, so label values reach every request field.
const routes = [
  ...fixtureRoutes(),
  ...parseRoutingConfig({
    routes: [
      {
        name: 'templated',
        action: {
          id: '{{ labels.action }}',
          pipeline: '{{ labels.pipeline }}',
          params: { note: '{{ annotations.summary }}' },
          serviceAccountName: '{{ labels.sa }}',
        },
        target: {
          kind: '{{ labels.kind }}',
          name: '{{ labels.name }}',
          namespace: '{{ labels.namespace }}',
          cluster: '{{ labels.cluster }}',
        },
      },
    ],
  }).routes,
];

const alertPaths = (i: number) =>
  [
    ['alerts', i],
    ['alerts', i, 'status'],
    ['alerts', i, 'labels'],
    ['alerts', i, 'labels', 'alertname'],
    ['alerts', i, 'labels', 'namespace'],
    ['alerts', i, 'labels', 'deployment'],
    ['alerts', i, 'labels', 'severity'],
    ['alerts', i, 'labels', 'kind'],
    ['alerts', i, 'labels', 'name'],
    ['alerts', i, 'labels', 'action'],
    ['alerts', i, 'labels', 'pipeline'],
    ['alerts', i, 'labels', 'cluster'],
    ['alerts', i, 'annotations'],
    ['alerts', i, 'annotations', 'summary'],
    ['alerts', i, 'startsAt'],
    ['alerts', i, 'endsAt'],
    ['alerts', i, 'fingerprint'],
    ['alerts', i, 'generatorURL'],
  ] as const;

const paths = [
  ['version'],
  ['groupKey'],
  ['truncatedAlerts'],
  ['status'],
  ['receiver'],
  ['groupLabels'],
  ['commonLabels'],
  ['commonAnnotations'],
  ['externalURL'],
  ['alerts'],
  ...alertPaths(0),
  ...alertPaths(1),
];

const mutatedPayload = fc
  .tuple(fc.constantFrom(...fixtureNames), fc.array(mutation(paths), { minLength: 1, maxLength: 4 }))
  .map(([name, mutations]) => mutate(fixture(name), mutations));

/** Mostly a valid value, sometimes anything: enough accepted alerts to exercise the start path. */
const mostly = <T>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: other });

/** Labels that make the catch-all templated route render from arbitrary strings. */
const templatedAlertPayload = fc
  .record({
    labels: fc.record({
      kind: mostly(
        fc.constantFrom('Deployment', 'StatefulSet'),
        fc.oneof(fc.constant('deployment'), fc.string()),
      ),
      name: mostly(fc.constantFrom('api', 'a.b'), fc.oneof(fc.constantFrom('API', '-x'), fc.string())),
      namespace: mostly(fc.constant('prod'), fc.oneof(fc.constantFrom('Prod', ''), fc.string())),
      cluster: mostly(fc.constant('eu-1'), fc.string()),
      action: mostly(fc.constant('restart'), fc.string()),
      pipeline: mostly(fc.constant('restart'), fc.string()),
      sa: mostly(fc.constant('remediator'), fc.string()),
      severity: fc.string(),
      alertname: fc.string({ maxLength: 300 }),
    }),
    extraLabels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 80 }),
    summary: mostly(fc.string({ maxLength: 100 }), fc.string({ minLength: 4000, maxLength: 5000 })),
    fingerprint: fc.option(mostly(fc.constant('8a4f2c1e9b7d3a60'), fc.string({ maxLength: 140 })), {
      nil: undefined,
    }),
  })
  .map(({ labels, extraLabels, summary, fingerprint }) => ({
    version: '4',
    groupKey: '{}:{}',
    status: 'firing',
    receiver: 'fuzz',
    alerts: [
      {
        status: 'firing',
        labels: { ...extraLabels, ...labels },
        annotations: { summary },
        startsAt: '2026-03-02T09:41:27.512Z',
        ...(fingerprint === undefined ? {} : { fingerprint }),
      },
    ],
  }));

/** Parses; on failure checks the error type and its fields, on success plans every alert. */
function check(body: unknown): AlertmanagerPayload | InvalidAlertmanagerPayloadError {
  let payload: AlertmanagerPayload;
  try {
    payload = parseAlertmanagerPayload(body);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidAlertmanagerPayloadError);
    expectNamedErrors((error as InvalidAlertmanagerPayloadError).errors);
    return error as InvalidAlertmanagerPayloadError;
  }
  for (const alert of payload.alerts) {
    const plan = planAlert(alert, routes);
    if (plan.start) expect(parseRemediationRequest(plan.input).id).toBe(plan.id);
    else expect(plan.decision.reason.length).toBeGreaterThan(0);
  }
  return payload;
}

describe('fuzz: Alertmanager payload parser and mapper', () => {
  it('when the body is any JSON value then only a typed, field-naming error is thrown', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), hostileValue), (body) => void check(body)),
      { numRuns: 1000 },
    );
  });

  it('when a fixture is mutated then it parses and every alert is planned, or it is rejected naming fields', () => {
    let accepted = 0;
    fc.assert(
      fc.property(mutatedPayload, (body) => {
        if (!(check(body) instanceof InvalidAlertmanagerPayloadError)) accepted += 1;
      }),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('when label values are arbitrary then the mapper starts only valid requests and explains rejections', () => {
    let started = 0;
    fc.assert(
      fc.property(templatedAlertPayload, (body) => {
        const payload = check(body);
        expect(payload).not.toBeInstanceOf(InvalidAlertmanagerPayloadError);
        const plan = planAlert((payload as AlertmanagerPayload).alerts[0]!, routes);
        if (plan.start) started += 1;
        else expect(plan.decision).toMatchObject({ outcome: 'rejected', route: 'templated' });
      }),
      { numRuns: 1000 },
    );
    expect(started).toBeGreaterThan(0);
  });
});

describe('fuzz: HTTP intake', () => {
  let intake: IntakeServer;
  let url: string;
  const start = fakeStart();

  beforeAll(async () => {
    // Payload robustness, not authentication (test/unit/intake/server-security.test.ts): no token.
    intake = createIntakeServer({
      routes,
      start,
      auth: { allowUnauthenticated: true },
      maxBodyBytes: 16 * 1024,
    });
    url = `http://127.0.0.1:${(await intake.listen(0, '127.0.0.1')).port}/webhook`;
  });
  afterAll(() => intake.close());

  const body = fc.oneof(
    fc
      .oneof(mutatedPayload, templatedAlertPayload, fc.jsonValue(), hostileValue)
      .map((v) => JSON.stringify(v) ?? ''),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  );

  it('when anything is posted then the reply is never 5xx and nothing starts unless it is a valid payload', async () => {
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const before = start.calls.length;
        const reply = await request(url, { headers: json, body: text });
        expect([200, 400, 413, 422]).toContain(reply.status);
        const calls = start.calls.slice(before);
        if (reply.status !== 200) {
          expect(calls).toHaveLength(0);
          expect(String(reply.body['error'])).not.toBe('');
          if (reply.status === 422) expectNamedErrors(reply.body['fields'] as never);
          return;
        }
        const results = reply.body['results'] as { outcome: string }[];
        const startedOrDuplicate = results.filter(
          (r) => r.outcome === 'started' || r.outcome === 'duplicate',
        );
        expect(calls).toHaveLength(startedOrDuplicate.length);
        for (const input of calls) expect(() => parseRemediationRequest(input)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('fuzz building blocks', () => {
  it('when a mutation places a value, later writes into the result leave the value itself alone', () => {
    const shared: unknown[] = [];
    const once = mutate({ alerts: [] }, [
      { path: ['alerts'], value: shared },
      { path: ['alerts', 0, 'labels', 'cluster'], value: shared },
    ]) as { alerts: { labels: { cluster: unknown } }[] };
    expect(shared).toEqual([]);
    expect(() => JSON.stringify(once)).not.toThrow();
    expect(once.alerts[0]!.labels.cluster).toEqual([]);
  });
});
