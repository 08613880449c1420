import { connect } from 'node:net';
import { createIntakeServer, type IntakeServer } from '../../../src/intake/server';
import { TEST_TOKEN, authJson, fakeStart, fixture, fixtureRoutes, fixtureText, request } from './support';

const routes = fixtureRoutes();
let intake: IntakeServer;
let start: ReturnType<typeof fakeStart>;
let base: string;
const logged: unknown[][] = [];

beforeEach(async () => {
  start = fakeStart();
  intake = createIntakeServer({
    routes,
    start,
    auth: { bearerToken: TEST_TOKEN },
    maxBodyBytes: 64 * 1024,
    bodyTimeoutMs: 300,
    log: (...args) => logged.push(args),
  });
  const address = await intake.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${address.port}`;
});

afterEach(() => intake.close());

const hook = () => `${base}/api/v1/alerts/alertmanager`;

describe('intake server', () => {
  it('when /healthz is asked then it answers 200', async () => {
    expect(await request(`${base}/healthz`, { method: 'GET' })).toEqual({
      status: 200,
      body: { status: 'ok' },
    });
  });

  it('when a firing alert is posted then one remediation starts and the decision is explained', async () => {
    const reply = await request(hook(), { headers: authJson, body: fixtureText('firing-crashloop') });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      receiver: 'remediation-orchestrator',
      truncatedAlerts: 0,
      summary: { started: 1, duplicate: 0, ignored: 0, rejected: 0, error: 0 },
      results: [
        {
          fingerprint: '8a4f2c1e9b7d3a60',
          route: 'crashloop-restart',
          outcome: 'started',
          remediationId: start.calls[0]?.id,
        },
      ],
    });
    expect(start.calls).toHaveLength(1);
    expect(start.calls[0]?.target).toEqual({ kind: 'Deployment', name: 'checkout', namespace: 'shop' });
  });

  it('S3: when the same payload is delivered twice then the second is a duplicate with the same id', async () => {
    const first = await request(hook(), { headers: authJson, body: fixtureText('firing-crashloop') });
    const second = await request(`${base}/webhook`, {
      headers: authJson,
      body: fixtureText('firing-crashloop'),
    });
    expect(second.status).toBe(200);
    expect(second.body['results']).toEqual([expect.objectContaining({ outcome: 'duplicate' })]);
    expect(start.calls).toHaveLength(2);
    expect(start.calls[1]?.id).toBe(start.calls[0]?.id);
    expect(first.body['results']).toEqual([
      expect.objectContaining({ outcome: 'started', remediationId: start.calls[0]?.id }),
    ]);
  });

  it('when a group mixes firing, resolved and unrouted alerts then each is decided on its own', async () => {
    const reply = await request(hook(), { headers: authJson, body: fixtureText('group-several') });
    expect(reply.status).toBe(200);
    expect((reply.body['results'] as { outcome: string }[]).map((r) => r.outcome)).toEqual([
      'started',
      'started',
      'ignored',
      'ignored',
    ]);
    expect(start.calls.map((c) => c.target.name)).toEqual(['cart', 'frontend']);
  });

  it('when Alertmanager truncated the group then the reply says so and a warning is logged', async () => {
    const reply = await request(hook(), { headers: authJson, body: fixtureText('truncated') });
    expect(reply.body).toMatchObject({ truncatedAlerts: 3, summary: { started: 2 } });
    expect(logged).toContainEqual(['warn', expect.stringContaining('truncated'), expect.anything()]);
  });

  it('when an alert is rejected then nothing is started for it', async () => {
    const payload = fixture('firing-crashloop');
    payload.alerts[0]!.labels['deployment'] = 'Not_A_Name';
    const reply = await request(hook(), { headers: authJson, body: JSON.stringify(payload) });
    expect(reply.status).toBe(200);
    expect(reply.body['results']).toEqual([
      expect.objectContaining({
        outcome: 'rejected',
        fields: [expect.objectContaining({ field: 'target.name' })],
      }),
    ]);
    expect(start.calls).toHaveLength(0);
  });

  it('when the body is not JSON then 400', async () => {
    const reply = await request(hook(), { headers: authJson, body: '{"version": "4",' });
    expect(reply.status).toBe(400);
    expect(reply.body['error']).toMatch(/invalid JSON/);
  });

  it.each([undefined, 'text/plain', 'application/x-www-form-urlencoded'])(
    'when the content type is %p then 415',
    async (type) => {
      const reply = await request(hook(), {
        headers: { Authorization: authJson.Authorization, ...(type ? { 'Content-Type': type } : {}) },
        body: fixtureText('firing-crashloop'),
      });
      expect(reply.status).toBe(415);
      expect(start.calls).toHaveLength(0);
    },
  );

  it('when the content type has a charset then it is accepted', async () => {
    const reply = await request(hook(), {
      headers: { ...authJson, 'Content-Type': 'Application/JSON; charset=utf-8' },
      body: fixtureText('firing-crashloop'),
    });
    expect(reply.status).toBe(200);
  });

  it('when the payload breaks the schema then 422 lists every field', async () => {
    const payload = fixture('firing-crashloop') as unknown as {
      version: string;
      alerts: { status: string }[];
    };
    payload.version = '3';
    payload.alerts[0]!.status = 'pending';
    const reply = await request(hook(), { headers: authJson, body: JSON.stringify(payload) });
    expect(reply.status).toBe(422);
    expect(reply.body['fields']).toEqual([
      expect.objectContaining({ field: 'version', message: expect.any(String) }),
      expect.objectContaining({ field: 'alerts[0].status', message: expect.any(String) }),
    ]);
    expect(start.calls).toHaveLength(0);
  });

  it('when Content-Length is over the limit then 413 before reading the body', async () => {
    const reply = await request(hook(), { headers: authJson, body: Buffer.alloc(65 * 1024, 0x20) });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({ maxBodyBytes: 64 * 1024 });
  });

  it('when a chunked body grows over the limit then 413', async () => {
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(8 * 1024, 0x20));
    const reply = await request(hook(), {
      headers: { ...authJson, 'Transfer-Encoding': 'chunked' },
      body: chunks,
    });
    expect(reply.status).toBe(413);
  });

  it('when the body is just under the limit then it is read', async () => {
    const text = fixtureText('firing-crashloop');
    const padded = text + ' '.repeat(64 * 1024 - Buffer.byteLength(text));
    expect((await request(hook(), { headers: authJson, body: padded })).status).toBe(200);
  });

  it('when the client sends its body too slowly then 408 and the connection is closed', async () => {
    const port = new URL(base).port;
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
        );
      });
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
  });

  it('when the path or method is wrong then 404 / 405', async () => {
    expect((await request(`${base}/nope`, { headers: authJson, body: '{}' })).status).toBe(404);
    expect((await request(hook(), { method: 'GET', headers: authJson })).status).toBe(405);
  });

  it('when starting fails for an infrastructure reason then 503 so Alertmanager redelivers', async () => {
    await intake.close();
    intake = createIntakeServer({
      routes,
      start: () => Promise.reject(new Error('temporal unreachable')),
      auth: { bearerToken: TEST_TOKEN },
    });
    base = `http://127.0.0.1:${(await intake.listen(0, '127.0.0.1')).port}`;
    const reply = await request(hook(), { headers: authJson, body: fixtureText('firing-crashloop') });
    expect(reply.status).toBe(503);
    expect(reply.body['results']).toEqual([
      expect.objectContaining({ outcome: 'error', reason: 'could not start: temporal unreachable' }),
    ]);
  });
});
