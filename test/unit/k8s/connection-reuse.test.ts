import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { reuseConnections } from '../../../src/k8s/connection-reuse';

/** An HTTP "API server" that answers every GET with an empty namespace and counts connections. */
async function countingServer(): Promise<{ server: Server; url: string; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } }));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, connections: () => connections };
}

function kubeConfig(server: string, user: { name: string; token?: string } = { name: 'u' }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [user],
    contexts: [{ name: 'x', cluster: 'c', user: user.name }],
    currentContext: 'x',
  });
  return kc;
}

describe('reuseConnections: API clients keep their connection to the API server', () => {
  let api: Awaited<ReturnType<typeof countingServer>>;
  beforeEach(async () => {
    api = await countingServer();
  });
  afterEach(async () => {
    api.server.closeAllConnections();
    await new Promise((resolve) => api.server.close(resolve));
  });

  it('sequential requests from two API clients of one KubeConfig share one connection', async () => {
    const kc = reuseConnections(kubeConfig(api.url));
    const a = kc.makeApiClient(CoreV1Api);
    const b = kc.makeApiClient(CoreV1Api);
    for (let i = 0; i < 5; i++) {
      await a.readNamespace({ name: 'ns' });
      await b.readNamespace({ name: 'ns' });
    }
    expect(api.connections()).toBe(1);
  });

  it('without it, client-node opens a connection per request (why it exists)', async () => {
    const a = kubeConfig(api.url).makeApiClient(CoreV1Api);
    for (let i = 0; i < 3; i++) await a.readNamespace({ name: 'ns' });
    expect(api.connections()).toBe(3);
  });

  it('a token change needs no new connection; the new token is sent', async () => {
    const seen: (string | undefined)[] = [];
    api.server.on('request', (req) => seen.push(req.headers.authorization));
    const kc = reuseConnections(kubeConfig(api.url, { name: 'u', token: 'first' }));
    await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'ns' });
    kc.users[0] = { name: 'u', token: 'second' };
    await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'ns' });
    expect(seen).toEqual(['Bearer first', 'Bearer second']);
    expect(api.connections()).toBe(1);
  });

  it('is idempotent: applying it twice keeps one agent', async () => {
    const kc = reuseConnections(reuseConnections(kubeConfig(api.url)));
    const a = kc.makeApiClient(CoreV1Api);
    await a.readNamespace({ name: 'ns' });
    await a.readNamespace({ name: 'ns' });
    expect(api.connections()).toBe(1);
  });
});
