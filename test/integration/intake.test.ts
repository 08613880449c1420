/**
 * The Alertmanager intake on the real stack: a webhook fixture posted over HTTP starts a real
 * remediation through RemediationClient, which runs to Completed; redelivering the same payload
 * starts nothing new (S3).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertmanagerPayload } from '../../src/intake/alertmanager';
import { parseRoutingConfig } from '../../src/intake/routing-config';
import { createIntakeServer, type IntakeServer } from '../../src/intake/server';
import { RemediationHarness, uniqueName } from './support/remediation-harness';

const TOKEN = uniqueName('intake-token');

const harness = new RemediationHarness();
let intake: IntakeServer;
let url: string;
let pipeline: string;

beforeAll(async () => {
  await harness.open();
  await harness.startWorker();
  pipeline = await harness.definePipeline('succeed');
  const { routes } = parseRoutingConfig({
    routes: [
      {
        name: 'crashloop-restart',
        match: { alertname: 'KubePodCrashLooping' },
        action: { id: 'restart-deployment', pipeline, params: { deployment: '{{ labels.deployment }}' } },
        target: { kind: 'Deployment', name: '{{ labels.deployment }}', namespace: '{{ labels.namespace }}' },
      },
    ],
  });
  intake = createIntakeServer({
    routes,
    start: (input) => harness.client.start(input),
    auth: { bearerToken: TOKEN },
  });
  url = `http://127.0.0.1:${(await intake.listen(0, '127.0.0.1')).port}/api/v1/alerts/alertmanager`;
});

afterAll(async () => {
  await intake.close();
  await harness.close();
});

/** The crash-loop fixture on a fresh namespace and firing, so reruns on a reused stack start afresh. */
function payload(): { body: string; namespace: string } {
  const body = JSON.parse(
    readFileSync(join(__dirname, '../fixtures/alertmanager/firing-crashloop.json'), 'utf8'),
  ) as AlertmanagerPayload;
  const alert = body.alerts[0]!;
  const namespace = uniqueName('ns');
  alert.labels['namespace'] = namespace;
  alert.fingerprint = uniqueName('fp');
  alert.startsAt = new Date().toISOString();
  return { body: JSON.stringify(body), namespace };
}

async function post(
  body: string,
): Promise<{ status: number; results: { outcome: string; remediationId: string }[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    body,
  });
  const json = (await res.json()) as { results: { outcome: string; remediationId: string }[] };
  return { status: res.status, results: json.results };
}

describe('Alertmanager intake on the real stack', () => {
  it('S1/S3: when a firing alert is posted then it remediates to Completed, and redelivery starts nothing new', async () => {
    const { body, namespace } = payload();
    const first = await post(body);
    expect(first.status).toBe(200);
    expect(first.results).toEqual([expect.objectContaining({ outcome: 'started' })]);
    const id = first.results[0]!.remediationId;

    const status = await harness.result(id);
    expect(status.phase).toBe('Completed');
    expect(status.target).toBe(`${namespace}/Deployment/checkout`);

    const second = await post(body);
    expect(second.status).toBe(200);
    expect(second.results).toEqual([expect.objectContaining({ outcome: 'duplicate', remediationId: id })]);
    expect(await harness.pipelineRunsOf(id)).toHaveLength(1);
  });
});
