/**
 * The watch-backed Kubernetes action catalog against the integration stack's real API server, with
 * deploy/crds/remediation-actions.yaml installed by the global setup: the contract, what the CRD
 * refuses at apply time (and what it leaves to the worker), the `kubectl get ract` columns, a catalog
 * that never reached its API server, and the local stack's demo catalog.
 */
import { getTable } from './support/kube-table';

import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';

import { startKubernetesActionCatalog } from '../../src/adapters/kubernetes-action-catalog';
import { demoActions, demoPipelines, installDemo } from '../../src/dev/stack/demo';
import { freePort } from '../../src/dev/stack/proc';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural } from '../../src/domain/tekton';
import { apiMessage, apiStatus, isConflict, isNotFound } from '../../src/k8s/kube';
import { catalogApi } from '../../src/ports/action-catalog';
import { actionCatalogContract, eventually, fullSpec } from '../contract/action-catalog.contract';
import { kubeConfig, stackInfo } from './stack-env';

const namespace = () => stackInfo().controlNamespace;
const coordinates = () => ({
  group: catalogApi.group,
  version: catalogApi.version,
  plural: catalogApi.plural,
  namespace: namespace(),
});

interface ActionObject {
  metadata: { name: string; resourceVersion: string };
  spec: unknown;
}

/** Create, or replace at the current resourceVersion (retried on a conflict). */
async function putAction(objects: CustomObjectsApi, name: string, spec: unknown): Promise<string> {
  const body = {
    apiVersion: `${catalogApi.group}/${catalogApi.version}`,
    kind: catalogApi.kind,
    metadata: { name },
    spec,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const created = (await objects.createNamespacedCustomObject({
        ...coordinates(),
        body,
      })) as ActionObject;
      return created.metadata.resourceVersion;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const current = (await objects.getNamespacedCustomObject({ ...coordinates(), name })) as ActionObject;
    try {
      const replaced = (await objects.replaceNamespacedCustomObject({
        ...coordinates(),
        name,
        body: { ...body, metadata: { name, resourceVersion: current.metadata.resourceVersion } },
      })) as ActionObject;
      return replaced.metadata.resourceVersion;
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }
  throw new Error(`could not write RemediationAction ${name}`);
}

async function removeAction(objects: CustomObjectsApi, name: string, namespace?: string): Promise<void> {
  const where = { ...coordinates(), ...(namespace ? { namespace } : {}) };
  await objects.deleteNamespacedCustomObject({ ...where, name }).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

/** A kubeconfig for an API server that is not there (a port nothing listens on). */
async function unreachableKubeConfig(): Promise<KubeConfig> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'nowhere', server: `https://127.0.0.1:${await freePort()}`, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'nowhere', cluster: 'nowhere', user: 'nobody' }],
    currentContext: 'nowhere',
  });
  return kc;
}

actionCatalogContract('KubernetesActionCatalog', async () => {
  const kc = kubeConfig();
  const objects = kc.makeApiClient(CustomObjectsApi);
  const catalog = startKubernetesActionCatalog(kc, namespace(), { log: () => undefined });
  return {
    catalog,
    put: (id, spec) => putAction(objects, id, spec),
    remove: (id) => removeAction(objects, id),
    unsynced: async () => {
      const unsynced = startKubernetesActionCatalog(await unreachableKubeConfig(), namespace(), {
        log: () => undefined,
        syncTimeoutMs: 300,
        minBackoffMs: 50,
      });
      return { catalog: unsynced, close: () => unsynced.close() };
    },
    teardown: () => catalog.close(),
  };
});

describe('KubernetesActionCatalog on the real API server', () => {
  const kc = kubeConfig();
  const objects = kc.makeApiClient(CustomObjectsApi);
  const run = Math.random().toString(36).slice(2, 8);
  const names: string[] = [];
  const put = (name: string, spec: unknown) => {
    names.push(name);
    return putAction(objects, name, spec);
  };
  afterAll(async () => {
    for (const name of names) await removeAction(objects, name);
  });

  it('when started after objects exist, the first lookup waits for the sync and sees them', async () => {
    const resourceVersion = await put(`it-${run}-pre`, fullSpec());
    const catalog = startKubernetesActionCatalog(kc, namespace(), { log: () => undefined });
    try {
      await expect(catalog.get(`it-${run}-pre`)).resolves.toMatchObject({ resourceVersion, problems: [] });
    } finally {
      await catalog.close();
    }
  });

  it('when closed, lookups throw', async () => {
    const catalog = startKubernetesActionCatalog(kc, namespace(), { log: () => undefined });
    await expect(catalog.whenSynced()).resolves.toBe(true);
    await catalog.close();
    await expect(catalog.list()).rejects.toThrow(/closed/);
  });

  it('when the API server cannot be reached, says so once in the log and names the error in the refusal', async () => {
    const lines: string[] = [];
    const catalog = startKubernetesActionCatalog(await unreachableKubeConfig(), namespace(), {
      log: (l) => lines.push(l),
      syncTimeoutMs: 500,
      minBackoffMs: 20,
      maxBackoffMs: 40,
    });
    try {
      await expect(catalog.get('restart-deployment')).rejects.toThrow(
        /has not synced within 500 ms \(.*ECONNREFUSED.*\); retry later/,
      );
      // Several failed attempts by now, one line about them.
      expect(lines.filter((l) => l.includes('failed'))).toHaveLength(1);
      expect(lines[0]).toContain(`RemediationActions in ${namespace()} failed`);
    } finally {
      await catalog.close();
    }
  });

  it.each([
    ['an unknown mode', { pipeline: 'p', mode: 'Sometimes' }, /spec.mode: Unsupported value/],
    ['a missing pipeline', { mode: 'Enforce' }, /spec.pipeline: Required value/],
    ['a pipeline that is not a DNS name', { pipeline: 'Restart_Deployment' }, /spec.pipeline/],
    ['a lower-case kind', { pipeline: 'p', targets: { kinds: ['deployment'] } }, /spec.targets.kinds\[0\]/],
    ['too long a pattern', { pipeline: 'p', params: [{ name: 'x', pattern: 'a'.repeat(1025) }] }, /pattern/],
    ['a non-numeric maxLength', { pipeline: 'p', params: [{ name: 'x', maxLength: 'ten' }] }, /maxLength/],
    ['a timeout that is no duration', { pipeline: 'p', timeout: '1 hour' }, /spec.timeout/],
    ['an unknown field (strict)', { pipeline: 'p', pipelines: ['q'] }, /unknown field "spec.pipelines"/],
  ])('the CRD refuses %s', async (_what, spec, message) => {
    const body = {
      apiVersion: `${catalogApi.group}/${catalogApi.version}`,
      kind: catalogApi.kind,
      metadata: { name: `it-${run}-refused` },
      spec,
    };
    const refusal = await objects
      .createNamespacedCustomObject({ ...coordinates(), body, dryRun: 'All', fieldValidation: 'Strict' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect([apiStatus(refusal), apiMessage(refusal)]).toEqual([
      expect.any(Number),
      expect.stringMatching(message),
    ]);
    expect(apiStatus(refusal)).toBeGreaterThanOrEqual(400);
  });

  it('the CRD keeps what only the worker checks, and defaults the mode', async () => {
    const spec = {
      pipeline: 'p',
      targetParams: { name: '{{ target.owner }}' },
      params: [
        { name: 'x', pattern: '(' },
        { name: 'x', enum: ['a'], default: 'b' },
      ],
      timeout: 90_000,
      verification: { window: '5m' },
    };
    const resourceVersion = await put(`it-${run}-worker-only`, spec);
    const stored = (await objects.getNamespacedCustomObject({
      ...coordinates(),
      name: `it-${run}-worker-only`,
    })) as ActionObject;
    expect(stored.metadata.resourceVersion).toBe(resourceVersion);
    expect(stored.spec).toEqual({ ...spec, mode: 'Enforce' });
  });

  it('kubectl get ract shows Pipeline, Mode, Approval, Kinds, Namespaces and Age', async () => {
    const name = `it-${run}-table`;
    await put(name, {
      ...fullSpec(),
      targets: { kinds: ['Deployment', 'StatefulSet'], namespaces: ['prod-*'] },
    });
    const table = await getTable(
      kc,
      `/apis/${catalogApi.group}/${catalogApi.version}/namespaces/${namespace()}/${catalogApi.plural}/${name}`,
    );
    expect(table.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Pipeline',
      'Mode',
      'Approval',
      'Kinds',
      'Namespaces',
      'Age',
    ]);
    const [row] = table.rows;
    expect(row!.cells.slice(0, 6)).toEqual([
      name,
      'restart-deployment',
      'Enforce',
      false,
      '["Deployment","StatefulSet"]',
      '["prod-*"]',
    ]);
  });

  it('installs the demo catalog of the local stack: every demo RemediationAction valid and running a demo Pipeline, kept on a rerun', async () => {
    const info = { executionNamespace: `demo-runs-${run}`, controlNamespace: `demo-system-${run}` };
    const catalog = startKubernetesActionCatalog(kc, info.controlNamespace, { log: () => undefined });
    try {
      await installDemo(kc, info);
      await installDemo(kc, info); // a restarted `npm start` keeps what is there
      const entries = await eventually(
        () => catalog.list(),
        (list) => list.length === Object.keys(demoActions).length,
      );
      expect(entries.map((e) => [e.id, e.spec?.pipeline, e.problems])).toEqual(
        Object.entries(demoActions)
          .map(([id, spec]) => [id, spec.pipeline, []])
          .sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
      );
      const names = demoPipelines.map((p) => p.name);
      for (const e of entries) expect(names).toContain(e.spec?.pipeline);
      const pipelines = (await objects.listNamespacedCustomObject({
        group: TEKTON_GROUP,
        version: TEKTON_VERSION,
        namespace: info.executionNamespace,
        plural: TektonPlural.Pipeline,
      })) as { items: { metadata: { name: string } }[] };
      expect(pipelines.items.map((p) => p.metadata.name).sort()).toEqual(
        demoPipelines.map((p) => p.name).sort(),
      );
    } finally {
      await catalog.close();
      for (const p of demoPipelines) {
        await removeAction(objects, p.name, info.controlNamespace);
        await objects
          .deleteNamespacedCustomObject({
            group: TEKTON_GROUP,
            version: TEKTON_VERSION,
            namespace: info.executionNamespace,
            plural: TektonPlural.Pipeline,
            name: p.name,
          })
          .catch(() => undefined);
      }
    }
  });

  it('serves many lookups from the cache without an API call each', async () => {
    const resourceVersion = await put(`it-${run}-cached`, fullSpec());
    const catalog = startKubernetesActionCatalog(kc, namespace(), { log: () => undefined });
    try {
      await eventually(
        () => catalog.get(`it-${run}-cached`),
        (e) => e?.resourceVersion === resourceVersion,
      );
      const list = jest.spyOn(CustomObjectsApi.prototype, 'listNamespacedCustomObject');
      const get = jest.spyOn(CustomObjectsApi.prototype, 'getNamespacedCustomObject');
      try {
        for (let i = 0; i < 200; i++) await catalog.get(`it-${run}-cached`);
        await catalog.list();
        expect(list).not.toHaveBeenCalled();
        expect(get).not.toHaveBeenCalled();
      } finally {
        list.mockRestore();
        get.mockRestore();
      }
    } finally {
      await catalog.close();
    }
  });
});
