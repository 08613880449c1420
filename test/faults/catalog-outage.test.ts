/**
 * The watch-backed action catalog through a real API server outage: while etcd and the API server
 * are down it keeps serving the last known catalog and says so once; once they are back it lists
 * afresh and follows changes again.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';

import {
  startKubernetesActionCatalog,
  type KubernetesActionCatalog,
} from '../../src/adapters/kubernetes-action-catalog';
import { isNotFound } from '../../src/k8s/kube';
import { catalogApi } from '../../src/ports/action-catalog';
import { eventually, fullSpec } from '../contract/action-catalog.contract';
import { sleep } from '../integration/support/remediation-harness';
import { FaultStack } from './support/fault-stack';

describe('fault: Kubernetes API server outage under the action catalog', () => {
  let stack: FaultStack;
  let catalog: KubernetesActionCatalog | undefined;
  beforeAll(async () => {
    stack = await FaultStack.start();
  });
  afterAll(async () => {
    await catalog?.close();
    await stack?.stop();
  });

  it('serves the last known catalog during the outage, logs it once, and resyncs after it', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(stack.info.kubeconfig);
    const objects = kc.makeApiClient(CustomObjectsApi);
    const where = {
      group: catalogApi.group,
      version: catalogApi.version,
      plural: catalogApi.plural,
      namespace: stack.info.controlNamespace,
    };
    const put = async (name: string, spec: unknown) => {
      const body = {
        apiVersion: `${where.group}/${where.version}`,
        kind: catalogApi.kind,
        metadata: { name },
        spec,
      };
      return (
        (await objects.createNamespacedCustomObject({ ...where, body })) as {
          metadata: { resourceVersion: string };
        }
      ).metadata.resourceVersion;
    };
    await put('restart', fullSpec());
    await put('scale', fullSpec('scale-deployment'));

    const lines: string[] = [];
    catalog = startKubernetesActionCatalog(kc, stack.info.controlNamespace, {
      log: (l) => lines.push(l),
      minBackoffMs: 100,
      maxBackoffMs: 1_000,
    });
    const c = catalog;
    expect((await c.list()).map((e) => e.id)).toEqual(['restart', 'scale']);

    await stack.stopKubeApi();
    await sleep(5_000); // several failed restarts
    await expect(c.get('restart')).resolves.toMatchObject({ id: 'restart', problems: [] });
    expect((await c.list()).map((e) => e.id)).toEqual(['restart', 'scale']);
    // One line when the outage began, and one more only if the error changed (a watch cut by the
    // dying server reads ECONNRESET, the restarts after it ECONNREFUSED): never one per restart.
    const failures = lines.filter((l) => l.includes(' failed: '));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.length).toBeLessThanOrEqual(2);
    expect(new Set(failures.map((l) => /connect (\w+)/.exec(l)?.[1])).size).toBe(failures.length);
    expect(failures.at(-1)).toMatch(
      /failed: connect ECONNREFUSED .*; serving the last known catalog \(2 actions\)/,
    );

    await stack.startKubeApi();
    await eventually(
      async () => lines.some((l) => l.includes('again')),
      (back) => back,
      20_000,
    );
    await objects.deleteNamespacedCustomObject({ ...where, name: 'scale' }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    const added = await put('delete-pod', { ...fullSpec('delete-pod'), targets: { kinds: ['Pod'] } });
    const entries = await eventually(
      () => c.list(),
      (list) => list.map((e) => e.id).join() === 'delete-pod,restart',
      20_000,
    );
    expect(entries[0]).toMatchObject({ id: 'delete-pod', resourceVersion: added });
    expect(lines.filter((l) => l.includes('again'))).toHaveLength(1);
  });
});
