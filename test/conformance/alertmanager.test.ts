/**
 * Alertmanager in the loop: alerts are posted to a real Alertmanager v0.29.0 the way Prometheus
 * posts them (kube-prometheus label sets, startsAt, endsAt renewed in the future, re-posted every
 * second); Alertmanager groups, routes, repeats and resolves them and sends its webhooks over HTTP
 * to the intake's real entrypoint (`dist/intake/main.js`) with the bearer token from
 * `credentials_file`. The real worker runs each remediation on its own Temporal dev server, and real
 * Tekton runs the PipelineRuns on the conformance stack. No webhook payload is written by hand here.
 *
 * What started is counted where an operator would look: workflows through `temporal workflow
 * count` (visibility, by the SignalFingerprint Alertmanager computed), PipelineRuns through the API
 * server (by the product's fingerprint annotation).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { alertmanagerConfig, startAlertmanager, type Alertmanager } from '../../src/dev/stack/alertmanager';
import { provisionConformance } from '../../src/dev/stack/conformance';
import { freePort } from '../../src/dev/stack/proc';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/stack/temporal';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural } from '../../src/domain/tekton';
import { remediationIdFromWorkflowId, type RemediationStatus } from '../../src/temporal-contract';
import { RemediationHarness, uniqueName } from '../integration/support/remediation-harness';
import buildIfStale from '../support/build-if-stale';
import {
  PrometheusSender,
  alertmanagerFingerprint,
  countWorkflows,
  metricValue,
  pipelineRunsOfFingerprint,
  scrape,
  startIntake,
  type IntakeProcess,
  type TemporalTarget,
} from './support/alertmanager-loop';
import { conformanceStack } from './stack-env';

const stack = conformanceStack();
const suffix = uniqueName('am').slice(3);
const plainAction = `am-restart-deployment-${suffix}`;
const verifiedAction = `am-restart-statefulset-${suffix}`;
const approvedAction = `am-delete-job-${suffix}`;
const pipeline = `am-restart-${suffix}`;
/** Short enough to see several repeats within a test; group_wait/group_interval as the stack's. */
const REPEAT_INTERVAL = '4s';

let dir: string;
let temporal: TemporalDevServer;
let visibility: TemporalTarget;
let h: RemediationHarness;
let intake: IntakeProcess;
let am: Alertmanager;
let prom: PrometheusSender;
let tokenFile: string;
let baseConfig: string;

beforeAll(async () => {
  buildIfStale(); // the intake runs from dist/, as the image runs it
  dir = mkdtempSync(join(tmpdir(), 'conformance-alertmanager-'));
  const tools = await provisionConformance();
  temporal = await startTemporalDevServer({
    cli: tools.temporal.path,
    dbFile: join(dir, 'temporal.db'),
    port: await freePort(),
    headless: true,
    logFile: join(dir, 'temporal.log'),
  });
  visibility = { cli: temporal.cli, address: temporal.address, namespace: temporal.namespace };
  h = new RemediationHarness({
    ...stack,
    temporal: { address: temporal.address, namespace: temporal.namespace, uiUrl: '', cli: temporal.cli },
  });
  await h.open();
  // As in production: catalogued actions only. A short RecentlyRemediated window lets a new firing
  // after a resolve run at once (the default 5m would only delay it).
  await h.startWorker({ allowUncataloguedActions: false, recentlyRemediatedCooldown: '1s' });

  await h.kube.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: TEKTON_GROUP,
    version: TEKTON_VERSION,
    namespace: stack.executionNamespace,
    plural: TektonPlural.Pipeline,
    body: {
      apiVersion: 'tekton.dev/v1',
      kind: 'Pipeline',
      metadata: { name: pipeline },
      spec: {
        params: [
          { name: 'namespace', type: 'string' },
          { name: 'name', type: 'string' },
        ],
        tasks: [
          {
            name: 'restart',
            params: [
              { name: 'namespace', value: '$(params.namespace)' },
              { name: 'name', value: '$(params.name)' },
            ],
            taskSpec: {
              params: [
                { name: 'namespace', type: 'string' },
                { name: 'name', type: 'string' },
              ],
              steps: [
                {
                  name: 'rollout-restart',
                  image: 'registry.example.com/remediation/kubectl:1.31',
                  command: ['kubectl'],
                  args: ['-n', '$(params.namespace)', 'rollout', 'restart', '$(params.name)'],
                },
              ],
            },
          },
        ],
      },
    },
  });
  const targetParams = { namespace: '{{ target.namespace }}', name: '{{ target.name }}' };
  await h.defineAction(plainAction, { pipeline, targetParams, targets: { kinds: ['Deployment'] } });
  await h.defineAction(verifiedAction, {
    pipeline,
    targetParams,
    targets: { kinds: ['StatefulSet'] },
    verification: { window: '2m' },
  });
  await h.defineAction(approvedAction, {
    pipeline,
    targetParams,
    targets: { kinds: ['Job'] },
    approval: { required: true },
  });

  // The shipped kube-prometheus routes' shape (deploy/intake-routes.yaml), with this file's actions.
  const routesFile = join(dir, 'intake-routes.yaml');
  writeFileSync(
    routesFile,
    stringify({
      routes: [
        {
          name: 'replicas-mismatch-restart',
          match: { alertname: 'KubeDeploymentReplicasMismatch' },
          action: { id: plainAction },
          target: {
            kind: 'Deployment',
            name: '{{ labels.deployment }}',
            namespace: '{{ labels.namespace }}',
          },
        },
        {
          name: 'job-failed-delete',
          match: { alertname: 'KubeJobFailed' },
          action: { id: approvedAction },
          deadline: '4h',
          target: { kind: 'Job', name: '{{ labels.job_name }}', namespace: '{{ labels.namespace }}' },
        },
        {
          name: 'statefulset-replicas-mismatch-restart',
          match: { alertname: 'KubeStatefulSetReplicasMismatch' },
          action: { id: verifiedAction },
          target: {
            kind: 'StatefulSet',
            name: '{{ labels.statefulset }}',
            namespace: '{{ labels.namespace }}',
          },
        },
      ],
    }),
  );
  tokenFile = join(dir, 'intake-token');
  writeFileSync(tokenFile, `${uniqueName('token')}\n`, { mode: 0o600 }); // as a mounted Secret key
  intake = await startIntake({
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    REMEDIATION_TASK_QUEUE: h.taskQueue,
    INTAKE_ROUTES: routesFile,
    INTAKE_BEARER_TOKEN_FILE: tokenFile,
  });

  baseConfig = alertmanagerConfig({
    receivers: [{ name: 'remediation-intake', url: webhookUrl(), credentialsFile: tokenFile }],
    repeatInterval: REPEAT_INTERVAL,
  });
  am = await startAlertmanager({
    path: tools.alertmanager.path,
    config: baseConfig,
    configFile: join(dir, 'alertmanager.yml'),
    storageDir: join(dir, 'alertmanager'),
    port: await freePort(),
    logFile: join(dir, 'alertmanager.log'),
  });
  prom = new PrometheusSender(am.url);
}, 300_000);

afterAll(async () => {
  await prom?.stop();
  await am?.stop();
  await intake?.stop();
  await h?.close();
  await temporal?.stop();
  if (process.env.REMEDIATION_KEEP_STACK !== '1') rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`[alertmanager] logs kept in ${dir}\n`);
});

afterEach(() => {
  // Alertmanager answered every post of the Prometheus-like sender.
  expect(prom.failures).toEqual([]);
});

function webhookUrl(): string {
  return `${intake.url}/api/v1/alerts/alertmanager`;
}

/** The label set kube-prometheus' `KubeDeploymentReplicasMismatch` carries (see docs/intake-routes.md). */
function deploymentAlert(namespace: string, deployment: string): Record<string, string> {
  return {
    alertname: 'KubeDeploymentReplicasMismatch',
    container: 'kube-rbac-proxy-main',
    deployment,
    instance: '10.2.0.15:8443',
    job: 'kube-state-metrics',
    namespace,
    prometheus: 'monitoring/k8s',
    severity: 'warning',
  };
}

function statefulSetAlert(namespace: string, statefulset: string): Record<string, string> {
  const { deployment: _deployment, ...labels } = deploymentAlert(namespace, '');
  return { ...labels, alertname: 'KubeStatefulSetReplicasMismatch', statefulset };
}

/** The remediations visibility holds for a fingerprint, oldest first. */
async function remediationsOf(fingerprint: string): Promise<string[]> {
  const ids: { id: string; start: number }[] = [];
  for await (const w of h.client.client.workflow.list({ query: `SignalFingerprint = '${fingerprint}'` }))
    ids.push({ id: remediationIdFromWorkflowId(w.workflowId), start: w.startTime.getTime() });
  return ids.sort((a, b) => a.start - b.start).map((w) => w.id);
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The n-th remediation of a fingerprint, once Alertmanager's notification has started it. */
function nthRemediation(fingerprint: string, n: number): Promise<string> {
  return until(async () => (await remediationsOf(fingerprint))[n - 1], `remediation ${n} of ${fingerprint}`);
}

const summary = (line: Record<string, unknown>) => ({
  started: line.started,
  duplicate: line.duplicate,
  resolved: line.resolved,
  ignored: line.ignored,
  error: line.error,
});

describe('Alertmanager → intake → remediation, on the conformance stack', () => {
  it('S3: one firing alert → exactly one remediation and one PipelineRun across Alertmanager repeats and Prometheus re-posts', async () => {
    const namespace = uniqueName('am-shop');
    const labels = deploymentAlert(namespace, 'checkout');
    await prom.fire(labels);
    const fingerprint = await alertmanagerFingerprint(am.url, labels);
    const id = await nthRemediation(fingerprint, 1);
    const done = await h.result(id);
    expect(done).toMatchObject({
      phase: 'Completed',
      reason: 'Succeeded',
      target: `${namespace}/Deployment/checkout`,
      verification: null, // the action has no verification window
    });

    // Still firing and re-posted every second: Alertmanager repeats the group every repeat_interval.
    // Wait for two repeats after the run, each answered `duplicate`.
    const groupKey = `namespace="${namespace}"`;
    const repeats = await until(async () => {
      const lines = intake.notifications(groupKey);
      return lines.length >= 3 ? lines : undefined;
    }, 'two repeated notifications');
    expect(repeats.map(summary)).toEqual([
      { started: 1, duplicate: 0, resolved: 0, ignored: 0, error: 0 },
      ...repeats.slice(1).map(() => ({ started: 0, duplicate: 1, resolved: 0, ignored: 0, error: 0 })),
    ]);
    expect(await countWorkflows(visibility, `SignalFingerprint = '${fingerprint}'`)).toBe(1);
    const runs = await pipelineRunsOfFingerprint(
      h.kube,
      stack.executionNamespace,
      `${namespace}/${fingerprint}`,
    );
    expect(runs.map((r) => r.metadata.name)).toEqual(done.pipelineRuns);
    expect(runs).toHaveLength(1);

    // Without verification a resolved notification has nobody to tell.
    await prom.resolve(labels);
    const last = await until(async () => {
      const lines = intake.notifications(groupKey);
      return lines.at(-1)?.resolved === 0 && lines.at(-1)?.ignored === 1 ? lines.at(-1) : undefined;
    }, 'the resolved notification');
    expect(summary(last)).toEqual({ started: 0, duplicate: 0, resolved: 0, ignored: 1, error: 0 });
  });

  it('S35: the resolved notification ends a verified remediation Completed, Effective; a new firing after the resolve is a new remediation', async () => {
    const namespace = uniqueName('am-db');
    const labels = statefulSetAlert(namespace, 'postgres');
    const verifying = (s: RemediationStatus) => s.phase === 'Verifying';

    const [first] = await prom.fire(labels);
    const fingerprint = await alertmanagerFingerprint(am.url, labels);
    const id1 = await nthRemediation(fingerprint, 1);
    await h.waitFor(id1, verifying, 60_000, 'Verifying');
    // Alertmanager repeats the still-firing alert meanwhile: the same firing, not a new one, so
    // it leaves the verification alone.
    await until(
      async () =>
        intake.notifications(`namespace="${namespace}"`).some((l) => l.duplicate === 1) ? true : undefined,
      'a repeat while Verifying',
    );
    expect(await h.client.status(id1)).toMatchObject({ phase: 'Verifying', duplicates: 0 });
    await prom.resolve(labels);
    expect(await h.result(id1)).toMatchObject({
      phase: 'Completed',
      reason: 'Succeeded',
      verification: 'Effective',
      target: `${namespace}/StatefulSet/postgres`,
    });

    // Fires again: Prometheus sends a new startsAt, Alertmanager a new firing of the same fingerprint.
    const [second] = await prom.fire(labels);
    expect(second!.startsAt).not.toBe(first!.startsAt);
    expect(await alertmanagerFingerprint(am.url, labels)).toBe(fingerprint);
    const id2 = await nthRemediation(fingerprint, 2);
    expect(id2).not.toBe(id1);
    const during = await h.waitFor(id2, verifying, 60_000, 'Verifying');
    expect(during.duplicateOf).toBeNull();
    await prom.resolve(labels);
    expect(await h.result(id2)).toMatchObject({ phase: 'Completed', verification: 'Effective' });

    expect(await countWorkflows(visibility, `SignalFingerprint = '${fingerprint}'`)).toBe(2);
    const runs = await pipelineRunsOfFingerprint(
      h.kube,
      stack.executionNamespace,
      `${namespace}/${fingerprint}`,
    );
    expect(runs).toHaveLength(2);
    expect(intake.notifications(`namespace="${namespace}"`).map(summary)).toEqual(
      expect.arrayContaining([
        { started: 0, duplicate: 0, resolved: 1, ignored: 0, error: 0 },
        { started: 1, duplicate: 0, resolved: 0, ignored: 0, error: 0 },
      ]),
    );
  });

  it('S35: a remediation awaiting approval when Alertmanager resolves its alert → Skipped AlreadyResolved, nothing ran', async () => {
    const namespace = uniqueName('am-batch');
    const labels = {
      alertname: 'KubeJobFailed',
      condition: 'true',
      container: 'kube-rbac-proxy-main',
      instance: '10.2.0.15:8443',
      job: 'kube-state-metrics',
      job_name: 'nightly-report-29012345',
      namespace,
      prometheus: 'monitoring/k8s',
      severity: 'warning',
    };
    await prom.fire(labels);
    const fingerprint = await alertmanagerFingerprint(am.url, labels);
    const id = await nthRemediation(fingerprint, 1);
    await h.waitFor(id, (s) => s.blockReason === 'AwaitingApproval', 60_000, 'AwaitingApproval');
    await prom.resolve(labels);
    expect(await h.result(id)).toMatchObject({
      phase: 'Skipped',
      reason: 'AlreadyResolved',
      pipelineRuns: [],
      target: `${namespace}/Job/nightly-report-29012345`,
    });
    expect(intake.notifications(`namespace="${namespace}"`).map(summary)).toEqual([
      { started: 1, duplicate: 0, resolved: 0, ignored: 0, error: 0 },
      ...intake
        .notifications(`namespace="${namespace}"`)
        .slice(1, -1)
        .map(() => ({ started: 0, duplicate: 1, resolved: 0, ignored: 0, error: 0 })),
      { started: 0, duplicate: 0, resolved: 1, ignored: 0, error: 0 },
    ]);
    expect(
      await pipelineRunsOfFingerprint(h.kube, stack.executionNamespace, `${namespace}/${fingerprint}`),
    ).toEqual([]);
  });

  it('flapping: resolved and firing again within one group_interval → no resolved notification; the new firing arrives with the next repeat as a new remediation', async () => {
    const namespace = uniqueName('am-flap');
    const labels = deploymentAlert(namespace, 'search');
    const groupKey = `namespace="${namespace}"`;
    await prom.fire(labels);
    const fingerprint = await alertmanagerFingerprint(am.url, labels);
    const id1 = await nthRemediation(fingerprint, 1);
    expect(await h.result(id1)).toMatchObject({ phase: 'Completed' });

    // Back to back, as a rule that clears for one evaluation: Alertmanager's next flush sees the
    // same alert (same fingerprint) firing, so nothing changed for the group but its startsAt.
    await prom.flap(labels);
    const id2 = await nthRemediation(fingerprint, 2);
    expect(await h.result(id2)).toMatchObject({ phase: 'Completed' });

    const lines = intake.notifications(groupKey);
    const startedIt = lines.findIndex((l, i) => i > 0 && l.started === 1);
    expect(lines.slice(0, startedIt + 1).map(summary)).toEqual([
      { started: 1, duplicate: 0, resolved: 0, ignored: 0, error: 0 },
      // Repeats of the first firing, if the flap came later than one repeat_interval.
      ...lines
        .slice(1, startedIt)
        .map(() => ({ started: 0, duplicate: 1, resolved: 0, ignored: 0, error: 0 })),
      { started: 1, duplicate: 0, resolved: 0, ignored: 0, error: 0 },
    ]);
    // Delivered as a repeat: at least repeat_interval after the group's previous notification.
    const gap = Date.parse(String(lines[startedIt]!.time)) - Date.parse(String(lines[startedIt - 1]!.time));
    expect(gap).toBeGreaterThanOrEqual(3_500);
    expect(await countWorkflows(visibility, `SignalFingerprint = '${fingerprint}'`)).toBe(2);
    await prom.resolve(labels);
  });

  it('grouping: two alerts for different targets in one group notification → two remediations', async () => {
    const namespace = uniqueName('am-web');
    const api = deploymentAlert(namespace, 'api');
    const web = deploymentAlert(namespace, 'web');
    await prom.fire(api, web); // one evaluation, one post, as Prometheus sends a rule's alerts
    const fingerprints = [
      await alertmanagerFingerprint(am.url, api),
      await alertmanagerFingerprint(am.url, web),
    ];
    const ids = await Promise.all(fingerprints.map((fp) => nthRemediation(fp, 1)));
    const finals = await Promise.all(ids.map((id) => h.result(id)));
    expect(finals.map((s) => [s.phase, s.target])).toEqual([
      ['Completed', `${namespace}/Deployment/api`],
      ['Completed', `${namespace}/Deployment/web`],
    ]);
    // One notification for the group (alertname, namespace) carried both alerts.
    const [notification] = intake.notifications(`namespace="${namespace}"`);
    expect(notification).toMatchObject({
      groupKey: `{}:{alertname="KubeDeploymentReplicasMismatch", namespace="${namespace}"}`,
      started: 2,
    });
    for (const fp of fingerprints) {
      expect(await countWorkflows(visibility, `SignalFingerprint = '${fp}'`)).toBe(1);
      expect(
        await pipelineRunsOfFingerprint(h.kube, stack.executionNamespace, `${namespace}/${fp}`),
      ).toHaveLength(1);
    }
    await prom.resolve(api, web);
  });

  it('S34: a receiver with a wrong token file, or with none → the intake answers 401, nothing starts, Alertmanager counts failed notifications', async () => {
    const wrongToken = join(dir, 'wrong-token');
    writeFileSync(wrongToken, `${uniqueName('not-the-token')}\n`, { mode: 0o600 });
    const wrongNs = uniqueName('am-wrong');
    const missingNs = uniqueName('am-missing');
    await am.reload(
      alertmanagerConfig({
        receivers: [
          { name: 'remediation-intake', url: webhookUrl(), credentialsFile: tokenFile },
          { name: 'remediation-intake-wrong-token', url: webhookUrl(), credentialsFile: wrongToken },
          { name: 'remediation-intake-no-token', url: webhookUrl() },
        ],
        routes: [
          { matchers: [`namespace="${wrongNs}"`], receiver: 'remediation-intake-wrong-token' },
          { matchers: [`namespace="${missingNs}"`], receiver: 'remediation-intake-no-token' },
        ],
        repeatInterval: REPEAT_INTERVAL,
      }),
    );
    try {
      const failed = { integration: 'webhook', reason: 'clientError' };
      const [amBefore, intakeBefore] = [await scrape(am.url), await scrape(intake.url)];
      const wrong = deploymentAlert(wrongNs, 'api');
      const missing = deploymentAlert(missingNs, 'api');
      await prom.fire(wrong, missing);

      await until(async () => {
        const [amNow, intakeNow] = [await scrape(am.url), await scrape(intake.url)];
        const rose = (text: string, before: string, name: string, labels: Record<string, string>) =>
          metricValue(text, name, labels) - metricValue(before, name, labels);
        return rose(intakeNow, intakeBefore, 'remediation_intake_auth_failures_total', {
          reason: 'invalid',
        }) >= 2 &&
          rose(intakeNow, intakeBefore, 'remediation_intake_auth_failures_total', { reason: 'missing' }) >=
            2 &&
          rose(amNow, amBefore, 'alertmanager_notifications_failed_total', failed) >= 4
          ? true
          : undefined;
      }, 'two refused deliveries of each receiver');
      const intakeAfter = await scrape(intake.url);
      expect(
        metricValue(intakeAfter, 'remediation_intake_requests_total', {
          handler: 'alertmanager',
          code: '401',
        }) -
          metricValue(intakeBefore, 'remediation_intake_requests_total', {
            handler: 'alertmanager',
            code: '401',
          }),
      ).toBeGreaterThanOrEqual(4);
      // Refused before the body was read: no notification of either group was processed.
      expect(intake.notifications(wrongNs)).toEqual([]);
      expect(intake.notifications(missingNs)).toEqual([]);
      for (const [ns, labels] of [
        [wrongNs, wrong],
        [missingNs, missing],
      ] as const) {
        const fp = await alertmanagerFingerprint(am.url, labels);
        expect(await countWorkflows(visibility, `SignalFingerprint = '${fp}'`)).toBe(0);
        expect(await pipelineRunsOfFingerprint(h.kube, stack.executionNamespace, `${ns}/${fp}`)).toEqual([]);
      }
      await prom.resolve(wrong, missing);
    } finally {
      await am.reload(baseConfig);
    }
  });
  it('the shipped receiver (deploy/alertmanager-receiver.yaml) loads in Alertmanager and delivers with its token file', async () => {
    const shipped = parse(
      readFileSync(join(__dirname, '../../deploy/alertmanager-receiver.yaml'), 'utf8'),
    ) as {
      route: { routes: Record<string, unknown>[] };
      receivers: { name: string; webhook_configs?: Record<string, unknown>[] }[];
    };
    // Only what differs on this host: the intake's address, the token file's path, and group
    // timings in seconds instead of minutes.
    const webhook = shipped.receivers.find((r) => r.name === 'remediation')!.webhook_configs![0]!;
    webhook.url = webhookUrl();
    (webhook.http_config as { authorization: { credentials_file: string } }).authorization.credentials_file =
      tokenFile;
    Object.assign(shipped.route.routes[0]!, {
      group_wait: '1s',
      group_interval: '2s',
      repeat_interval: REPEAT_INTERVAL,
    });
    await am.reload(stringify(shipped));
    try {
      const namespace = uniqueName('am-cart');
      const labels = deploymentAlert(namespace, 'cart');
      await prom.fire(labels);
      const id = await nthRemediation(await alertmanagerFingerprint(am.url, labels), 1);
      expect(await h.result(id)).toMatchObject({
        phase: 'Completed',
        target: `${namespace}/Deployment/cart`,
      });
      // Routed by the shipped child route and grouped by its group_by.
      const [notification] = intake.notifications(`namespace="${namespace}"`);
      expect(String(notification!.groupKey)).toMatch(
        new RegExp(
          `^\\{\\}/\\{alertname=~".*KubeDeploymentReplicasMismatch.*"\\}:\\{alertname="KubeDeploymentReplicasMismatch", namespace="${namespace}"\\}$`,
        ),
      );
      expect(summary(notification!)).toEqual({ started: 1, duplicate: 0, resolved: 0, ignored: 0, error: 0 });
      await prom.resolve(labels);
    } finally {
      await am.reload(baseConfig);
    }
  });
});
