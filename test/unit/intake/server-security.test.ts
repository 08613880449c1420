/**
 * The intake's authentication and bounds, on a real socket with a fake `start`: 401 before
 * anything is read or started, the open health and metrics endpoints, the alerts-per-payload cap,
 * HTTPS, Node's header timeout and connection cap, and the counters behind /metrics.
 */
import { connect, type Socket } from 'node:net';
import { createIntakeServer, type IntakeServer, type IntakeServerOptions } from '../../../src/intake/server';
import {
  TEST_TOKEN,
  authJson,
  fakeStart,
  fixture,
  fixtureRoutes,
  fixtureText,
  json,
  request,
  requestText,
  selfSignedCert,
} from './support';

const routes = fixtureRoutes();
const servers: IntakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(
  options: Partial<IntakeServerOptions> = {},
): Promise<{ intake: IntakeServer; base: string; start: ReturnType<typeof fakeStart> }> {
  const start = fakeStart();
  const intake = createIntakeServer({ routes, start, auth: { bearerToken: TEST_TOKEN }, ...options });
  servers.push(intake);
  const { port } = await intake.listen(0, '127.0.0.1');
  return { intake, base: `${intake.protocol}://127.0.0.1:${port}`, start };
}

describe('intake authentication', () => {
  it('when a webhook carries no token then 401 with the Bearer challenge, and nothing is started', async () => {
    const { base, start } = await serve();
    const reply = await requestText(`${base}/api/v1/alerts/alertmanager`, {
      headers: json,
      body: fixtureText('firing-crashloop'),
    });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe('Bearer realm="remediation-intake"');
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(reply.text)).toEqual({ error: 'missing bearer token (Authorization: Bearer …)' });
    expect(start.calls).toHaveLength(0);
  });

  it.each([
    ['a wrong token', `Bearer not-${TEST_TOKEN}`, 'invalid'],
    ['a prefix of the token', `Bearer ${TEST_TOKEN.slice(0, 5)}`, 'invalid'],
    ['basic auth', `Basic ${Buffer.from(`x:${TEST_TOKEN}`).toString('base64')}`, 'missing'],
    ['the bare token', TEST_TOKEN, 'missing'],
  ])('when a webhook carries %s then 401 and nothing is started', async (_what, authorization, reason) => {
    const { intake, base, start } = await serve();
    const reply = await requestText(`${base}/webhook`, {
      headers: { ...json, Authorization: authorization },
      body: fixtureText('firing-crashloop'),
    });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toMatch(/^Bearer realm="remediation-intake"/);
    expect(start.calls).toHaveLength(0);
    expect(intake.metrics.value('remediation_intake_auth_failures_total', { reason })).toBe(1);
  });

  it('when the token is missing then even a malformed or oversized request gets 401, not a hint about its body', async () => {
    const { base } = await serve({ maxBodyBytes: 1024 });
    expect((await request(`${base}/webhook`, { headers: json, body: '{' })).status).toBe(401);
    expect((await request(`${base}/webhook`, { headers: {}, body: 'x' })).status).toBe(401);
    expect((await request(`${base}/webhook`, { method: 'GET' })).status).toBe(401);
    expect((await request(`${base}/nope`, { method: 'GET' })).status).toBe(401);
    const big = await request(`${base}/webhook`, { headers: json, body: Buffer.alloc(4096, 0x20) });
    expect(big.status).toBe(401);
  });

  it('when the token is sent then the alert is started', async () => {
    const { base, start } = await serve();
    const reply = await request(`${base}/webhook`, {
      headers: authJson,
      body: fixtureText('firing-crashloop'),
    });
    expect(reply.status).toBe(200);
    expect(start.calls).toHaveLength(1);
  });

  it('when /healthz and /metrics are asked without a token then they answer (open by design)', async () => {
    const { base } = await serve();
    expect(await request(`${base}/healthz`, { method: 'GET' })).toEqual({
      status: 200,
      body: { status: 'ok' },
    });
    const metrics = await requestText(`${base}/metrics`, { method: 'GET' });
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.text).toContain('# TYPE remediation_intake_requests_total counter');
    expect((await request(`${base}/metrics`, { method: 'POST', body: '' })).status).toBe(405);
  });

  it('when the intake runs with allowUnauthenticated then webhooks need no token', async () => {
    const { base, start } = await serve({ auth: { allowUnauthenticated: true } });
    const reply = await request(`${base}/webhook`, { headers: json, body: fixtureText('firing-crashloop') });
    expect(reply.status).toBe(200);
    expect(start.calls).toHaveLength(1);
  });

  it('when no auth is given (a JavaScript caller) then the server refuses to be built', () => {
    expect(() =>
      createIntakeServer({ routes, start: fakeStart() } as unknown as IntakeServerOptions),
    ).toThrow(/auth is required/);
    expect(() =>
      createIntakeServer({ routes, start: fakeStart(), auth: { allowUnauthenticated: 'yes' } } as never),
    ).toThrow(/auth is required/);
  });
});

describe('intake bounds', () => {
  function payloadWith(alerts: number): string {
    const payload = fixture('firing-crashloop');
    const alert = payload.alerts[0]!;
    payload.alerts = Array.from({ length: alerts }, (_, i) => ({ ...alert, fingerprint: `fp-${i}` }));
    return JSON.stringify(payload);
  }

  it('when a payload holds more alerts than maxAlerts then 413 names the limit and nothing is started', async () => {
    const { intake, base, start } = await serve({ maxAlerts: 3 });
    const reply = await request(`${base}/webhook`, { headers: authJson, body: payloadWith(4) });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({
      maxAlerts: 3,
      alerts: 4,
      error: expect.stringContaining('INTAKE_MAX_ALERTS'),
    });
    expect(start.calls).toHaveLength(0);
    expect(
      intake.metrics.value('remediation_intake_payload_rejections_total', { reason: 'too_many_alerts' }),
    ).toBe(1);

    const atLimit = await request(`${base}/webhook`, { headers: authJson, body: payloadWith(3) });
    expect(atLimit.status).toBe(200);
    expect(start.calls).toHaveLength(3);
  });

  it('when the default cap applies then 1000 alerts pass and 1001 do not', async () => {
    const { base, start } = await serve({ maxBodyBytes: 8 * 1024 * 1024 });
    expect((await request(`${base}/webhook`, { headers: authJson, body: payloadWith(1001) })).status).toBe(
      413,
    );
    expect(start.calls).toHaveLength(0);
    expect((await request(`${base}/webhook`, { headers: authJson, body: payloadWith(1000) })).status).toBe(
      200,
    );
    // A thousand alerts planned and validated one by one: seconds on a loaded 2-core machine, which is
    // not what this test is about (the intake's speed is the bench's business).
  }, 60_000);

  it('when a client does not finish its headers within headersTimeoutMs then the connection is dropped with 408', async () => {
    const { base } = await serve({ headersTimeoutMs: 300, requestTimeoutMs: 1000 });
    const started = Date.now();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () => {
        socket.write('POST /webhook HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
      });
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('when more than maxConnections are open then the extra one is closed at once', async () => {
    const { intake, base } = await serve({ maxConnections: 2 });
    const port = Number(new URL(base).port);
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      });
    const held = [await open(), await open()];
    const extra = await open();
    const closed = await new Promise<boolean>((resolve) => {
      extra.on('close', () => resolve(true));
      extra.on('error', () => {});
      setTimeout(() => resolve(false), 2000);
    });
    expect(closed).toBe(true);
    expect(intake.server.maxConnections).toBe(2);
    for (const s of held) s.destroy();
  });

  it('sets Node\u2019s header and request timeouts on the server', async () => {
    const { intake } = await serve({ headersTimeoutMs: 1500, requestTimeoutMs: 4000 });
    expect(intake.server.headersTimeout).toBe(1500);
    expect(intake.server.requestTimeout).toBe(4000);
    const defaults = await serve();
    expect(defaults.intake.server.headersTimeout).toBe(10_000);
    expect(defaults.intake.server.requestTimeout).toBe(30_000);
    expect(defaults.intake.server.maxConnections).toBe(256);
  });
});

describe('intake over TLS', () => {
  const { cert, key } = selfSignedCert();

  it('when TLS is configured then it serves HTTPS, still requiring the token', async () => {
    const { base, start } = await serve({ tls: { cert, key } });
    expect(base).toMatch(/^https:/);
    const refused = await requestText(`${base}/webhook`, {
      headers: json,
      body: fixtureText('firing-crashloop'),
      ca: cert,
    });
    expect(refused.status).toBe(401);
    const accepted = await requestText(`${base}/webhook`, {
      headers: authJson,
      body: fixtureText('firing-crashloop'),
      ca: cert,
    });
    expect(accepted.status).toBe(200);
    expect(start.calls).toHaveLength(1);
  });

  it('when a client does not trust the certificate then the handshake fails', async () => {
    const { base } = await serve({ tls: { cert, key } });
    await expect(requestText(`${base}/healthz`, { method: 'GET' })).rejects.toThrow(/self[- ]signed/i);
  });

  it('when plain HTTP is sent to the TLS port then no request is served', async () => {
    const { base, start } = await serve({ tls: { cert, key } });
    const plain = base.replace(/^https:/, 'http:');
    const outcome = await request(`${plain}/webhook`, {
      headers: authJson,
      body: fixtureText('firing-crashloop'),
    }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(outcome).not.toBe(200);
    expect(start.calls).toHaveLength(0);
  });
});

describe('intake /metrics counters', () => {
  it('move with requests, alerts, starts, auth failures and rejections', async () => {
    const { base } = await serve({ maxAlerts: 10 });
    const scrape = async (): Promise<Map<string, number>> => {
      const { text } = await requestText(`${base}/metrics`, { method: 'GET' });
      return new Map(
        text
          .split('\n')
          .filter((l) => l && !l.startsWith('#'))
          .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
      );
    };
    const before = await scrape();
    await request(`${base}/webhook`, { headers: authJson, body: fixtureText('group-several') }); // 3 firing, 1 resolved, 2 started
    await request(`${base}/webhook`, { headers: authJson, body: fixtureText('group-several') }); // duplicates
    await request(`${base}/webhook`, { headers: json, body: '{}' });
    await request(`${base}/webhook`, { headers: { ...json, Authorization: 'Bearer nope' }, body: '{}' });
    await request(`${base}/webhook`, { headers: authJson, body: '{' });
    await request(`${base}/webhook`, { headers: authJson, body: '{"version":"4"}' });
    const after = await scrape();
    const delta = (series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);

    const group = fixture('group-several').alerts;
    const firing = group.filter((a) => a.status === 'firing').length;
    const resolved = group.filter((a) => a.status === 'resolved').length;
    expect({
      ok: delta('remediation_intake_requests_total{handler="alertmanager",code="200"}'),
      unauthorized: delta('remediation_intake_requests_total{handler="alertmanager",code="401"}'),
      badJson: delta('remediation_intake_requests_total{handler="alertmanager",code="400"}'),
      invalid: delta('remediation_intake_requests_total{handler="alertmanager",code="422"}'),
      scrapes: delta('remediation_intake_requests_total{handler="metrics",code="200"}'),
      firing: delta('remediation_intake_alerts_received_total{status="firing"}'),
      resolved: delta('remediation_intake_alerts_received_total{status="resolved"}'),
      started: delta('remediation_intake_remediations_started_total'),
      missing: delta('remediation_intake_auth_failures_total{reason="missing"}'),
      wrong: delta('remediation_intake_auth_failures_total{reason="invalid"}'),
      invalidJson: delta('remediation_intake_payload_rejections_total{reason="invalid_json"}'),
      invalidPayload: delta('remediation_intake_payload_rejections_total{reason="invalid_payload"}'),
    }).toEqual({
      ok: 2,
      unauthorized: 2,
      badJson: 1,
      invalid: 1,
      scrapes: 1,
      firing: 2 * firing,
      resolved: 2 * resolved,
      started: 2,
      missing: 1,
      wrong: 1,
      invalidJson: 1,
      invalidPayload: 1,
    });
  });
});
