/**
 * S35 on the real stack: did the fix work? Alertmanager notifications go over HTTP through the real
 * intake (bearer token): a firing alert starts the remediation, a resolved one tells it its signal
 * resolved. Verifying holds no lock; an ineffective fix counts against the fingerprint's breaker.
 */
import { SearchAttributes } from '../../../src/temporal-contract';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertmanagerPayload } from '../../../src/intake/alertmanager';
import { parseRoutingConfig } from '../../../src/intake/routing-config';
import { createIntakeServer, type IntakeServer } from '../../../src/intake/server';
import { targetKey } from '../../../src/domain/request';
import type { RemediationStatus } from '../../../src/temporal-contract';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const TOKEN = uniqueName('intake-token');

describe('S35: verification', () => {
  const h = new RemediationHarness();
  let intake: IntakeServer;
  let url: string;
  const verified = uniqueName('verified');
  const quick = uniqueName('quick-verify');
  const gated = uniqueName('gated');
  /** Replayed (and recorded with RECORD_HISTORIES=<tag>) at the end. */
  const histories: Record<string, string> = {};

  beforeAll(async () => {
    await h.open();
    await h.startWorker({
      allowUncataloguedActions: false,
      consecutiveFailureThreshold: 3,
      lockRecheckInterval: '1s',
    });
    const pipeline = await h.definePipeline('succeed', 200);
    const fromTarget = { namespace: '{{ target.namespace }}', name: '{{ target.name }}' };
    await h.defineAction(verified, { pipeline, targetParams: fromTarget, verification: { window: '2m' } });
    await h.defineAction(quick, { pipeline, targetParams: fromTarget, verification: { window: '2s' } });
    await h.defineAction(gated, { pipeline, targetParams: fromTarget, approval: { required: true } });
    const { routes } = parseRoutingConfig({
      routes: [
        {
          name: 'verified-restart',
          match: { alertname: 'KubePodCrashLooping' },
          action: { id: verified },
          target: {
            kind: 'Deployment',
            name: '{{ labels.deployment }}',
            namespace: '{{ labels.namespace }}',
          },
        },
      ],
    });
    intake = createIntakeServer({
      routes,
      start: (input) => h.client.start(input, { checkAction: false }),
      resolve: (fingerprint) => h.client.resolveFingerprint(fingerprint, 'Alertmanager: resolved'),
      auth: { bearerToken: TOKEN },
    });
    url = `http://127.0.0.1:${(await intake.listen(0, '127.0.0.1')).port}/api/v1/alerts/alertmanager`;
  });
  afterAll(async () => {
    await intake.close();
    await h.close();
  });

  function notification(
    status: 'firing' | 'resolved',
    alert: { fingerprint: string; namespace: string; startsAt: string },
  ) {
    const body = JSON.parse(
      readFileSync(join(__dirname, '../../fixtures/alertmanager/firing-crashloop.json'), 'utf8'),
    ) as AlertmanagerPayload;
    body.status = status;
    const a = body.alerts[0]!;
    Object.assign(a, { status, fingerprint: alert.fingerprint, startsAt: alert.startsAt });
    a.labels['namespace'] = alert.namespace;
    if (status === 'resolved') a.endsAt = new Date().toISOString();
    return JSON.stringify(body);
  }

  async function post(body: string) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body,
    });
    return {
      status: res.status,
      ...((await res.json()) as { results: { outcome: string; remediationId?: string }[] }),
    };
  }

  const verifying = (s: RemediationStatus) => s.phase === 'Verifying';

  it('S35 resolved within the window (Alertmanager → intake over HTTP) → Completed, Effective; the lock was free meanwhile', async () => {
    const alert = {
      fingerprint: uniqueName('fp'),
      namespace: uniqueName('ns'),
      startsAt: new Date().toISOString(),
    };
    const fired = await post(notification('firing', alert));
    expect(fired.results).toEqual([expect.objectContaining({ outcome: 'started' })]);
    const id = fired.results[0]!.remediationId!;
    histories['verified-effective'] = id;
    const during = await h.waitFor(id, verifying, 30_000, 'Verifying');
    expect(during.verificationEndsAt).not.toBeNull();
    const target = await h.ledger.getTarget(`${alert.namespace}/Deployment/checkout`);
    expect(target.lock).toBeNull();
    expect(target.lastSuccess?.remediationId).toBe(id);

    const resolved = await post(notification('resolved', alert));
    expect(resolved.status).toBe(200);
    expect(resolved.results).toEqual([expect.objectContaining({ outcome: 'resolved', remediationId: id })]);
    expect(await h.result(id)).toMatchObject({
      phase: 'Completed',
      reason: 'Succeeded',
      verification: 'Effective',
    });
    // The verdict is a search attribute of its own: the Web UI and `temporal workflow list` can filter on it.
    const described = await h.client.client.workflow.getHandle(`remediation-${id}`).describe();
    expect(described.typedSearchAttributes.get(SearchAttributes.verification)).toBe('Effective');
    // Nothing holds the fingerprint any more: a resolved notification is still answered 200.
    const again = await post(notification('resolved', alert));
    expect(again).toMatchObject({ status: 200, results: [expect.objectContaining({ outcome: 'ignored' })] });
  });

  it('S35 not resolved → Completed, Ineffective; three ineffective remediations of F → the next F is blocked ConsecutiveFailures', async () => {
    const fingerprint = uniqueName('fp');
    const namespace = uniqueName('ns');
    // Three targets of one namespace: one fingerprint, and no RecentlyRemediated between them.
    for (let i = 0; i < 3; i++) {
      const id = await h.start({
        ...h.request({ fingerprint, namespace, name: `api-${i}`, action: quick, pipeline: 'x' }),
        action: { id: quick, params: {} },
      });
      histories['verified-ineffective'] = id;
      const final = await h.result(id);
      expect(final).toMatchObject({ phase: 'Completed', verification: 'Ineffective' });
      expect(final.message).toMatch(/still firing when the 2s window ended/);
    }
    const fp = await h.ledger.getFingerprint(`${namespace}/${fingerprint}`, fingerprint);
    expect(fp.consecutiveFailedRemediations).toBe(3);
    // The target counters are untouched: the runs themselves succeeded.
    expect((await h.ledger.getTarget(`${namespace}/Deployment/api-0`)).consecutiveFailures).toBe(0);
    const next = await h.start({
      ...h.request({ fingerprint, namespace, action: quick, pipeline: 'x' }),
      action: { id: quick, params: {} },
    });
    await h.waitFor(next, (s) => s.blockReason === 'ConsecutiveFailures', 30_000, 'ConsecutiveFailures');
    await h.client.cancel(next);
  });

  it('S35 a remediation of F waiting (approval, busy) when F resolves → Skipped AlreadyResolved; nothing ran', async () => {
    const namespace = uniqueName('ns');
    const fingerprint = uniqueName('fp');
    const waiting = await h.start({
      ...h.request({ fingerprint, namespace, action: gated, pipeline: 'x' }),
      action: { id: gated, params: {} },
    });
    histories['already-resolved'] = waiting;
    await h.waitFor(waiting, (s) => s.blockReason === 'AwaitingApproval', 30_000, 'AwaitingApproval');
    expect(await h.client.resolveFingerprint(fingerprint)).toEqual([waiting]);
    expect(await h.result(waiting)).toMatchObject({
      phase: 'Skipped',
      reason: 'AlreadyResolved',
      pipelineRuns: [],
    });

    // Busy: another remediation holds the target (awaiting its own approval holds no lock, so hold it with a run).
    const hang = await h.definePipeline('hang');
    const holderAction = uniqueName('holder');
    await h.defineAction(holderAction, { pipeline: hang, targetParams: { name: '{{ target.name }}' } });
    const holder = await h.start({
      ...h.request({ namespace, action: holderAction, pipeline: 'x' }),
      action: { id: holderAction, params: {} },
    });
    await h.waitFor(holder, (s) => s.phase === 'Executing', 30_000, 'holder executing');
    const busyFp = uniqueName('fp');
    const busy = await h.start({
      ...h.request({ fingerprint: busyFp, namespace, action: quick, pipeline: 'x' }),
      action: { id: quick, params: {} },
    });
    await h.waitFor(busy, (s) => s.blockReason === 'ResourceBusy', 30_000, 'ResourceBusy');
    await h.client.resolve(busy, 'healed by itself');
    expect(await h.result(busy)).toMatchObject({
      phase: 'Skipped',
      reason: 'AlreadyResolved',
      pipelineRuns: [],
    });
    expect(
      (await h.ledger.getTarget(targetKey({ namespace, kind: 'Deployment', name: 'api' }))).waiters,
    ).toEqual([]);
    await h.client.cancel(holder);
    await h.result(holder);
  });

  it('S25: the effective, ineffective and already-resolved histories replay against the current workflow code', async () => {
    expect(Object.keys(histories).sort()).toEqual([
      'already-resolved',
      'verified-effective',
      'verified-ineffective',
    ]);
    for (const [name, id] of Object.entries(histories)) await h.replayAndMaybeRecord(name, id);
  });
});
