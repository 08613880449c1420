/**
 * The Kubernetes action catalog's cache discipline, against a scripted list and watch (client-node's
 * real informer on top): the first sync, watch events, an outage served from the last known state and
 * logged once, restarts with a growing backoff, a fresh list after a restart, and close.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';

import {
  startKubernetesActionCatalog,
  type KubernetesActionCatalog,
} from '../../../src/adapters/kubernetes-action-catalog';
import { CatalogUnavailableError } from '../../../src/ports/action-catalog';

const NAMESPACE = 'remediation-system';
const PATH = `/apis/remediation.dev/v1alpha1/namespaces/${NAMESPACE}/remediationactions`;

interface ActionObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion: string; deletionTimestamp?: string };
  spec: unknown;
}

const action = (name: string, resourceVersion: string, pipeline = 'restart-deployment'): ActionObject => ({
  apiVersion: 'remediation.dev/v1alpha1',
  kind: 'RemediationAction',
  metadata: { name, namespace: NAMESPACE, resourceVersion },
  spec: { pipeline },
});

interface OpenWatch {
  path: string;
  params: Record<string, unknown>;
  send(type: string, object: unknown): void;
  end(err?: unknown): void;
  controller: AbortController;
}

/** A scripted API server: `lists` answers the next list calls in order (an Error rejects). */
function scriptedServer() {
  const lists: (ActionObject[] | Error)[] = [];
  let listCalls = 0;
  const watches: OpenWatch[] = [];
  const api = {
    listNamespacedCustomObject: jest.fn(async (req: { namespace: string; plural: string }) => {
      expect(req).toMatchObject({
        namespace: NAMESPACE,
        plural: 'remediationactions',
        group: 'remediation.dev',
      });
      listCalls++;
      const next = lists.length > 1 ? lists.shift()! : lists[0];
      if (next === undefined) throw new Error('no list scripted');
      if (next instanceof Error) throw next;
      const rv = String(Math.max(0, ...next.map((o) => Number(o.metadata.resourceVersion))));
      return { metadata: { resourceVersion: rv }, items: structuredClone(next) };
    }),
  };
  const kubeConfig = { makeApiClient: () => api } as unknown as KubeConfig;
  const watch = jest
    .spyOn(Watch.prototype, 'watch')
    .mockImplementation(
      async (
        path: string,
        params: Record<string, unknown>,
        callback: (type: string, object: unknown, raw: unknown) => void,
        done: (err: unknown) => void,
      ) => {
        const controller = new AbortController();
        let ended = false;
        watches.push({
          path,
          params,
          controller,
          send: (type, object) => callback(type, object, { type, object }),
          end: (err = null) => {
            if (ended) return;
            ended = true;
            done(err);
          },
        });
        return controller;
      },
    );
  return {
    kubeConfig,
    lists,
    watches,
    get listCalls() {
      return listCalls;
    },
    lastWatch: () => watches[watches.length - 1]!,
    restore: () => watch.mockRestore(),
  };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('KubernetesActionCatalog (scripted API server)', () => {
  let server: ReturnType<typeof scriptedServer>;
  let catalog: KubernetesActionCatalog | undefined;
  let lines: string[];
  const start = (options: Parameters<typeof startKubernetesActionCatalog>[2] = {}) =>
    (catalog = startKubernetesActionCatalog(server.kubeConfig, NAMESPACE, {
      log: (l) => lines.push(l),
      minBackoffMs: 100,
      maxBackoffMs: 400,
      ...options,
    }));

  beforeEach(() => {
    server = scriptedServer();
    lines = [];
    catalog = undefined;
  });
  afterEach(async () => {
    await catalog?.close();
    server.restore();
    jest.useRealTimers();
  });

  it('lists once, then watches the control namespace from the listed resourceVersion', async () => {
    server.lists.push([action('b', '7'), action('a', '5')]);
    const c = start();
    await expect(c.list()).resolves.toMatchObject([
      { id: 'a', resourceVersion: '5' },
      { id: 'b', resourceVersion: '7' },
    ]);
    await flush();
    expect(server.watches).toHaveLength(1);
    expect(server.lastWatch()).toMatchObject({ path: PATH, params: { resourceVersion: '7' } });
    expect(lines).toEqual([`action catalog: synced 2 RemediationActions in ${NAMESPACE}`]);
  });

  it('applies watch events: added, modified (parsed again), deleted, and a deletion in progress', async () => {
    server.lists.push([action('a', '1')]);
    const c = start();
    await c.whenSynced();
    await flush();
    const w = server.lastWatch();
    w.send('ADDED', action('b', '2'));
    w.send('MODIFIED', action('a', '3', 'scale-deployment'));
    w.send('ADDED', { ...action('c', '4'), spec: { pipeline: 'p', params: [{ name: 'x', pattern: '(' }] } });
    await expect(c.list()).resolves.toMatchObject([
      { id: 'a', resourceVersion: '3', spec: { pipeline: 'scale-deployment' } },
      { id: 'b', resourceVersion: '2' },
      { id: 'c', spec: null, problems: [{ field: 'spec.params.0.pattern' }] },
    ]);
    w.send('DELETED', action('b', '5'));
    const terminating = action('c', '6');
    terminating.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    w.send('MODIFIED', terminating);
    await expect(c.list()).resolves.toMatchObject([{ id: 'a' }]);
    await expect(c.get('c')).resolves.toBeUndefined();
  });

  it('when the watch fails, serves the last known catalog, logs once, and re-lists after a backoff', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    server.lists.push([action('a', '1'), action('b', '2')], new Error('connect ECONNREFUSED'));
    const c = start();
    await jest.advanceTimersByTimeAsync(0);
    await expect(c.whenSynced(0)).resolves.toBe(true);
    server.lastWatch().end(new Error('socket hang up'));
    await flush();
    expect(lines.slice(1)).toEqual([
      `action catalog: watching RemediationActions in ${NAMESPACE} failed: socket hang up; serving the last known catalog (2 actions); retrying with backoff (next in 100 ms)`,
    ]);
    await expect(c.list()).resolves.toHaveLength(2);

    // The API server stays down for a while: lists fail at 100, 300 (+200), 700 (+400), 1100 (+400).
    const callsAt = async (ms: number) => {
      await jest.advanceTimersByTimeAsync(ms);
      return server.listCalls;
    };
    expect(await callsAt(99)).toBe(1);
    expect(await callsAt(1)).toBe(2);
    expect(await callsAt(199)).toBe(2);
    expect(await callsAt(1)).toBe(3);
    expect(await callsAt(400)).toBe(4);
    expect(await callsAt(400)).toBe(5);
    await expect(c.list()).resolves.toHaveLength(2);
    expect(lines).toHaveLength(3); // synced, failed (socket hang up), failed (ECONNREFUSED): each error once
    expect(lines[2]).toContain('failed: connect ECONNREFUSED; serving the last known catalog (2 actions)');

    // Back: the fresh list drops what was deleted during the outage and adds what was created.
    server.lists.length = 0;
    server.lists.push([action('b', '9'), action('c', '10')]);
    await jest.advanceTimersByTimeAsync(400);
    expect(server.listCalls).toBe(6);
    await expect(c.list()).resolves.toMatchObject([
      { id: 'b', resourceVersion: '9' },
      { id: 'c', resourceVersion: '10' },
    ]);
    expect(lines[3]).toBe(`action catalog: watching RemediationActions in ${NAMESPACE} again (2 actions)`);
    expect(server.lastWatch().params).toMatchObject({ resourceVersion: '10' });
    // The failed watch's late events are ignored.
    server.watches[0]!.send('ADDED', action('zombie', '11'));
    await expect(c.get('zombie')).resolves.toBeUndefined();
  });

  it('when the watch says 410 Gone, the informer re-lists by itself and the cache follows', async () => {
    server.lists.push([action('a', '1')], [action('b', '20')]);
    const c = start();
    await c.whenSynced();
    await flush();
    const w = server.lastWatch();
    w.send('ERROR', { code: 410, kind: 'Status', reason: 'Expired' });
    w.end();
    await flush();
    expect(server.listCalls).toBe(2);
    await expect(c.list()).resolves.toMatchObject([{ id: 'b', resourceVersion: '20' }]);
    expect(lines.filter((l) => l.includes('failed'))).toEqual([]);
  });

  it('when a watch ends normally (server-side timeout), it is re-established without a list', async () => {
    server.lists.push([action('a', '1')]);
    const c = start();
    await c.whenSynced();
    await flush();
    server.lastWatch().send('MODIFIED', action('a', '4'));
    server.lastWatch().end();
    await flush();
    expect(server.listCalls).toBe(1);
    expect(server.watches).toHaveLength(2);
    expect(server.lastWatch().params).toMatchObject({ resourceVersion: '4' });
  });

  it('before the first sync, a lookup waits for it, then throws naming the error', async () => {
    server.lists.push(new Error('connect ECONNREFUSED 127.0.0.1:6443'));
    const c = start({ syncTimeoutMs: 50, minBackoffMs: 10, maxBackoffMs: 10 });
    await expect(c.get('a')).rejects.toThrow(
      new CatalogUnavailableError(
        `the action catalog (RemediationActions in ${NAMESPACE}) has not synced within 50 ms (connect ECONNREFUSED 127.0.0.1:6443); retry later`,
      ),
    );
    expect(lines).toEqual([
      `action catalog: watching RemediationActions in ${NAMESPACE} failed: connect ECONNREFUSED 127.0.0.1:6443; not synced yet, lookups fail with CatalogUnavailableError; retrying with backoff (next in 10 ms)`,
    ]);
    server.lists.length = 0;
    server.lists.push([action('a', '3')]);
    await expect(c.get('a')).resolves.toMatchObject({ id: 'a', resourceVersion: '3' });
  });

  it('when closed during the first list, never starts a watch', async () => {
    let answer: (list: unknown) => void = () => undefined;
    const api = server.kubeConfig.makeApiClient(class {} as never) as unknown as {
      listNamespacedCustomObject: jest.Mock;
    };
    api.listNamespacedCustomObject.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    const c = start();
    await flush();
    expect(api.listNamespacedCustomObject).toHaveBeenCalledTimes(1);
    await c.close();
    answer({ metadata: { resourceVersion: '1' }, items: [action('a', '1')] });
    await flush();
    expect(server.watches).toHaveLength(0);
    expect(lines).toEqual([]);
  });

  it('when closed, aborts the watch, cancels a pending restart and refuses lookups', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    server.lists.push([action('a', '1')]);
    const c = start();
    await jest.advanceTimersByTimeAsync(0);
    await c.whenSynced(0);
    await flush();
    const w = server.lastWatch();
    w.end(new Error('reset'));
    await flush();
    await c.close();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(server.listCalls).toBe(1);
    expect(server.watches).toHaveLength(1);
    await expect(c.get('a')).rejects.toBeInstanceOf(CatalogUnavailableError);

    // A healthy watch is aborted on close.
    server.restore();
    server = scriptedServer();
    server.lists.push([]);
    const d = start();
    await jest.advanceTimersByTimeAsync(0);
    await d.whenSynced(0);
    await flush();
    await d.close();
    expect(server.lastWatch().controller.signal.aborted).toBe(true);
  });
});
