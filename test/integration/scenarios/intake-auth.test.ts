/**
 * S34 — the Alertmanager intake authenticates and bounds what it accepts, on the real stack: a
 * webhook without the bearer token (or with a wrong one) is answered 401 and starts no workflow
 * (checked on Temporal: describe by the deterministic workflow id, and visibility by
 * fingerprint); with the token it starts one. Also over TLS, with the alerts-per-payload cap, the
 * /metrics counters, and the real entrypoint (`src/intake/main.ts`): it refuses to start without a
 * token file, warns loudly when running unauthenticated, and serves HTTPS with the token.
 *
 * Only "started or not" is asserted: whether the remediation then runs is the worker's business.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { AlertmanagerPayload } from '../../../src/intake/alertmanager';
import { remediationIdFor } from '../../../src/intake/mapper';
import { parseRoutingConfig } from '../../../src/intake/routing-config';
import { createIntakeServer, type IntakeServer, type IntakeServerOptions } from '../../../src/intake/server';
import { loadIntakeServerSettings } from '../../../src/intake/settings';
import { remediationWorkflowId } from '../../../src/temporal-contract';
import { fixture, requestText, selfSignedCert, type HttpTextReply } from '../../unit/intake/support';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const ROUTE = 'crashloop-restart';
const repoRoot = join(__dirname, '../../..');
const harness = new RemediationHarness();
let dir: string;
let tokenFile: string;
let token: string;
let certFile: string;
let keyFile: string;
let cert: string;
let routesFile: string;
let routesConfig: unknown;
const servers: IntakeServer[] = [];

beforeAll(async () => {
  await harness.open();
  await harness.startWorker();
  const pipeline = await harness.definePipeline('succeed');
  dir = mkdtempSync(join(tmpdir(), 'intake-auth-'));
  token = uniqueName('token');
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`); // as `kubectl create secret --from-file` leaves it
  const pem = selfSignedCert();
  cert = pem.cert;
  certFile = join(dir, 'tls.crt');
  keyFile = join(dir, 'tls.key');
  writeFileSync(certFile, pem.cert);
  writeFileSync(keyFile, pem.key);
  routesConfig = {
    routes: [
      {
        name: ROUTE,
        match: { alertname: 'KubePodCrashLooping' },
        action: { id: 'restart-deployment', pipeline, params: { deployment: '{{ labels.deployment }}' } },
        target: { kind: 'Deployment', name: '{{ labels.deployment }}', namespace: '{{ labels.namespace }}' },
      },
    ],
  };
  routesFile = join(dir, 'routes.json');
  writeFileSync(routesFile, JSON.stringify(routesConfig));
});

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await harness.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An in-process intake configured from the environment, as main.ts does, starting on this file's worker. */
async function serve(
  env: NodeJS.ProcessEnv,
  options: Partial<IntakeServerOptions> = {},
): Promise<{ intake: IntakeServer; url: string; base: string }> {
  const s = loadIntakeServerSettings(env);
  const intake = createIntakeServer({
    routes: parseRoutingConfig(routesConfig).routes,
    // As the intake's main.ts: the remediation admits its action itself.
    start: (input) => harness.client.start(input, { checkAction: false }),
    auth: s.auth,
    tls: s.tls,
    maxAlerts: s.maxAlerts,
    headersTimeoutMs: s.headersTimeoutMs,
    requestTimeoutMs: s.requestTimeoutMs,
    maxConnections: s.maxConnections,
    ...options,
  });
  servers.push(intake);
  const { port } = await intake.listen(0, '127.0.0.1');
  const base = `${intake.protocol}://127.0.0.1:${port}`;
  return { intake, base, url: `${base}/api/v1/alerts/alertmanager` };
}

interface Sent {
  body: string;
  fingerprints: string[];
  /** The remediation id each alert maps to (deterministic: fingerprint, startsAt, route). */
  ids: string[];
}

/** The crash-loop fixture with `alerts` fresh alerts (new fingerprints and firing time), so nothing collides. */
function payload(alerts = 1): Sent {
  const body = fixture('firing-crashloop') as AlertmanagerPayload;
  const template = body.alerts[0]!;
  const startsAt = new Date().toISOString();
  body.alerts = Array.from({ length: alerts }, () => ({
    ...template,
    labels: { ...template.labels, namespace: uniqueName('ns') },
    fingerprint: uniqueName('fp'),
    startsAt,
  }));
  const fingerprints = body.alerts.map((a) => a.fingerprint!);
  return {
    body: JSON.stringify(body),
    fingerprints,
    ids: fingerprints.map((fp) => remediationIdFor(fp, startsAt, ROUTE)),
  };
}

function post(url: string, sent: Sent, authorization?: string): Promise<HttpTextReply> {
  return requestText(url, {
    headers: {
      'Content-Type': 'application/json',
      ...(authorization === undefined ? {} : { Authorization: authorization }),
    },
    body: sent.body,
    ca: cert,
  });
}

/** Whether Temporal has a workflow with this remediation id (describe is strongly consistent). */
async function workflowExists(id: string): Promise<boolean> {
  try {
    await harness.client.client.workflow.getHandle(remediationWorkflowId(id)).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** Visibility by fingerprint, polled until it shows `count` remediations (it lags a little). */
async function listedByFingerprint(fingerprint: string, count: number): Promise<string[]> {
  const until = Date.now() + 15_000;
  let ids: string[] = [];
  while (Date.now() < until) {
    ids = (await harness.client.list({ fingerprint })).map((r) => r.id);
    if (ids.length >= count) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
  return ids;
}

function resultsOf(reply: HttpTextReply): { outcome: string; remediationId: string }[] {
  return (JSON.parse(reply.text) as { results: { outcome: string; remediationId: string }[] }).results;
}

describe('S34: the intake authenticates and bounds webhooks', () => {
  it('S34: without the token → 401 and no workflow; a wrong token → 401 and no workflow; with it → started (once)', async () => {
    const { url } = await serve({ INTAKE_BEARER_TOKEN_FILE: tokenFile });
    const sent = payload();
    const [id] = sent.ids;

    const missing = await post(url, sent);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="remediation-intake"');
    expect(JSON.parse(missing.text)).toEqual({ error: expect.stringContaining('missing bearer token') });
    expect(await workflowExists(id!)).toBe(false);

    for (const wrong of [`Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, token]) {
      const reply = await post(url, sent, wrong);
      expect({ wrong, status: reply.status }).toEqual({ wrong, status: 401 });
      expect(reply.headers['www-authenticate']).toMatch(/^Bearer realm="remediation-intake"/);
    }
    expect(await workflowExists(id!)).toBe(false);

    const accepted = await post(url, sent, `Bearer ${token}`);
    expect(accepted.status).toBe(200);
    // `started`, not `duplicate`: none of the refused deliveries of this same alert started it.
    expect(resultsOf(accepted)).toEqual([expect.objectContaining({ outcome: 'started', remediationId: id })]);
    expect(await workflowExists(id!)).toBe(true);
    expect(await listedByFingerprint(sent.fingerprints[0]!, 1)).toEqual([id]);
  });

  it('S34: over TLS the token is still required, and with it the alert is started', async () => {
    const { url } = await serve({
      INTAKE_BEARER_TOKEN_FILE: tokenFile,
      INTAKE_TLS_CERT_FILE: certFile,
      INTAKE_TLS_KEY_FILE: keyFile,
    });
    expect(url).toMatch(/^https:\/\//);
    const sent = payload();
    expect((await post(url, sent)).status).toBe(401);
    expect(await workflowExists(sent.ids[0]!)).toBe(false);
    const accepted = await post(url, sent, `Bearer ${token}`);
    expect(accepted.status).toBe(200);
    expect(resultsOf(accepted)).toEqual([expect.objectContaining({ outcome: 'started' })]);
    expect(await workflowExists(sent.ids[0]!)).toBe(true);
    // A client that does not trust the certificate never gets to send anything.
    await expect(
      requestText(url, { headers: { Authorization: `Bearer ${token}` }, body: payload().body }),
    ).rejects.toThrow(/self[- ]signed/i);
  });

  it('S34: a payload over INTAKE_MAX_ALERTS → 413 naming the limit, and none of its alerts is started', async () => {
    const { url } = await serve({ INTAKE_BEARER_TOKEN_FILE: tokenFile, INTAKE_MAX_ALERTS: '2' });
    const tooMany = payload(3);
    const refused = await post(url, tooMany, `Bearer ${token}`);
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.text)).toMatchObject({
      maxAlerts: 2,
      alerts: 3,
      error: expect.stringContaining('INTAKE_MAX_ALERTS'),
    });
    for (const id of tooMany.ids) expect(await workflowExists(id)).toBe(false);

    const atLimit = payload(2);
    const accepted = await post(url, atLimit, `Bearer ${token}`);
    expect(accepted.status).toBe(200);
    expect(resultsOf(accepted).map((r) => r.outcome)).toEqual(['started', 'started']);
    for (const id of atLimit.ids) expect(await workflowExists(id)).toBe(true);
  });

  it('S34: /metrics (open, no token) counts auth failures, rejections, alerts and starts', async () => {
    const { url, base } = await serve({ INTAKE_BEARER_TOKEN_FILE: tokenFile, INTAKE_MAX_ALERTS: '2' });
    const scrape = async (): Promise<(series: string) => number> => {
      const reply = await requestText(`${base}/metrics`, { method: 'GET' });
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      const values = new Map(
        reply.text
          .split('\n')
          .filter((l) => l && !l.startsWith('#'))
          .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
      );
      return (series) => values.get(series) ?? 0;
    };
    const before = await scrape();
    await post(url, payload()); // missing
    await post(url, payload(), 'Bearer nope'); // invalid
    await post(url, payload(3), `Bearer ${token}`); // too many alerts
    await post(url, payload(2), `Bearer ${token}`); // 2 firing, 2 started
    const after = await scrape();
    const delta = (series: string) => after(series) - before(series);
    expect({
      missing: delta('remediation_intake_auth_failures_total{reason="missing"}'),
      invalid: delta('remediation_intake_auth_failures_total{reason="invalid"}'),
      tooMany: delta('remediation_intake_payload_rejections_total{reason="too_many_alerts"}'),
      firing: delta('remediation_intake_alerts_received_total{status="firing"}'),
      started: delta('remediation_intake_remediations_started_total'),
      unauthorized: delta('remediation_intake_requests_total{handler="alertmanager",code="401"}'),
      tooLarge: delta('remediation_intake_requests_total{handler="alertmanager",code="413"}'),
      ok: delta('remediation_intake_requests_total{handler="alertmanager",code="200"}'),
    }).toEqual({
      missing: 1,
      invalid: 1,
      tooMany: 1,
      firing: 2,
      started: 2,
      unauthorized: 2,
      tooLarge: 1,
      ok: 1,
    });
  });
});

// ------------------------------------------------------------------ the real entrypoint

interface IntakeProcess {
  child: ChildProcess;
  /** JSON log lines so far (stdout and stderr). */
  lines: Record<string, unknown>[];
  output: () => string;
  exited: Promise<number | null>;
}

/** `node --import tsx src/intake/main.ts` with only the given INTAKE_* settings, on this file's worker. */
function runMain(env: Record<string, string>): IntakeProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(INTAKE_|TEMPORAL_|REMEDIATION_)/.test(k)),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/intake/main.ts'], {
    cwd: repoRoot,
    env: {
      ...inherited,
      TEMPORAL_ADDRESS: harness.info.temporal.address,
      TEMPORAL_NAMESPACE: harness.info.temporal.namespace,
      REMEDIATION_TASK_QUEUE: harness.taskQueue,
      INTAKE_ROUTES: routesFile,
      INTAKE_HOST: '127.0.0.1',
      INTAKE_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const lines: Record<string, unknown>[] = [];
  const collect = (chunk: Buffer): void => {
    text += chunk.toString();
    for (const line of chunk.toString().split('\n')) {
      try {
        const parsed: unknown = JSON.parse(line);
        if (parsed && typeof parsed === 'object') lines.push(parsed as Record<string, unknown>);
      } catch {
        // not a JSON log line
      }
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, output: () => text, exited };
}

async function listening(p: IntakeProcess, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const line = p.lines.find((l) => l['msg'] === 'intake listening');
    if (line) return line;
    if (p.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the intake did not come up:\n${p.output()}`);
}

/** The `msg` of every error line: a refused start is one JSON line like any other. */
function errors(p: IntakeProcess): string {
  return p.lines
    .filter((l) => l['level'] === 'error' && l['logger'] === 'intake')
    .map((l) => String(l['msg']))
    .join('\n');
}

async function stop(p: IntakeProcess): Promise<void> {
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await p.exited;
}

describe('S34: the intake process (src/intake/main.ts)', () => {
  it('S34: without INTAKE_BEARER_TOKEN_FILE it refuses to start, naming the variable', async () => {
    const p = runMain({});
    expect(await p.exited).toBe(1);
    expect(errors(p)).toMatch(/INTAKE_BEARER_TOKEN_FILE: is required/);
    expect(errors(p)).toContain('INTAKE_ALLOW_UNAUTHENTICATED=true');
    expect(p.lines.find((l) => l['msg'] === 'intake listening')).toBeUndefined();
  });

  it.each([
    [
      { INTAKE_BEARER_TOKEN_FILE: '/nonexistent/token' },
      /INTAKE_BEARER_TOKEN_FILE: cannot read "\/nonexistent\/token"/,
    ],
    [{ INTAKE_ALLOW_UNAUTHENTICATED: 'yes' }, /INTAKE_ALLOW_UNAUTHENTICATED: must be "true" or "false"/],
    [
      { INTAKE_ALLOW_UNAUTHENTICATED: 'true', LOG_LEVEL: 'loud' },
      /LOG_LEVEL: must be one of debug, info, warn, error \(got "loud"\)/,
    ],
  ])('S34: a bad setting %p refuses to start, naming the variable', async (env, message) => {
    const p = runMain(env);
    expect(await p.exited).toBe(1);
    expect(errors(p)).toMatch(message);
  });

  it('S34: an empty token file or a TLS certificate without its key refuses to start, naming the variable', async () => {
    const empty = join(dir, 'empty-token');
    writeFileSync(empty, '\n');
    const a = runMain({ INTAKE_BEARER_TOKEN_FILE: empty });
    const b = runMain({ INTAKE_BEARER_TOKEN_FILE: tokenFile, INTAKE_TLS_CERT_FILE: certFile });
    expect(await a.exited).toBe(1);
    expect(errors(a)).toMatch(/INTAKE_BEARER_TOKEN_FILE: ".*empty-token" is empty/);
    expect(await b.exited).toBe(1);
    expect(errors(b)).toMatch(/INTAKE_TLS_KEY_FILE: is required when INTAKE_TLS_CERT_FILE is set/);
  });

  it('S34: with INTAKE_ALLOW_UNAUTHENTICATED=true it starts, with a loud warning, and takes alerts without a token', async () => {
    const p = runMain({ INTAKE_ALLOW_UNAUTHENTICATED: 'true' });
    try {
      const up = await listening(p);
      expect(p.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          logger: 'intake',
          msg: expect.stringMatching(/^UNAUTHENTICATED INTAKE: .*ANYONE/),
        }),
      );
      expect(up).toMatchObject({ auth: 'NONE (INTAKE_ALLOW_UNAUTHENTICATED=true)', tls: false });
      const sent = payload();
      const reply = await post(String(up['url']), sent);
      expect(reply.status).toBe(200);
      expect(await workflowExists(sent.ids[0]!)).toBe(true);
    } finally {
      await stop(p);
    }
  });

  it('S34: with a token file and TLS it serves HTTPS: 401 without the token, started with it, /metrics open', async () => {
    const p = runMain({
      INTAKE_BEARER_TOKEN_FILE: tokenFile,
      INTAKE_TLS_CERT_FILE: certFile,
      INTAKE_TLS_KEY_FILE: keyFile,
      INTAKE_MAX_ALERTS: '5',
    });
    try {
      const up = await listening(p);
      expect(up).toMatchObject({ auth: 'bearer token', tls: { certFile }, limits: { maxAlerts: 5 } });
      const url = String(up['url']);
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/api\/v1\/alerts\/alertmanager$/);
      const sent = payload();
      expect((await post(url, sent)).status).toBe(401);
      expect(await workflowExists(sent.ids[0]!)).toBe(false);
      const accepted = await post(url, sent, `Bearer ${token}`);
      expect(accepted.status).toBe(200);
      expect(resultsOf(accepted)).toEqual([expect.objectContaining({ outcome: 'started' })]);
      expect(await workflowExists(sent.ids[0]!)).toBe(true);
      const metrics = await requestText(url.replace(/\/api\/.*$/, '/metrics'), { method: 'GET', ca: cert });
      expect(metrics.text).toContain('remediation_intake_auth_failures_total{reason="missing"} 1');
      expect(metrics.text).toContain('remediation_intake_remediations_started_total 1');
    } finally {
      await stop(p);
    }
    expect(await p.exited).toBe(0);
  });
});
