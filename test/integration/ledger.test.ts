/**
 * The Kubernetes ledger against the integration stack's real API server, with the CRDs of
 * deploy/crds/ledger.yaml installed by the global setup.
 */
import { getTable } from './support/kube-table';

import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import { KubernetesLedger } from '../../src/adapters/kubernetes-ledger';
import { emptyTargetState } from '../../src/domain/model';
import { isConflict, isNotFound } from '../../src/k8s/kube';
import {
  DEFAULT_CONTROL_NAMESPACE,
  FINGERPRINT_PLURAL,
  fingerprintObjectName,
  LEDGER_FINALIZER,
  LEDGER_GROUP,
  LEDGER_VERSION,
  TARGET_PLURAL,
  targetObjectName,
  type RemediationTarget,
} from '../../src/k8s/ledger-types';
import { LedgerConflictError } from '../../src/ports/ledger';
import { ledgerContract, type LedgerRecordKind, maximalTargetState } from '../contract/ledger.contract';
import { kubeConfig } from './stack-env';

const namespace = DEFAULT_CONTROL_NAMESPACE;
const uniqueKey = () =>
  `it-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}/Deployment/api`;

/** The API coordinates and object name of a ledger record, for raw CustomObjectsApi calls. */
function coordinatesOf(kind: LedgerRecordKind, key: string) {
  const plural = kind === 'target' ? TARGET_PLURAL : FINGERPRINT_PLURAL;
  const name = kind === 'target' ? targetObjectName(key) : fingerprintObjectName(key);
  return { group: LEDGER_GROUP, version: LEDGER_VERSION, namespace, plural, name };
}

/** `kubectl delete`: with the adapter's finalizer on, the server only sets deletionTimestamp. */
async function requestDeletion(
  objects: CustomObjectsApi,
  kind: LedgerRecordKind,
  key: string,
): Promise<void> {
  await objects.deleteNamespacedCustomObject(coordinatesOf(kind, key));
}

/** Delete, then take every finalizer off (as an impatient operator would) until the object is gone. */
async function forceRemoval(objects: CustomObjectsApi, kind: LedgerRecordKind, key: string): Promise<void> {
  const coordinates = coordinatesOf(kind, key);
  await objects.deleteNamespacedCustomObject(coordinates).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
  for (let attempt = 0; attempt < 20; attempt++) {
    let object: RemediationTarget;
    try {
      object = (await objects.getNamespacedCustomObject(coordinates)) as RemediationTarget;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const body = { ...object, metadata: { ...object.metadata, finalizers: [] } };
    await objects.replaceNamespacedCustomObject({ ...coordinates, body }).catch((err: unknown) => {
      if (!isConflict(err) && !isNotFound(err)) throw err;
    });
  }
  throw new Error(`${coordinates.plural}/${coordinates.name} would not go away`);
}

ledgerContract('KubernetesLedger', async () => {
  const kc = kubeConfig();
  const objects = kc.makeApiClient(CustomObjectsApi);
  return {
    ledger: new KubernetesLedger(kc, namespace),
    requestDeletion: (kind, key) => requestDeletion(objects, kind, key),
    forceRemoval: (kind, key) => forceRemoval(objects, kind, key),
  };
});

describe('KubernetesLedger on the API server', () => {
  const kc: KubeConfig = kubeConfig();
  const ledger = new KubernetesLedger(kc, namespace);
  const objects = kc.makeApiClient(CustomObjectsApi);

  it('optimistic concurrency: the API server itself rejects a stale write with 409', async () => {
    const key = uniqueKey();
    const created = await ledger.putTarget(emptyTargetState(key));
    const coordinates = { group: LEDGER_GROUP, version: LEDGER_VERSION, namespace, plural: TARGET_PLURAL };
    const name = targetObjectName(key);
    const read = (await objects.getNamespacedCustomObject({ ...coordinates, name })) as RemediationTarget;
    expect(read.metadata.resourceVersion).toBe(created.version);

    // Two raw replaces carrying the same resourceVersion: the server accepts one and answers 409.
    const first = structuredClone(read);
    first.spec.consecutiveFailures = 1;
    await objects.replaceNamespacedCustomObject({ ...coordinates, name, body: first });
    const stale = structuredClone(read);
    stale.spec.consecutiveFailures = 2;
    await expect(
      objects.replaceNamespacedCustomObject({ ...coordinates, name, body: stale }),
    ).rejects.toMatchObject({
      code: 409,
    });

    // The adapter surfaces the same refusal as LedgerConflictError.
    await expect(ledger.putTarget({ ...created, consecutiveFailures: 3 })).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    expect((await ledger.getTarget(key)).consecutiveFailures).toBe(1);
  });

  it('stores objects under the hashed name with the real key in spec.key and the key-hash label', async () => {
    const key = `cluster-b::${uniqueKey()}`;
    await ledger.putTarget(emptyTargetState(key));
    const name = targetObjectName(key);
    const object = (await objects.getNamespacedCustomObject({
      group: LEDGER_GROUP,
      version: LEDGER_VERSION,
      namespace,
      plural: TARGET_PLURAL,
      name,
    })) as RemediationTarget;
    expect(object.spec.key).toBe(key);
    expect(object.metadata.labels).toEqual({ 'ledger.remediation.dev/key-hash': name.slice(2) });
  });

  it('serves the printer columns that `kubectl get rtarget` / `kubectl get rfp` show', async () => {
    const crds = kc.makeApiClient(ApiextensionsV1Api);
    const columns = async (plural: string) =>
      (await crds.readCustomResourceDefinition({ name: `${plural}.${LEDGER_GROUP}` })).spec.versions
        .find((v) => v.name === LEDGER_VERSION)
        ?.additionalPrinterColumns?.map((c) => c.name);
    await expect(columns('remediationtargets')).resolves.toEqual([
      'Key',
      'Failures',
      'NextAllowed',
      'ManualReview',
      'Lock',
      'Fencing',
      'Unsettled',
      'Age',
    ]);
    await expect(columns('remediationfingerprints')).resolves.toEqual([
      'Key',
      'FailedRemediations',
      'Active',
      'Duplicates',
      'Age',
    ]);

    // The server renders them from the stored state, as kubectl would print it.
    const key = uniqueKey();
    await ledger.putTarget(maximalTargetState(key));
    const table = await getTable(
      kc,
      `/apis/${LEDGER_GROUP}/${LEDGER_VERSION}/namespaces/${namespace}/${TARGET_PLURAL}/${targetObjectName(key)}`,
    );
    expect(table.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Key',
      'Failures',
      'NextAllowed',
      'ManualReview',
      'Lock',
      'Fencing',
      'Unsettled',
      'Age',
    ]);
    expect(table.rows[0]?.cells.slice(0, 8)).toEqual([
      targetObjectName(key),
      key,
      3,
      '2026-01-02T03:08:05.678Z',
      true,
      'ghi',
      7,
      'rem-old-2',
    ]);
  });

  describe('the in-use finalizer', () => {
    const coordinates = { group: LEDGER_GROUP, version: LEDGER_VERSION, namespace, plural: TARGET_PLURAL };
    const get = async (key: string) =>
      (await objects.getNamespacedCustomObject({
        ...coordinates,
        name: targetObjectName(key),
      })) as RemediationTarget;

    it('is on every object the adapter creates or replaces', async () => {
      const key = uniqueKey();
      const created = await ledger.putTarget(emptyTargetState(key));
      expect((await get(key)).metadata.finalizers).toEqual([LEDGER_FINALIZER]);
      await ledger.putTarget({ ...created, consecutiveFailures: 1 });
      expect((await get(key)).metadata.finalizers).toEqual([LEDGER_FINALIZER]);
    });

    it("keeps other parties' finalizers, also when it was not the one that read them", async () => {
      const key = uniqueKey();
      await ledger.putTarget(emptyTargetState(key));
      const object = await get(key);
      const withOthers = [LEDGER_FINALIZER, 'example.com/backup'];
      await objects.replaceNamespacedCustomObject({
        ...coordinates,
        name: object.metadata.name,
        body: { ...object, metadata: { ...object.metadata, finalizers: withOthers } },
      });
      // This instance remembers the object before the finalizer was added; another never saw it.
      const read = await ledger.getTarget(key);
      await ledger.putTarget({ ...read, consecutiveFailures: 1 });
      expect((await get(key)).metadata.finalizers).toEqual(withOthers);
      const fresh = new KubernetesLedger(kc, namespace);
      await fresh.putTarget({ ...(await fresh.getTarget(key)), consecutiveFailures: 2 });
      expect((await get(key)).metadata.finalizers).toEqual(withOthers);
      await forceRemoval(objects, 'target', key);
    });

    it("keeps a deleted object terminating, not gone, through the adapter's writes", async () => {
      const key = uniqueKey();
      await ledger.putTarget(maximalTargetState(key));
      await requestDeletion(objects, 'target', key);
      const terminating = await get(key);
      expect(terminating.metadata.deletionTimestamp).toEqual(expect.any(String));
      const read = await ledger.getTarget(key);
      await ledger.putTarget({ ...read, consecutiveFailures: 0 });
      const after = await get(key);
      expect(after.metadata.deletionTimestamp).toBe(terminating.metadata.deletionTimestamp);
      expect(after.metadata.finalizers).toEqual([LEDGER_FINALIZER]);
      expect(after.spec.fencingToken).toBe(7);
    });
  });
});
