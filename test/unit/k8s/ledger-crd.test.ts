/**
 * The CRD schema must list every persisted field: the API server prunes unknown fields and drops
 * nulls from non-nullable ones, silently. This walks the maximal and the all-null states against it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

import { KubernetesLedger } from '../../../src/adapters/kubernetes-ledger';
import { emptyTargetState, FailureCategory, type TargetState } from '../../../src/domain/model';
import {
  BUDGET_KIND,
  BUDGET_PLURAL,
  FINGERPRINT_KIND,
  FINGERPRINT_PLURAL,
  fingerprintObjectName,
  KEY_HASH_LABEL,
  keyHash,
  LEDGER_API_VERSION,
  LEDGER_FINALIZER,
  LEDGER_GROUP,
  LEDGER_VERSION,
  TARGET_KIND,
  TARGET_PLURAL,
  targetObjectName,
} from '../../../src/k8s/ledger-types';
import {
  AUDIT_ACTIONS,
  LedgerConflictError,
  LedgerRecordDeletedError,
  MAX_AUDIT_BY_LENGTH,
  MAX_AUDIT_ENTRIES,
  MAX_AUDIT_REASON_LENGTH,
  MAX_WAITERS,
  normalizeTargetState,
} from '../../../src/ports/ledger';
import { maximalFingerprintState, maximalTargetState } from '../../contract/ledger.contract';

interface Schema {
  type?: string;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  maxItems?: number;
  maxLength?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}
interface Crd {
  spec: {
    group: string;
    names: { kind: string; plural: string };
    versions: { name: string; schema: { openAPIV3Schema: Schema } }[];
  };
}

const crds = parseAllDocuments(readFileSync(join(__dirname, '../../../deploy/crds/ledger.yaml'), 'utf8')).map(
  (doc) => doc.toJSON() as Crd,
);

function specSchema(kind: string): Schema {
  const crd = crds.find((c) => c.spec.names.kind === kind);
  const version = crd?.spec.versions.find((v) => v.name === LEDGER_VERSION);
  const spec = version?.schema.openAPIV3Schema.properties?.spec;
  if (!spec) throw new Error(`no ${kind} ${LEDGER_VERSION} spec schema`);
  return spec;
}

/** Paths of values the schema would prune or reject by type. */
function unschematized(value: unknown, schema: Schema, path = 'spec'): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  if (value === null) return schema.nullable ? [] : [`${path} (null, not nullable)`];
  if (Array.isArray(value)) {
    if (schema.type !== 'array' || !schema.items) return [`${path} (array)`];
    return value.flatMap((item, i) => unschematized(item, schema.items!, `${path}[${i}]`));
  }
  if (typeof value === 'object') {
    if (schema.type !== 'object') return [`${path} (object)`];
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
      const child = schema.properties?.[k] ?? schema.additionalProperties;
      return child ? unschematized(v, child, `${path}.${k}`) : [`${path}.${k} (unknown field)`];
    });
  }
  const type = typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
  return schema.type === type ? [] : [`${path} (${type}, schema says ${schema.type})`];
}

function withNulls<T extends object>(state: T, nullable: (keyof T)[]): T {
  return { ...state, ...Object.fromEntries(nullable.map((k) => [k, null])) };
}

describe('ledger CRDs (deploy/crds/ledger.yaml)', () => {
  it('declare the group, kinds and plurals the adapter uses', () => {
    expect(crds.map((c) => [c.spec.group, c.spec.names.kind, c.spec.names.plural])).toEqual([
      [LEDGER_GROUP, TARGET_KIND, TARGET_PLURAL],
      [LEDGER_GROUP, FINGERPRINT_KIND, FINGERPRINT_PLURAL],
      [LEDGER_GROUP, BUDGET_KIND, BUDGET_PLURAL],
    ]);
  });

  it('when the target state has every field set, or every nullable one null, the schema lists all of it', () => {
    const { version: _v, ...maximal } = maximalTargetState('c::ns/Deployment/api');
    const nulls = withNulls(maximal, [
      'nextAllowedExecution',
      'lastFailure',
      'lastSuccess',
      'lastDryRun',
      'manualReview',
      'lock',
      'unsettled',
    ]);
    const nestedNulls = {
      ...maximal,
      lastFailure: { ...maximal.lastFailure!, pipelineRun: null },
      lock: { ...maximal.lock!, run: null },
      waiters: maximal.waiters.map((w) => ({ ...w, parked: null })),
    };
    const schema = specSchema(TARGET_KIND);
    expect([
      ...unschematized(maximal, schema),
      ...unschematized(nulls, schema),
      ...unschematized(nestedNulls, schema),
    ]).toEqual([]);
    expect(schema.required?.slice().sort()).toEqual(Object.keys(maximal).sort());
  });

  it('when the maximal target state is written by the adapter, every field it sends is in the schema', async () => {
    const api = new FakeCustomObjects();
    const ledger = new KubernetesLedger(api.kubeConfig(), 'ns');
    await ledger.putTarget(maximalTargetState('c::ns/Deployment/api'));
    const [body] = api.bodies;
    expect(unschematized((body as { spec: unknown }).spec, specSchema(TARGET_KIND))).toEqual([]);
  });

  it('when the fingerprint state has every field set, or every nullable one null, the schema lists all of it', () => {
    const { version: _v, ...maximal } = maximalFingerprintState('c::ns/fp', 'fp');
    const nulls = {
      ...withNulls(maximal, ['lastFailureAt', 'active']),
      duplicates: { count: 0, lastAt: null },
    };
    const schema = specSchema(FINGERPRINT_KIND);
    expect([...unschematized(maximal, schema), ...unschematized(nulls, schema)]).toEqual([]);
    expect(schema.required?.slice().sort()).toEqual(Object.keys(maximal).sort());
  });

  it('enumerates exactly the FailureCategory values of the model', () => {
    const category = specSchema(TARGET_KIND).properties?.lastFailure?.properties?.category;
    expect(category?.enum).toEqual(Object.values(FailureCategory));
  });

  it('enumerates exactly the audit actions of the model', () => {
    const action = specSchema(TARGET_KIND).properties?.audit?.items?.properties?.action;
    expect(action?.enum).toEqual([...AUDIT_ACTIONS]);
  });

  it('bounds the audit trail, its strings and the waiters list as the adapters do', () => {
    const spec = specSchema(TARGET_KIND).properties;
    expect(spec?.audit?.maxItems).toBe(MAX_AUDIT_ENTRIES);
    expect(spec?.audit?.items?.properties?.by?.maxLength).toBe(MAX_AUDIT_BY_LENGTH);
    expect(spec?.audit?.items?.properties?.reason?.maxLength).toBe(MAX_AUDIT_REASON_LENGTH);
    expect(spec?.waiters?.maxItems).toBe(MAX_WAITERS);
  });
});

/** A target spec as written before unsettled, recordedThrough, auditDropped, lock.run and parked. */
function legacyTargetSpec(key: string): Record<string, unknown> {
  const {
    version: _v,
    unsettled: _u,
    recordedThrough: _r,
    auditDropped: _a,
    ...spec
  } = maximalTargetState(key);
  const { run: _run, ...lock } = spec.lock!;
  return { ...spec, lock, waiters: spec.waiters.map(({ parked: _p, ...w }) => w) };
}

/** What a legacy record must read as: the new fields at their empty values. */
function legacyAsRead(key: string, version: string): TargetState {
  const maximal = maximalTargetState(key);
  return {
    ...maximal,
    version,
    lock: { ...maximal.lock!, run: null },
    waiters: maximal.waiters.map((w) => ({ ...w, parked: null })),
    unsettled: null,
    recordedThrough: 0,
    auditDropped: 0,
  };
}

interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  } & Record<string, unknown>;
  spec: Record<string, unknown>;
}

/** Just enough of CustomObjectsApi (get, create, replace with resourceVersion) to drive the adapter. */
class FakeCustomObjects {
  readonly objects = new Map<string, StoredObject>();
  readonly calls: string[] = [];
  readonly bodies: unknown[] = [];
  private rv = 100;

  kubeConfig(): KubeConfig {
    return { makeApiClient: () => this } as unknown as KubeConfig;
  }

  store(object: StoredObject): StoredObject {
    const stored = structuredClone({
      ...object,
      metadata: { ...object.metadata, resourceVersion: String(++this.rv) },
    });
    this.objects.set(object.metadata.name, stored);
    return structuredClone(stored);
  }

  async getNamespacedCustomObject({ name }: { name: string }): Promise<StoredObject> {
    this.calls.push(`get ${name}`);
    const object = this.objects.get(name);
    if (!object) throw Object.assign(new Error('not found'), { statusCode: 404 });
    return structuredClone(object);
  }

  async createNamespacedCustomObject({ body }: { body: StoredObject }): Promise<StoredObject> {
    this.calls.push(`create ${body.metadata.name}`);
    this.bodies.push(structuredClone(body));
    if (this.objects.has(body.metadata.name)) throw Object.assign(new Error('exists'), { statusCode: 409 });
    return this.store(body);
  }

  async replaceNamespacedCustomObject({ name, body }: { name: string; body: StoredObject }) {
    this.calls.push(`replace ${name}`);
    this.bodies.push(structuredClone(body));
    const current = this.objects.get(name);
    if (!current) throw Object.assign(new Error('not found'), { statusCode: 404 });
    if (current.metadata.resourceVersion !== body.metadata.resourceVersion)
      throw Object.assign(new Error('conflict'), { statusCode: 409 });
    const deletionTimestamp = current.metadata.deletionTimestamp;
    const added = (body.metadata.finalizers ?? []).filter((f) => !current.metadata.finalizers?.includes(f));
    if (deletionTimestamp && added.length > 0)
      throw Object.assign(new Error('no new finalizers can be added if the object is being deleted'), {
        statusCode: 422,
      });
    return this.store({
      ...body,
      metadata: { ...body.metadata, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
    });
  }
}

describe('records written before the newer fields existed', () => {
  const key = 'c::ns/Deployment/api';
  const name = targetObjectName(key);
  const legacyObject = (metadata: Partial<StoredObject['metadata']> = {}): StoredObject => ({
    apiVersion: LEDGER_API_VERSION,
    kind: TARGET_KIND,
    metadata: { name, namespace: 'ns', labels: { [KEY_HASH_LABEL]: keyHash(key) }, ...metadata },
    spec: legacyTargetSpec(key),
  });

  it('normalizeTargetState gives the new fields their empty values and keeps everything else', () => {
    const spec = legacyTargetSpec(key) as unknown as Parameters<typeof normalizeTargetState>[0];
    expect(normalizeTargetState(spec, '7')).toStrictEqual(legacyAsRead(key, '7'));
    expect(normalizeTargetState({ ...spec, lock: null, waiters: [] }, null)).toMatchObject({
      lock: null,
      waiters: [],
    });
    // A current record is left as it is.
    const { version: _v, ...current } = maximalTargetState(key);
    expect(normalizeTargetState(current, '8')).toStrictEqual({ ...maximalTargetState(key), version: '8' });
  });

  it('when the Kubernetes adapter reads one, it reads as if the new fields were empty (get and list)', async () => {
    const api = new FakeCustomObjects();
    const stored = api.store(legacyObject());
    const ledger = new KubernetesLedger(api.kubeConfig(), 'ns');
    await expect(ledger.getTarget(key)).resolves.toStrictEqual(
      legacyAsRead(key, stored.metadata.resourceVersion!),
    );
    const listing = { items: [stored], metadata: {} };
    Object.assign(api, { listNamespacedCustomObject: async () => listing });
    await expect(ledger.listTargets()).resolves.toStrictEqual([
      legacyAsRead(key, stored.metadata.resourceVersion!),
    ]);
  });

  it('when the adapter writes one back, it writes every field and adds its finalizer to the others', async () => {
    const api = new FakeCustomObjects();
    api.store(legacyObject({ finalizers: ['example.com/backup'] }));
    const ledger = new KubernetesLedger(api.kubeConfig(), 'ns');
    const read = await ledger.getTarget(key);
    const written = await ledger.putTarget({ ...read, recordedThrough: 7 });
    expect(written).toStrictEqual({ ...read, recordedThrough: 7, version: written.version });
    const object = api.objects.get(name)!;
    expect(object.metadata.finalizers).toEqual(['example.com/backup', LEDGER_FINALIZER]);
    expect(Object.keys(object.spec).sort()).toEqual(
      Object.keys(emptyTargetState(key))
        .filter((k) => k !== 'version')
        .sort(),
    );
    // The finalizers came from the read: no second GET before the replace.
    expect(api.calls).toEqual([`get ${name}`, `replace ${name}`]);
  });

  it('when one is terminating and held only by others, the adapter keeps their finalizers and adds none', async () => {
    const api = new FakeCustomObjects();
    api.store(
      legacyObject({ finalizers: ['example.com/backup'], deletionTimestamp: '2026-01-01T00:00:00Z' }),
    );
    const ledger = new KubernetesLedger(api.kubeConfig(), 'ns');
    const read = await ledger.getTarget(key);
    await ledger.putTarget({ ...read, consecutiveFailures: 0 });
    expect(api.objects.get(name)!.metadata.finalizers).toEqual(['example.com/backup']);
  });
});

describe('KubernetesLedger finalizer bookkeeping', () => {
  const key = 'c::ns/Deployment/api';
  const name = targetObjectName(key);

  it('when a record is created, it carries the finalizer', async () => {
    const api = new FakeCustomObjects();
    await new KubernetesLedger(api.kubeConfig(), 'ns').putTarget(emptyTargetState(key));
    expect(api.objects.get(name)!.metadata.finalizers).toEqual([LEDGER_FINALIZER]);
  });

  it('when another adapter instance wrote since, a write reads the finalizers first and keeps them', async () => {
    const api = new FakeCustomObjects();
    const a = new KubernetesLedger(api.kubeConfig(), 'ns');
    const b = new KubernetesLedger(api.kubeConfig(), 'ns');
    const created = await a.putTarget(emptyTargetState(key));
    const stored = api.objects.get(name)!;
    stored.metadata.finalizers = [LEDGER_FINALIZER, 'example.com/backup'];
    stored.metadata.resourceVersion = '500';
    // b never saw the object: it reads its metadata before replacing.
    const read = await b.getTarget(key);
    api.calls.length = 0;
    await b.putTarget({ ...read, consecutiveFailures: 1 });
    expect(api.calls).toEqual([`replace ${name}`]);
    expect(api.objects.get(name)!.metadata.finalizers).toEqual([LEDGER_FINALIZER, 'example.com/backup']);

    // a remembers the object at `created.version`: its replace goes out and the server refuses it.
    api.calls.length = 0;
    await expect(a.putTarget({ ...created, consecutiveFailures: 2 })).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    expect(api.calls).toEqual([`replace ${name}`]);

    // A fresh instance knows nothing: the read before the replace already shows the version moved on.
    api.calls.length = 0;
    const c = new KubernetesLedger(api.kubeConfig(), 'ns');
    await expect(c.putTarget({ ...created, consecutiveFailures: 2 })).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    expect(api.calls).toEqual([`get ${name}`]);
    expect(api.objects.get(name)!.spec.consecutiveFailures).toBe(1);
  });

  it('when the record is gone at the replace, throws LedgerRecordDeletedError and creates nothing', async () => {
    const api = new FakeCustomObjects();
    const ledger = new KubernetesLedger(api.kubeConfig(), 'ns');
    const created = await ledger.putTarget(emptyTargetState(key));
    api.objects.delete(name);
    await expect(ledger.putTarget({ ...created, fencingToken: 1 })).rejects.toBeInstanceOf(
      LedgerRecordDeletedError,
    );
    // Unknown to this instance too: the pre-read finds nothing.
    const other = new KubernetesLedger(api.kubeConfig(), 'ns');
    await expect(other.putTarget({ ...created, fencingToken: 1 })).rejects.toBeInstanceOf(
      LedgerRecordDeletedError,
    );
    expect(api.objects.size).toBe(0);
    expect(api.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
  });
});

describe('ledger object names', () => {
  it.each([
    ['prod/Deployment/api'],
    ['cluster-a::prod/Deployment/api'],
    ['Node/worker-1'],
    ['x'.repeat(1000)],
  ])('when the key is %s, the name is a valid DNS-1123 subdomain of fixed length', (key) => {
    for (const name of [targetObjectName(key), fingerprintObjectName(key)]) {
      expect(name).toMatch(/^[tf]-[0-9a-f]{40}$/);
    }
  });

  it('when keys differ only in case, the names differ', () => {
    expect(targetObjectName('prod/Deployment/api')).not.toBe(targetObjectName('prod/deployment/api'));
  });
});
