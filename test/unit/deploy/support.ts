/**
 * Shared by the deploy/ artifact tests: reading every YAML document, and validating Kubernetes
 * objects offline against real schemas — the Kubernetes OpenAPI (kubernetes-models) for built-in
 * kinds, Tekton's own v1 CRD schemas (deploy/crds/tekton) for Tekton kinds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// ajv 8 and the Kubernetes formats (int32, int64, date-time, …) are what kubernetes-models itself
// validates with: both come with it (@kubernetes-models/validate), no extra dependency.
import { formats } from '@kubernetes-models/validate';
import Ajv, { type ValidateFunction } from 'ajv';
import { Namespace, ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { parseAllDocuments } from 'yaml';

export const repoRoot = join(__dirname, '../../..');
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface YamlDocument {
  /** Repository-relative path and document index, for messages: `deploy/rbac.yaml#2`. */
  source: string;
  value: unknown;
}

/** Every document of a YAML file; a syntax error or warning fails (Kubernetes would refuse it). */
export function readYamlDocuments(path: string): YamlDocument[] {
  const file = relative(repoRoot, path);
  return parseAllDocuments(readFileSync(path, 'utf8'), { merge: true })
    .filter((doc) => doc.contents !== null)
    .map((doc, i) => {
      const problems = [...doc.errors, ...doc.warnings];
      if (problems.length > 0) throw new Error(`${file}#${i}: ${problems.map((e) => e.message).join('; ')}`);
      return { source: `${file}#${i}`, value: doc.toJS() as unknown };
    });
}

/** Every *.yaml / *.yml under a folder, recursively, sorted. */
export function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export type Sourced<T> = T & { readonly source: string };

/**
 * The objects of a file, each with its `source` for messages. `source` is not enumerable, so
 * validators, spreads and JSON never see it as a field of the object.
 */
export function k8sObjects(path: string): Sourced<K8sObject>[] {
  return readYamlDocuments(path).map(({ source, value }) =>
    Object.defineProperty(value as K8sObject, 'source', { value: source, enumerable: false }),
  ) as Sourced<K8sObject>[];
}

/** Files under deploy/ that are not Kubernetes objects: the intake's routes, Alertmanager's receiver. */
const notManifests = ['intake-routes.yaml', 'alertmanager-receiver.yaml'];

/** The example manifests (deploy/ without the vendored / generated CRDs). */
export function deployManifests(): Sourced<K8sObject>[] {
  return yamlFilesUnder(repoPath('deploy'))
    .filter((f) => !f.includes('/crds/') && !notManifests.some((name) => f.endsWith(`/${name}`)))
    .flatMap(k8sObjects);
}

export function find<T extends K8sObject>(objects: readonly K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/`);
  return found as T;
}

// ------------------------------------------------------------------ built-in kinds

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** Built-in kinds used by deploy/; a new kind must be added here to be validated at all. */
const builtInModels: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

export function builtInModel(object: K8sObject): ModelClass | undefined {
  return builtInModels[`${object.apiVersion}/${object.kind}`];
}

/** Throws the Kubernetes OpenAPI validation errors of a built-in object. */
export function validateBuiltIn(object: K8sObject): void {
  const Model = builtInModel(object);
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
}

// ------------------------------------------------------------------ CRD-defined kinds

export interface StructuralSchema {
  type?: string;
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  [keyword: string]: unknown;
}

interface Crd {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; schema: { openAPIV3Schema: StructuralSchema } }[];
  };
}

/** The v1 openAPIV3Schema of a kind from a CRD file. */
export function crdSchema(crdFile: string, kind: string, version = 'v1'): StructuralSchema {
  const crd = readYamlDocuments(crdFile)
    .map((d) => d.value as Crd)
    .find((c) => c.spec.names.kind === kind);
  const schema = crd?.spec.versions.find((v) => v.name === version)?.schema.openAPIV3Schema;
  if (!schema) throw new Error(`${crdFile} has no ${kind} ${version} schema`);
  return schema;
}

// OpenAPI extensions (nullable, x-kubernetes-*) are not JSON Schema: strict mode off ignores them.
const ajv = new Ajv({ strict: false, allErrors: true });
for (const [name, format] of Object.entries(formats)) ajv.addFormat(name, format);

export function compileSchema(schema: object): ValidateFunction {
  return ajv.compile(schema);
}

/**
 * Fields a structural schema does not declare: the API server prunes them silently, or refuses
 * them with strict field validation (kubectl's default). JSON Schema alone cannot see them because
 * Kubernetes schemas never say `additionalProperties: false`.
 */
export function unknownFields(schema: StructuralSchema, value: unknown, path = ''): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] || value === null || typeof value !== 'object')
    return [];
  if (Array.isArray(value))
    return schema.items ? value.flatMap((v, i) => unknownFields(schema.items!, v, `${path}[${i}]`)) : [];
  const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  return Object.entries(value).flatMap(([key, v]) => {
    // The root `metadata` is ObjectMeta, validated by the API server itself, not by the CRD.
    if (path === '' && key === 'metadata') return [];
    const child = schema.properties?.[key] ?? extra;
    return child ? unknownFields(child, v, `${path}.${key}`) : [`${path}.${key}`];
  });
}
