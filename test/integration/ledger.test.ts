/**
 * The Kubernetes ledger against the integration stack's real API server, with the CRDs of
 * deploy/crds/ledger.yaml installed by the global setup.
 */
import { request } from 'node:https';

import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import { KubernetesLedger } from '../../src/adapters/kubernetes-ledger';
import { emptyTargetState } from '../../src/domain/model';
import {
  DEFAULT_CONTROL_NAMESPACE,
  LEDGER_GROUP,
  LEDGER_VERSION,
  TARGET_PLURAL,
  targetObjectName,
  type RemediationTarget,
} from '../../src/k8s/ledger-types';
import { LedgerConflictError } from '../../src/ports/ledger';
import { ledgerContract, maximalTargetState } from '../contract/ledger.contract';
import { kubeConfig } from './stack-env';

const namespace = DEFAULT_CONTROL_NAMESPACE;
const uniqueKey = () =>
  `it-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}/Deployment/api`;

ledgerContract('KubernetesLedger', async () => ({ ledger: new KubernetesLedger(kubeConfig(), namespace) }));

/** GET a server-side rendered table (what `kubectl get` prints), over the kubeconfig's TLS identity. */
async function getTable(
  kc: KubeConfig,
  path: string,
): Promise<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const options: Parameters<typeof request>[1] = {
    method: 'GET',
    headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(JSON.parse(body))
          : reject(new Error(`HTTP ${res.statusCode}: ${body}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

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
      'Age',
    ]);
    expect(table.rows[0]?.cells.slice(0, 7)).toEqual([
      targetObjectName(key),
      key,
      3,
      '2026-01-02T03:08:05.678Z',
      true,
      'ghi',
      7,
    ]);
  });
});
