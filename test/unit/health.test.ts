/**
 * The worker's /healthz (src/health.ts): 200 while the worker polls, 503 once it stops, and no
 * answer at all while the process's event loop is stuck — which is what the liveness probe of the
 * chart relies on (the SDK's metrics port, served by its Rust core, would still answer).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startHealthServer, type HealthServer } from '../../src/health';

describe('worker health server', () => {
  let state = 'RUNNING';
  let server: HealthServer;
  let url: string;

  beforeAll(async () => {
    server = await startHealthServer({ port: 0, host: '127.0.0.1', state: () => state });
    url = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it.each([
    ['INITIALIZED', 200, 'ok'],
    ['RUNNING', 200, 'ok'],
    ['STOPPING', 503, 'unavailable'],
    ['DRAINED', 503, 'unavailable'],
    ['FAILED', 503, 'unavailable'],
  ])('answers a worker in state %s with %i', async (workerState, code, status) => {
    state = workerState;
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(code);
    expect(await res.json()).toEqual({ status, worker: workerState });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('serves only GET/HEAD /healthz', async () => {
    state = 'RUNNING';
    expect((await fetch(`${url}/healthz`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    const post = await fetch(`${url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('worker health server in a process whose event loop is stuck', () => {
  it('does not answer while the loop is blocked, and answers again once it is free', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '../fixtures/health/stuck-event-loop.ts')],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const port = Number((await lines.next()).value);
      const probe = (timeoutMs: number) =>
        fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) }).then(
          (res) => res.status,
          (err: Error) => err.name,
        );
      expect(await probe(5_000)).toBe(200);

      child.stdin!.write('4000\n');
      expect((await lines.next()).value).toBe('blocking');
      // Like a kubelet probe with timeoutSeconds: 1 against a stuck worker.
      expect(await probe(1_000)).toBe('TimeoutError');

      // The loop is free again after its 4 s: the process answers (no restart needed).
      expect(await probe(10_000)).toBe(200);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }, 30_000);
});
