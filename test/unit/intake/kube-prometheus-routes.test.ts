/**
 * The shipped example routes (deploy/intake-routes.yaml) against real kube-prometheus
 * notifications (test/fixtures/alertmanager/kube-prometheus/: the label sets those alerts carry,
 * see the README there). Each alert is planned through ALL shipped routes, as the intake does
 * (first match wins), and the request it yields must be admitted by the shipped catalog
 * (deploy/actions) with the Pipeline's namespace and name filled from the target.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse as parseYaml } from 'yaml';

import { admitAction, parseCatalogEntry, type AdmissionPolicy } from '../../../src/domain/catalog';
import { parseRemediationRequest } from '../../../src/domain/request';
import { parseAlertmanagerPayload, type AlertmanagerPayload } from '../../../src/intake/alertmanager';
import { planAlert } from '../../../src/intake/mapper';
import { parseRoutingConfig } from '../../../src/intake/routing-config';
import { deployManifests, find, type K8sObject, repoPath } from '../deploy/support';
import { FIXTURES } from './support';

const REAL = join(FIXTURES, 'kube-prometheus');
const manifests = deployManifests();
const shipped = parseRoutingConfig(parseYaml(readFileSync(repoPath('deploy/intake-routes.yaml'), 'utf8')));

function notification(alertname: string): AlertmanagerPayload {
  return parseAlertmanagerPayload(JSON.parse(readFileSync(join(REAL, `${alertname}.json`), 'utf8')));
}

/** What the worker admits against: every capability on, uncatalogued actions refused. */
const policy: AdmissionPolicy = {
  allowUncataloguedActions: false,
  pipelineRunTimeoutMs: 1_800_000,
  shadow: false,
  catalogNamespace: 'remediation-system',
  supports: { dryRun: true, approval: true, verification: true },
};

const expected: [alertname: string, route: string, target: string, action: string, approval: boolean][] = [
  ['KubePodCrashLooping', 'crashloop-delete-pod', 'shop/Pod/checkout-7d9c6b5f8-x2x9q', 'delete-pod', false],
  ['KubePodNotReady', 'stuck-pod-delete', 'shop/Pod/cart-5f7d8c9b6-9kq2w', 'delete-pod', false],
  [
    'KubeDeploymentReplicasMismatch',
    'replicas-mismatch-restart',
    'payments/Deployment/payments-api',
    'restart-deployment',
    false,
  ],
  [
    'KubeStatefulSetReplicasMismatch',
    'statefulset-replicas-mismatch-restart',
    'cache/StatefulSet/redis',
    'restart-statefulset',
    true,
  ],
  ['KubeJobFailed', 'job-failed-delete', 'reports/Job/nightly-report-29512340', 'delete-job', true],
];

describe('deploy/intake-routes.yaml against real kube-prometheus alerts', () => {
  it('has a real notification for every shipped route, and a route for every notification', () => {
    const fixtures = readdirSync(REAL)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''));
    expect(fixtures.sort()).toEqual(expected.map(([alertname]) => alertname).sort());
    expect(shipped.routes.map((r) => r.name).sort()).toEqual(expected.map(([, route]) => route).sort());
  });

  it.each(expected)(
    'S33 when %s fires then route %s targets %s with the catalogued %s (approval %p)',
    (alertname, route, target, action, approval) => {
      const payload = notification(alertname);
      const plan = planAlert(payload.alerts[0]!, shipped.routes, payload);
      if (!plan.start) throw new Error(`${alertname}: ${plan.decision.outcome}: ${plan.decision.reason}`);
      expect(plan.route).toBe(route);

      const request = parseRemediationRequest(plan.input);
      const [namespace, kind, name] = target.split('/');
      expect(request.target).toEqual({ namespace, kind, name });
      expect(request.signal).toMatchObject({ name: alertname, severity: 'warning' });

      const entry = find<K8sObject & { spec: unknown }>(manifests, 'RemediationAction', request.action.id);
      expect(request.action.id).toBe(action);
      const admission = admitAction(request, parseCatalogEntry(action, '1', entry.spec), policy);
      if (admission.kind === 'refused') throw new Error(`${alertname}: ${admission.message}`);
      expect(admission.action.approval.required).toBe(approval);

      // Every Pipeline param without a default gets a value; namespace and name are the target's own.
      const pipeline = find<K8sObject & { spec: { params: { name: string; default?: string }[] } }>(
        manifests,
        'Pipeline',
        admission.action.pipeline,
      );
      const required = pipeline.spec.params.filter((p) => p.default === undefined).map((p) => p.name);
      expect(Object.keys(admission.action.params)).toEqual(expect.arrayContaining(required));
      expect(admission.action.params).toMatchObject({ namespace, name });
    },
  );

  it('when a route asks for a label the real alert does not carry then the alert is rejected, naming it', () => {
    // The example route this file replaced: KubePodCrashLooping has no `deployment` label.
    const [invented] = parseRoutingConfig({
      routes: [
        {
          name: 'crashloop-restart',
          match: { alertname: 'KubePodCrashLooping' },
          action: { id: 'restart-deployment' },
          target: {
            kind: 'Deployment',
            namespace: '{{ labels.namespace }}',
            name: '{{ labels.deployment }}',
          },
        },
      ],
    }).routes;
    const payload = notification('KubePodCrashLooping');
    expect(planAlert(payload.alerts[0]!, [invented!], payload)).toEqual({
      start: false,
      decision: expect.objectContaining({
        outcome: 'rejected',
        reason: 'labels.deployment is missing or empty (needed for target.name)',
      }),
    });
  });
});
