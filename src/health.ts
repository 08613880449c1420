/**
 * The worker's `GET /healthz` (HEALTH_PORT), for Kubernetes liveness and readiness probes. It is
 * answered by the worker's own JavaScript event loop, so a stuck loop (a synchronous hot path, a
 * runaway activity) makes the probe time out; the SDK's metrics port is served by its Rust core
 * and keeps answering then. A worker that is no longer polling (shutting down, failed) answers 503.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Worker states (the SDK's `Worker.getState()`) in which the worker polls or is about to. */
const HEALTHY_STATES = new Set(['INITIALIZED', 'RUNNING']);

export interface HealthServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(options: {
  port: number;
  host?: string;
  /** The worker's state, read at every request. */
  state: () => string;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end('{"error":"method not allowed"}\n');
      return;
    }
    const state = options.state();
    const healthy = HEALTHY_STATES.has(state);
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(
      req.method === 'HEAD'
        ? undefined
        : `${JSON.stringify({ status: healthy ? 'ok' : 'unavailable', worker: state })}\n`,
    );
  });
  // A probe is one short request: never let a slow client hold a socket.
  server.requestTimeout = 5_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}
