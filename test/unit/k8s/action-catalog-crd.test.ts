/**
 * deploy/crds/remediation-actions.yaml mirrors the worker's validator (remediationActionSpecSchema):
 * the same fields at every level (the API server would prune an unlisted one silently), the same
 * bounds (catalogLimits, requestLimits), the same enums and name patterns, and it never refuses a
 * spec the worker accepts. What only the worker checks is covered by the contract.
 */
import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { parse } from 'yaml';
import type { z } from 'zod';

import {
  ActionMode,
  catalogLimits,
  parseCatalogEntry,
  remediationActionSpecSchema,
} from '../../../src/domain/catalog';
import { formatDuration, parseDuration } from '../../../src/domain/duration';
import { KIND, requestLimits, TEKTON_PARAM_NAME } from '../../../src/domain/request';
import { demoActions } from '../../../src/dev/stack/demo';
import { catalogApi } from '../../../src/ports/action-catalog';
import { fullSpec } from '../../contract/action-catalog.contract';
import { compileSchema, crdSchema, repoPath, type StructuralSchema, unknownFields } from '../deploy/support';

const CRD_FILE = repoPath('deploy/crds/remediation-actions.yaml');
const root = crdSchema(CRD_FILE, catalogApi.kind, catalogApi.version);
const spec = root.properties!.spec!;
const validate = compileSchema(root);

type AnySchema = z.core.$ZodType;
/** The object or array inside optional / default wrappers. */
function unwrap(schema: AnySchema): AnySchema {
  const def = schema._zod.def as { type: string; innerType?: AnySchema };
  return (def.type === 'optional' || def.type === 'default') && def.innerType
    ? unwrap(def.innerType)
    : schema;
}
const shapeOf = (schema: AnySchema) =>
  (unwrap(schema) as unknown as { shape: Record<string, AnySchema> }).shape;
const elementOf = (schema: AnySchema) =>
  (unwrap(schema)._zod.def as unknown as { element: AnySchema }).element;

const worker = shapeOf(remediationActionSpecSchema());
const props = (s: StructuralSchema) => Object.keys(s.properties ?? {}).sort();
const asObject = (value: unknown) => ({
  apiVersion: `${catalogApi.group}/${catalogApi.version}`,
  kind: catalogApi.kind,
  metadata: { name: 'x' },
  spec: value,
});
/** Whether the CRD accepts a spec: schema and no field it would prune. */
const crdAccepts = (value: unknown) =>
  validate(asObject(value)) && unknownFields(root, asObject(value)).length === 0;

describe('the RemediationAction CRD', () => {
  it('is remediationactions.remediation.dev, namespaced, short name ract, v1alpha1 served and stored', () => {
    const crd = readCrd();
    expect(crd.metadata.name).toBe(`${catalogApi.plural}.${catalogApi.group}`);
    expect(crd.spec).toMatchObject({
      group: catalogApi.group,
      scope: 'Namespaced',
      names: { kind: catalogApi.kind, plural: catalogApi.plural, shortNames: ['ract'] },
    });
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([
      [catalogApi.version, true, true],
    ]);
  });

  it('lists the same fields as the worker, at every level', () => {
    expect(props(spec)).toEqual(Object.keys(worker).sort());
    expect(props(spec.properties!.targets!)).toEqual(Object.keys(shapeOf(worker.targets!)).sort());
    expect(props(spec.properties!.params!.items!)).toEqual(
      Object.keys(shapeOf(elementOf(worker.params!))).sort(),
    );
    expect(props(spec.properties!.approval!)).toEqual(Object.keys(shapeOf(worker.approval!)).sort());
    expect(props(spec.properties!.verification!)).toEqual(Object.keys(shapeOf(worker.verification!)).sort());
    expect(spec.required).toEqual(['pipeline']);
    expect(root.required).toEqual(['spec']);
  });

  it('has the worker bounds', () => {
    const p = spec.properties!;
    const rule = p.params!.items!.properties!;
    expect({
      description: p.description!.maxLength,
      params: p.params!.maxItems,
      kinds: p.targets!.properties!.kinds!.maxItems,
      namespaces: p.targets!.properties!.namespaces!.maxItems,
      template: (p.targetParams!.additionalProperties as StructuralSchema).maxLength,
      ruleDescription: rule.description!.maxLength,
      pattern: rule.pattern!.maxLength,
      enumValues: rule.enum!.maxItems,
      enumValue: rule.enum!.items!.maxLength,
      maxLength: rule.maxLength!.maximum,
      default: rule.default!.maxLength,
    }).toEqual({
      description: catalogLimits.maxDescriptionChars,
      params: catalogLimits.maxParams,
      kinds: catalogLimits.maxGlobs,
      namespaces: catalogLimits.maxGlobs,
      template: catalogLimits.maxTemplateChars,
      ruleDescription: catalogLimits.maxDescriptionChars,
      pattern: catalogLimits.maxPatternChars,
      enumValues: catalogLimits.maxEnumValues,
      enumValue: requestLimits.maxParamValueChars,
      maxLength: requestLimits.maxParamValueChars,
      default: requestLimits.maxParamValueChars,
    });
  });

  it('has the worker enums and name patterns', () => {
    const p = spec.properties!;
    expect(p.mode!.enum).toEqual(Object.values(ActionMode));
    expect(p.mode!.default).toBe(ActionMode.Enforce);
    expect(p.targets!.properties!.kinds!.items!.pattern).toBe(KIND.source);
    expect(p.params!.items!.properties!.name!.pattern).toBe(TEKTON_PARAM_NAME.source);
  });

  it.each<[string, unknown]>([
    ['the contract full spec', fullSpec()],
    ['the smallest spec', { pipeline: 'p' }],
    ...Object.entries(demoActions).map(([id, s]): [string, unknown] => [`demo action ${id}`, s]),
    ['a timeout in ms', { pipeline: 'p', timeout: 90_000 }],
    ['a verification window', { pipeline: 'p', verification: { window: '1h30m' } }],
  ])('accepts %s, which the worker accepts', (_what, value) => {
    expect(parseCatalogEntry('x', '1', value).problems).toEqual([]);
    expect(validate(asObject(value)) ? [] : validate.errors).toEqual([]);
    expect(unknownFields(root, asObject(value))).toEqual([]);
  });

  it('never refuses a name, kind, namespace glob or duration the worker accepts', () => {
    const dns = fc.stringMatching(
      /^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?){0,2}$/,
    );
    const kind = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,20}$/);
    const glob = fc.stringMatching(/^[a-z0-9*?-]{1,63}$/);
    const duration = fc.oneof(
      fc.integer({ min: 1000, max: 86_400_000 }).map(formatDuration),
      fc.integer({ min: 1000, max: 86_400_000 }),
    );
    fc.assert(
      fc.property(dns, dns, kind, glob, duration, (pipeline, serviceAccountName, k, ns, timeout) => {
        const value = { pipeline, serviceAccountName, targets: { kinds: [k], namespaces: [ns] }, timeout };
        expect(parseCatalogEntry('x', '1', value).problems).toEqual([]);
        expect(crdAccepts(value)).toBe(true);
      }),
    );
  });

  it.each<[string, unknown]>([
    ['an unknown mode', { pipeline: 'p', mode: 'Sometimes' }],
    ['no pipeline', {}],
    ['a pipeline with upper case', { pipeline: 'Restart' }],
    ['a lower-case kind', { pipeline: 'p', targets: { kinds: ['pod'] } }],
    ['a namespace with a slash', { pipeline: 'p', targets: { namespaces: ['a/b'] } }],
    ['a param without a name', { pipeline: 'p', params: [{ pattern: 'a' }] }],
    ['a template too long', { pipeline: 'p', targetParams: { a: 'x'.repeat(1025) } }],
    ['a word for a duration', { pipeline: 'p', timeout: 'ten minutes' }],
    ['a misspelled field', { pipeline: 'p', targetParam: {} }],
  ])('refuses %s, which the worker refuses too', (_what, value) => {
    expect(parseCatalogEntry('x', '1', value).problems).not.toEqual([]);
    expect(crdAccepts(value)).toBe(false);
  });

  it('checks durations by shape only; the worker checks their range', () => {
    expect(parseDuration('48h')).toBe(172_800_000);
    expect(crdAccepts({ pipeline: 'p', timeout: '48h' })).toBe(true);
    expect(parseCatalogEntry('x', '1', { pipeline: 'p', timeout: '48h' }).problems).toMatchObject([
      { field: 'spec.timeout' },
    ]);
  });
});

interface CrdDocument {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: object;
    versions: { name: string; served: boolean; storage: boolean }[];
  };
}

function readCrd(): CrdDocument {
  return parse(readFileSync(CRD_FILE, 'utf8')) as CrdDocument;
}
