/**
 * The CRD schema must list every persisted field: the API server prunes unknown fields and drops
 * nulls from non-nullable ones, silently. This walks the maximal and the all-null states against it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseAllDocuments } from 'yaml';

import { FailureCategory } from '../../../src/domain/model';
import {
  FINGERPRINT_KIND,
  FINGERPRINT_PLURAL,
  fingerprintObjectName,
  LEDGER_GROUP,
  LEDGER_VERSION,
  MAX_AUDIT_ENTRIES,
  MAX_WAITERS,
  TARGET_KIND,
  TARGET_PLURAL,
  targetObjectName,
} from '../../../src/k8s/ledger-types';
import { maximalFingerprintState, maximalTargetState } from '../../contract/ledger.contract';

interface Schema {
  type?: string;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  maxItems?: number;
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
      const child = schema.properties?.[k];
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
    ]);
  });

  it('when the target state has every field set, or every nullable one null, the schema lists all of it', () => {
    const { version: _v, ...maximal } = maximalTargetState('c::ns/Deployment/api');
    const nulls = withNulls(maximal, [
      'nextAllowedExecution',
      'lastFailure',
      'lastSuccess',
      'manualReview',
      'lock',
    ]);
    const schema = specSchema(TARGET_KIND);
    expect([...unschematized(maximal, schema), ...unschematized(nulls, schema)]).toEqual([]);
    expect(schema.required?.slice().sort()).toEqual(Object.keys(maximal).sort());
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

  it('bounds the audit trail and the waiters list as the adapters do', () => {
    const spec = specSchema(TARGET_KIND).properties;
    expect(spec?.audit?.maxItems).toBe(MAX_AUDIT_ENTRIES);
    expect(spec?.waiters?.maxItems).toBe(MAX_WAITERS);
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
