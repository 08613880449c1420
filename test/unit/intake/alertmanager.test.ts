import { InvalidAlertmanagerPayloadError, parseAlertmanagerPayload } from '../../../src/intake/alertmanager';
import type { FieldError } from '../../../src/domain/request';
import { fixture, fixtureNames } from './support';

function errorsOf(body: unknown): FieldError[] {
  try {
    parseAlertmanagerPayload(body);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidAlertmanagerPayloadError);
    return (e as InvalidAlertmanagerPayloadError).errors;
  }
  throw new Error('expected the payload to be rejected');
}

const fields = (errors: FieldError[]) => errors.map((e) => `${e.field}:${e.rule}`);

describe('parseAlertmanagerPayload (webhook v4)', () => {
  it.each(fixtureNames)('when the payload is the %s fixture then it parses', (name) => {
    const payload = parseAlertmanagerPayload(fixture(name));
    expect(payload.version).toBe('4');
    expect(payload.alerts.length).toBeGreaterThan(0);
  });

  it('when the sender omits optional fields then defaults are applied', () => {
    const payload = parseAlertmanagerPayload({
      version: '4',
      groupKey: '{}:{alertname="X"}',
      status: 'firing',
      receiver: 'r',
      alerts: [{ status: 'firing', labels: { alertname: 'X' }, startsAt: '2026-03-02T09:41:27.123456789Z' }],
    });
    expect(payload).toMatchObject({ truncatedAlerts: 0, groupLabels: {}, commonLabels: {}, externalURL: '' });
    expect(payload.alerts[0]).toEqual({
      status: 'firing',
      labels: { alertname: 'X' },
      annotations: {},
      startsAt: '2026-03-02T09:41:27.123456789Z',
      generatorURL: '',
    });
  });

  it('when Alertmanager adds a field we do not know then it is dropped, not refused', () => {
    const body = { ...fixture('firing-crashloop'), futureField: { x: 1 } };
    expect(parseAlertmanagerPayload(body)).not.toHaveProperty('futureField');
  });

  it('when several fields are wrong then every one is named, with array indices', () => {
    const body = fixture('group-several') as unknown as Record<string, unknown> & {
      alerts: Record<string, unknown>[];
    };
    body['version'] = '3';
    delete body['receiver'];
    body.alerts[1]!['status'] = 'pending';
    body.alerts[2]!['startsAt'] = 'yesterday';
    body.alerts[3]!['labels'] = { namespace: 7 };
    expect(fields(errorsOf(body))).toEqual([
      'version:enum',
      'receiver:required',
      'alerts[1].status:enum',
      'alerts[2].startsAt:datetime',
      'alerts[3].labels.namespace:type',
    ]);
  });

  it('when a label name is not an identifier then the path quotes it', () => {
    const body = fixture('firing-crashloop');
    (body.alerts[0]!.labels as Record<string, unknown>)['app.kubernetes.io/name'] = 1;
    expect(fields(errorsOf(body))).toEqual(['alerts[0].labels["app.kubernetes.io/name"]:type']);
  });

  it.each([null, [], 'text', 42])('when the body is %p then (root) is named', (body) => {
    expect(fields(errorsOf(body))).toEqual(['(root):type']);
  });

  it('when the start time has no zone then it is refused (it would depend on the parser’s clock)', () => {
    const body = fixture('firing-crashloop');
    body.alerts[0]!.startsAt = '2026-03-02T09:41:27';
    expect(errorsOf(body)[0]).toMatchObject({
      field: 'alerts[0].startsAt',
      message: expect.stringContaining('zone'),
    });
  });
});
