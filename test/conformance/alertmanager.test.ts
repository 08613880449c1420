/**
 * Alertmanager in the loop: alerts are posted to Alertmanager's v2 API as Prometheus posts them;
 * Alertmanager groups them and sends them to the real intake over HTTP with the bearer token from
 * its credentials_file, repeats them (repeat_interval 4s here) and sends the resolved notification.
 * The product must start exactly one remediation per firing (repeats are duplicates), run it on
 * real Tekton to Completed, and start a new one when the alert fires again after resolving. The
 * intake refuses a request without the token (401), so every decision here proves the token arrived.
 */
import { readFileSync } from 'node:fs';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { RemediationRequestInput } from '../../src/domain/request';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural } from '../../src/domain/tekton';
import { parseRoutingConfig } from '../../src/intake/routing-config';
import { createIntakeServer, type IntakeServer } from '../../src/intake/server';
import { CONFORMANCE_PIPELINES } from '../support/conformance-fixtures';
import { RemediationHarness } from '../integration/support/remediation-harness';
import { adminKubeConfig, conformanceStack } from './stack-env';

const stack = conformanceStack();
const harness = new RemediationHarness(stack);
const suffix = Date.now().toString(36).slice(-4);
const alertname = `ConformanceCrashLoop${suffix}`;
const namespace = `shop-${suffix}`;
let intake: IntakeServer;
/** Every decision of the intake, in order: what Alertmanager's notifications made the product do. */
const decisions: { kind: 'start' | 'resolve'; id?: string; outcome?: string; fingerprint?: string }[] = [];

beforeAll(async () => {
  await harness.open();
  await harness.startWorker();
  const pipeline = CONFORMANCE_PIPELINES['one-step'];
  await adminKubeConfig()
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({
      group: TEKTON_GROUP,
      version: TEKTON_VERSION,
      namespace: stack.executionNamespace,
      plural: TektonPlural.Pipeline,
      body: { ...pipeline, metadata: { name: `one-step-${suffix}` } },
    })
    .catch(() => undefined);
  const { routes } = parseRoutingConfig({
    routes: [
      {
        name: 'crashloop-restart',
        match: { alertname },
        action: {
          id: 'restart-deployment',
          pipeline: `one-step-${suffix}`,
          params: { target: '{{ labels.namespace }}/Deployment/{{ labels.deployment }}' },
        },
        target: { kind: 'Deployment', name: '{{ labels.deployment }}', namespace: '{{ labels.namespace }}' },
      },
    ],
  });
  intake = createIntakeServer({
    routes,
    start: async (input: RemediationRequestInput) => {
      const started = await harness.client.start(input, { checkAction: false });
      decisions.push({ kind: 'start', id: started.id, outcome: started.started ? 'started' : 'duplicate' });
      return started;
    },
    resolve: async (fingerprint) => {
      const ids = await harness.client.resolveFingerprint(fingerprint, 'Alertmanager: resolved');
      decisions.push({ kind: 'resolve', fingerprint });
      return ids;
    },
    auth: { bearerToken: readFileSync(stack.intakeTokenFile, 'utf8').trim() },
  });
  await intake.listen(stack.intakePort, '127.0.0.1');
});

afterAll(async () => {
  await intake?.close();
  await harness.close();
});

/** POST /api/v2/alerts, as Prometheus does. */
async function postAlert(startsAt: string, endsAt?: string): Promise<void> {
  const res = await fetch(`${stack.alertmanagerUrl ?? ''}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify([
      {
        labels: { alertname, namespace, deployment: 'api', severity: 'warning' },
        annotations: { summary: 'api is crash looping' },
        startsAt,
        ...(endsAt ? { endsAt } : {}),
        generatorURL: 'http://prometheus.example/graph',
      },
    ]),
  });
  expect(res.status).toBe(200);
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; decisions: ${JSON.stringify(decisions)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('one remediation per firing, run on real Tekton; repeats are duplicates; a new firing after resolve is new', async () => {
  const firstStart = new Date(Date.now() - 60_000).toISOString();
  await postAlert(firstStart);
  const first = await until('the first notification', () => decisions.find((d) => d.kind === 'start'));
  expect(first.outcome).toBe('started');
  const status = await harness.result(first.id ?? '', 180_000);
  expect(status.phase).toBe('Completed');
  expect(await harness.pipelineRunsOf(first.id ?? '')).toHaveLength(1);

  // repeat_interval: the same firing again, same remediation, nothing new started.
  await until('a repeated notification', () =>
    decisions.find((d) => d.kind === 'start' && d.outcome === 'duplicate'),
  );
  expect(decisions.filter((d) => d.kind === 'start').every((d) => d.id === first.id)).toBe(true);

  // Resolved: Alertmanager tells the intake; the finished remediation is untouched.
  await postAlert(firstStart, new Date(Date.now() - 1000).toISOString());
  await until('the resolved notification', () => decisions.find((d) => d.kind === 'resolve'));

  // Fires again (a new startsAt): a new remediation.
  await postAlert(new Date().toISOString());
  const second = await until('a new remediation', () =>
    decisions.find((d) => d.kind === 'start' && d.id !== first.id),
  );
  expect(second.outcome).toBe('started');
  expect((await harness.result(second.id ?? '', 180_000)).phase).toBe('Completed');
  expect(await harness.pipelineRunsOf(first.id ?? '')).toHaveLength(1);
});
