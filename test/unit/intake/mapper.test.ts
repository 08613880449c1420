import { parseRemediationRequest } from '../../../src/domain/request';
import { parseAlertmanagerPayload, type Alert } from '../../../src/intake/alertmanager';
import { labelsFingerprint, mapAlert, planAlert, remediationIdFor } from '../../../src/intake/mapper';
import { parseRoutingConfig, type Route } from '../../../src/intake/routing-config';
import { fixture, fixtureRoutes, type FixtureName } from './support';

const routes = fixtureRoutes();
const crashloopRoute = routes[0]!;

function alertOf(name: FixtureName, index = 0): Alert {
  const alert = parseAlertmanagerPayload(fixture(name)).alerts[index];
  if (!alert) throw new Error(`${name} has no alert ${index}`);
  return alert;
}

const withLabels = (alert: Alert, labels: Record<string, string>): Alert => ({
  ...alert,
  labels: { ...alert.labels, ...labels },
});

function routeWith(target: Record<string, string>, extra: Record<string, unknown> = {}): Route {
  const [route] = parseRoutingConfig({
    routes: [
      { name: 'r', action: { id: 'restart-deployment', pipeline: 'restart-deployment' }, target, ...extra },
    ],
  }).routes;
  return route!;
}

describe('Alertmanager-style templates', () => {
  const payload = parseAlertmanagerPayload(fixture('firing-crashloop'));
  const alert = payload.alerts[0]!;

  it('when a route is written with .Labels / .Annotations then the request equals the labels. one', () => {
    const spelled = (labels: string, annotations: string) =>
      routeWith(
        { kind: 'Pod', namespace: `{{ ${labels}.namespace }}`, name: `{{ ${labels}.pod }}` },
        { action: { id: 'delete-pod', params: { reason: `{{ ${annotations}.summary }}` } } },
      );
    const goStyle = mapAlert(alert, spelled('.Labels', '.Annotations'));
    const plain = mapAlert(alert, spelled('labels', 'annotations'));
    expect(goStyle).toEqual(plain);
    expect(goStyle).toMatchObject({
      ok: true,
      input: {
        target: { kind: 'Pod', namespace: 'shop', name: 'checkout-7d9c6b5f8-x2x9q' },
        action: { params: { reason: 'Pod is crash looping.' } },
      },
    });
  });

  it("when a route reads .CommonLabels then planAlert takes them from the alert's notification", () => {
    const route = routeWith({
      kind: 'Pod',
      namespace: '{{ .CommonLabels.namespace }}',
      name: '{{ .Labels.pod }}',
    });
    const plan = planAlert(alert, [route], { ...payload, commonLabels: { namespace: 'from-group' } });
    expect(plan).toMatchObject({ start: true, input: { target: { namespace: 'from-group' } } });
    // Without the notification (no common labels) the label is missing, never rendered as "".
    expect(planAlert(alert, [route])).toMatchObject({
      start: false,
      decision: {
        outcome: 'rejected',
        reason: 'commonLabels.namespace is missing or empty (needed for target.namespace)',
      },
    });
  });
});

describe('planAlert / mapAlert', () => {
  it('when a crash-looping pod fires then the request is built from the route templates', () => {
    const plan = planAlert(alertOf('firing-crashloop'), routes);
    expect(plan.start).toBe(true);
    if (!plan.start) return;
    expect(plan).toMatchObject({ route: 'crashloop-restart', fingerprint: '8a4f2c1e9b7d3a60' });
    expect(plan.input).toEqual({
      id: plan.id,
      signal: {
        fingerprint: '8a4f2c1e9b7d3a60',
        name: 'KubePodCrashLooping',
        severity: 'warning',
        labels: alertOf('firing-crashloop').labels,
      },
      target: { kind: 'Deployment', name: 'checkout', namespace: 'shop' },
      action: {
        id: 'restart-deployment',
        pipeline: 'restart-deployment',
        params: { deployment: 'checkout', namespace: 'shop', summary: 'Pod is crash looping.' },
        timeout: 600_000,
      },
      deadline: 1_800_000,
    });
    expect(() => parseRemediationRequest(plan.input)).not.toThrow();
  });

  it('when several routes match then the first wins', () => {
    const catchAll = parseRoutingConfig({
      routes: [
        {
          name: 'all',
          action: { id: 'a', pipeline: 'p' },
          target: { kind: 'Pod', name: '{{ labels.pod }}' },
        },
      ],
    }).routes;
    const plan = planAlert(alertOf('firing-crashloop'), [...routes, ...catchAll]);
    expect(plan.start && plan.route).toBe('crashloop-restart');
    expect(planAlert(alertOf('firing-crashloop'), [...catchAll, ...routes])).toMatchObject({ route: 'all' });
  });

  it('when the alert is resolved then it is ignored, with the reason', () => {
    expect(planAlert(alertOf('resolved-crashloop'), routes)).toEqual({
      start: false,
      decision: {
        fingerprint: '8a4f2c1e9b7d3a60',
        route: null,
        outcome: 'ignored',
        reason: 'alert is resolved',
      },
    });
  });

  it('when no route matches then the alert is ignored', () => {
    const plan = planAlert(alertOf('group-several', 3), routes);
    expect(plan).toMatchObject({ start: false, decision: { outcome: 'ignored', route: null } });
  });

  it.each<[string | undefined, string]>([
    ['critical', 'critical'],
    ['warning', 'warning'],
    ['info', 'info'],
    ['CRITICAL', 'critical'],
    ['page', 'warning'],
    [undefined, 'warning'],
  ])('when the severity label is %p then severity is %s', (severity, expected) => {
    const { severity: _, ...labels } = alertOf('firing-crashloop').labels;
    const alert = {
      ...alertOf('firing-crashloop'),
      labels: severity === undefined ? labels : { ...labels, severity },
    };
    const mapped = mapAlert(alert, crashloopRoute);
    expect(mapped.ok && mapped.input.signal.severity).toBe(expected);
  });

  it('when the route names another severity label then that label is read', () => {
    const route = routeWith({ kind: 'Deployment', name: 'x' }, { severityLabel: 'priority' });
    const mapped = mapAlert(withLabels(alertOf('firing-crashloop'), { priority: 'info' }), route);
    expect(mapped.ok && mapped.input.signal.severity).toBe('info');
  });

  it('S3: when the same firing is delivered twice then the id is the same', () => {
    const a = planAlert(alertOf('firing-crashloop'), routes);
    const b = planAlert(alertOf('firing-crashloop'), routes);
    expect(a.start && b.start && a.id === b.id).toBe(true);
    expect(a.start && a.id).toMatch(/^am-[0-9a-f]{32}$/);
  });

  it('when the alert fires again (new startsAt) or goes through another route then the id differs', () => {
    const id = remediationIdFor('8a4f2c1e9b7d3a60', '2026-03-02T09:41:27.512Z', 'crashloop-restart');
    expect(remediationIdFor('8a4f2c1e9b7d3a60', '2026-03-02T10:41:27.512Z', 'crashloop-restart')).not.toBe(
      id,
    );
    expect(remediationIdFor('8a4f2c1e9b7d3a60', '2026-03-02T09:41:27.512Z', 'other')).not.toBe(id);
    expect(remediationIdFor('8a4f2c1e9b7d3a61', '2026-03-02T09:41:27.512Z', 'crashloop-restart')).not.toBe(
      id,
    );
  });

  it('when the alert has no fingerprint then a label-set hash stands in, independent of label order', () => {
    const { fingerprint: _, ...alert } = alertOf('firing-crashloop');
    const reversed = { ...alert, labels: Object.fromEntries(Object.entries(alert.labels).reverse()) };
    const a = planAlert(alert, routes);
    const b = planAlert(reversed, routes);
    expect(a.start && a.fingerprint).toBe(labelsFingerprint(alert.labels));
    expect(a.start && b.start && a.id === b.id).toBe(true);
  });

  it('S2: when the fingerprint breaks the request rules (docs/behaviour.md#requests-and-keys) then the alert is rejected naming signal.fingerprint', () => {
    const plan = planAlert({ ...alertOf('firing-crashloop'), fingerprint: 'a/b' }, routes);
    expect(plan).toMatchObject({
      start: false,
      decision: { outcome: 'rejected', route: 'crashloop-restart' },
    });
    expect(!plan.start && plan.decision.fields?.map((f) => f.field)).toEqual(['signal.fingerprint']);
  });

  it('when a label the route needs is missing then the alert is rejected naming label and field', () => {
    const { deployment: _, ...labels } = alertOf('firing-crashloop').labels;
    const plan = planAlert({ ...alertOf('firing-crashloop'), labels }, routes);
    expect(plan).toMatchObject({
      start: false,
      decision: {
        outcome: 'rejected',
        reason: 'labels.deployment is missing or empty (needed for target.name)',
      },
    });
  });

  it('S2: when a route template renders a lower-case Kind then the alert is rejected naming target.kind', () => {
    const route = routeWith({
      kind: '{{ labels.kind }}',
      name: '{{ labels.deployment }}',
      namespace: 'shop',
    });
    const mapped = mapAlert(withLabels(alertOf('firing-crashloop'), { kind: 'deployment' }), route);
    expect(mapped.ok).toBe(false);
    expect(!mapped.ok && mapped.fields?.map((f) => `${f.field}:${f.rule}`)).toEqual(['target.kind:pattern']);
    expect(mapAlert(withLabels(alertOf('firing-crashloop'), { kind: 'Deployment' }), route).ok).toBe(true);
  });

  it('when a label value renders an invalid name then the alert is rejected naming the field', () => {
    const mapped = mapAlert(
      withLabels(alertOf('firing-crashloop'), { deployment: 'Checkout_v2' }),
      crashloopRoute,
    );
    expect(!mapped.ok && mapped.fields?.map((f) => f.field)).toEqual(['target.name']);
  });

  it('when the alert carries too many or oversized labels then the copy is bounded, not rejected', () => {
    const many = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`l${String(i).padStart(3, '0')}`, 'v']),
    );
    const alert = withLabels(alertOf('firing-crashloop'), { ...many, huge: 'x'.repeat(5000) });
    const mapped = mapAlert(alert, crashloopRoute);
    expect(mapped.ok).toBe(true);
    if (!mapped.ok) return;
    const labels = mapped.input.signal.labels ?? {};
    expect(Object.keys(labels)).toHaveLength(64);
    expect(labels).not.toHaveProperty('huge');
  });
});
