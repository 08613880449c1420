/**
 * Every YAML under deploy/ parses, and every object in it is one the API server would accept:
 * built-in kinds against the Kubernetes OpenAPI schemas shipped by kubernetes-models, Tekton
 * Pipelines (and their inline Tasks) against Tekton's real v1 CRD schemas, including the unknown
 * fields that the server would prune or refuse. Plus: every container image has a pinned tag.
 */
import { readFileSync } from 'node:fs';

import { parseCatalogEntry } from '../../../src/domain/catalog';
import { catalogApi } from '../../../src/ports/action-catalog';

import {
  builtInModel,
  compileSchema,
  crdSchema,
  deployManifests,
  find,
  k8sObjects,
  type K8sObject,
  readYamlDocuments,
  repoPath,
  unknownFields,
  validateBuiltIn,
  yamlFilesUnder,
} from './support';

const manifests = deployManifests();
const pipelines = manifests.filter((o) => o.apiVersion === 'tekton.dev/v1' && o.kind === 'Pipeline');
const isAction = (o: K8sObject) =>
  o.apiVersion === `${catalogApi.group}/${catalogApi.version}` && o.kind === catalogApi.kind;
const actions = manifests.filter(isAction);

interface PipelineTask {
  name: string;
  taskSpec?: Record<string, unknown>;
  taskRef?: { name: string };
}
const pipelineTasks = (p: K8sObject) => (p.spec as { tasks: PipelineTask[] }).tasks;

describe('deploy/ YAML', () => {
  it.each(yamlFilesUnder(repoPath('deploy')).map((f) => [f.slice(repoPath().length + 1), f]))(
    '%s parses without errors or warnings',
    (_name, file) => {
      expect(readYamlDocuments(file).length).toBeGreaterThan(0);
    },
  );

  it('every built-in object matches the Kubernetes OpenAPI schema', () => {
    const builtIn = [...manifests, ...yamlFilesUnder(repoPath('deploy/crds')).flatMap(k8sObjects)].filter(
      (o) => o.apiVersion !== 'tekton.dev/v1' && !isAction(o),
    );
    const failures = builtIn.flatMap((o) => {
      try {
        validateBuiltIn(o);
        return [];
      } catch (e) {
        return [`${o.source} ${o.kind}/${o.metadata.name}: ${(e as Error).message}`];
      }
    });
    expect(failures).toEqual([]);
  });

  it('holds only kinds that have a schema here (built-in model, Tekton CRD or our CRD)', () => {
    const unvalidated = manifests.filter(
      (o) => !builtInModel(o) && o.apiVersion !== 'tekton.dev/v1' && !isAction(o),
    );
    expect(unvalidated.map((o) => `${o.source} ${o.apiVersion} ${o.kind}`)).toEqual([]);
  });

  it('puts namespaced objects in the two product namespaces only', () => {
    const namespaces = new Set(manifests.map((o) => o.metadata.namespace).filter(Boolean));
    expect([...namespaces].sort()).toEqual(['remediation-runs', 'remediation-system']);
  });
});

describe('deploy/pipelines against the Tekton v1.15.0 CRDs', () => {
  const pipelineSchema = crdSchema(repoPath('deploy/crds/tekton/300-pipeline.yaml'), 'Pipeline');
  const taskSpecSchema = crdSchema(repoPath('deploy/crds/tekton/300-task.yaml'), 'Task').properties!.spec!;
  const validatePipeline = compileSchema(pipelineSchema);
  const validateTaskSpec = compileSchema(taskSpecSchema);

  it('has the five example remediations', () => {
    expect(pipelines.map((p) => p.metadata.name).sort()).toEqual([
      'delete-job',
      'delete-pod',
      'restart-deployment',
      'restart-statefulset',
      'scale-deployment',
    ]);
  });

  describe.each(pipelines.map((p) => [p.metadata.name, p] as const))('%s', (_name, pipeline) => {
    it('matches the Pipeline schema with no unknown field', () => {
      expect(validatePipeline(pipeline) ? [] : validatePipeline.errors).toEqual([]);
      expect(unknownFields(pipelineSchema, pipeline)).toEqual([]);
    });

    // The Pipeline CRD keeps an inline taskSpec as preserve-unknown-fields; Tekton's webhook
    // validates it as a TaskSpec, so that is the schema it must meet here.
    it('has inline Tasks that match the TaskSpec schema with no unknown field', () => {
      for (const task of pipelineTasks(pipeline)) {
        expect(task.taskSpec).toBeDefined();
        expect(validateTaskSpec(task.taskSpec) ? [] : validateTaskSpec.errors).toEqual([]);
        expect(unknownFields(taskSpecSchema, task.taskSpec)).toEqual([]);
      }
    });

    it('declares every param with a type, and each task uses only declared params', () => {
      const spec = pipeline.spec as { params: { name: string; type?: string }[] };
      expect(spec.params.filter((p) => p.type !== 'string').map((p) => p.name)).toEqual([]);
      const declared = new Set(spec.params.map((p) => p.name));
      const used = [
        ...JSON.stringify(pipelineTasks(pipeline)).matchAll(/\$\(params\.([A-Za-z0-9_-]+)\)/g),
      ].map((m) => m[1]);
      expect(used.filter((name) => !declared.has(name!))).toEqual([]);
    });

    // A shell `script` would splice alert-derived param values into shell code.
    it('runs steps without a shell script', () => {
      for (const task of pipelineTasks(pipeline)) {
        const steps = (task.taskSpec as { steps: Record<string, unknown>[] }).steps;
        expect(steps.filter((s) => 'script' in s).map((s) => s.name)).toEqual([]);
      }
    });

    // A positional value starting with `-` would otherwise be read as a flag (`--all`).
    it('passes every positional argument that holds a param after `--`', () => {
      for (const task of pipelineTasks(pipeline)) {
        const steps = (task.taskSpec as { steps: { name: string; args?: string[] }[] }).steps;
        const before = steps.flatMap(({ name, args = [] }) => {
          const end = args.indexOf('--');
          return (end === -1 ? args : args.slice(0, end))
            .filter((a) => a.includes('$(params.') && !a.startsWith('--'))
            .map((a) => `${name}: ${a}`);
        });
        expect(before).toEqual([]);
      }
    });
  });
});

describe('deploy/actions against the RemediationAction CRD and the worker', () => {
  const schema = crdSchema(
    repoPath('deploy/crds/remediation-actions.yaml'),
    catalogApi.kind,
    catalogApi.version,
  );
  const validate = compileSchema(schema);
  interface Spec {
    pipeline: string;
    serviceAccountName?: string;
    targets?: { kinds?: string[] };
    targetParams?: Record<string, string>;
    params?: { name: string; default?: string }[];
  }
  const specOf = (o: K8sObject) => o.spec as Spec;
  const pipelineParams = (name: string) =>
    (
      pipelines.find((p) => p.metadata.name === name)?.spec as {
        params: { name: string; default?: string }[];
      }
    ).params;

  it('has one RemediationAction per example Pipeline, named after it, in the control namespace', () => {
    expect(actions.map((a) => a.metadata.name).sort()).toEqual(pipelines.map((p) => p.metadata.name).sort());
    for (const a of actions) {
      expect(a.source).toMatch(new RegExp(`^deploy/actions/${a.metadata.name}\\.yaml#0$`));
      expect(specOf(a).pipeline).toBe(a.metadata.name);
      expect(a.metadata.namespace).toBe('remediation-system');
    }
  });

  describe.each(actions.map((a) => [a.metadata.name, a] as const))('%s', (name, action) => {
    it('matches the CRD schema with no unknown field', () => {
      expect(validate(action) ? [] : validate.errors).toEqual([]);
      expect(unknownFields(schema, action)).toEqual([]);
    });

    it('is valid for the worker (parseCatalogEntry)', () => {
      expect(parseCatalogEntry(name, '1', action.spec).problems).toEqual([]);
    });

    it("fills the Pipeline's namespace and name from the target", () => {
      expect(specOf(action).targetParams).toEqual({
        namespace: '{{ target.namespace }}',
        name: '{{ target.name }}',
      });
    });

    it('sets only params its Pipeline declares, and leaves none without a value or a rule', () => {
      const declared = pipelineParams(name);
      const { targetParams = {}, params = [] } = specOf(action);
      const set = [...Object.keys(targetParams), ...params.map((p) => p.name)];
      expect(set.filter((p) => !declared.some((d) => d.name === p))).toEqual([]);
      // A Pipeline param neither filled nor open to callers could never be given: a dead default or a missing value.
      expect(declared.filter((d) => !set.includes(d.name)).map((d) => d.name)).toEqual([]);
    });

    it('runs as the runner ServiceAccount of deploy/pipelines', () => {
      const account = find(manifests, 'ServiceAccount', specOf(action).serviceAccountName ?? '');
      expect(account.metadata.namespace).toBe('remediation-runs');
    });
  });

  it('each action acts on the one kind its Pipeline handles', () => {
    const kinds = Object.fromEntries(actions.map((a) => [a.metadata.name, specOf(a).targets?.kinds]));
    expect(kinds).toEqual({
      'delete-job': ['Job'],
      'delete-pod': ['Pod'],
      'restart-deployment': ['Deployment'],
      'restart-statefulset': ['StatefulSet'],
      'scale-deployment': ['Deployment'],
    });
  });
});

describe('container images', () => {
  /** A tag with at least major.minor, never `latest`, never a bare name (which means latest). */
  const pinned = (image: string) =>
    /^[^:@\s]+(:[^:@\s]*\d+\.\d+[^:@\s]*)(@sha256:[0-9a-f]{64})?$/.test(image);

  const images: [string, string][] = [];
  const collect = (source: string, value: unknown): void => {
    if (Array.isArray(value)) value.forEach((v) => collect(source, v));
    else if (value && typeof value === 'object')
      for (const [key, v] of Object.entries(value)) {
        if (key === 'image' && typeof v === 'string') images.push([source, v]);
        else collect(source, v);
      }
  };
  for (const file of [...yamlFilesUnder(repoPath('deploy')), repoPath('docker-compose.yml')])
    for (const doc of readYamlDocuments(file)) collect(doc.source, doc.value);
  const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8');
  for (const [, image] of dockerfile.matchAll(/^ARG NODE_IMAGE=(\S+)$/gm))
    images.push(['Dockerfile', image!]);

  it('finds the images of deploy/, docker-compose.yml and the Dockerfile', () => {
    expect(images.map(([source]) => source.split('#')[0])).toEqual(
      expect.arrayContaining([
        'deploy/worker.yaml',
        'deploy/pipelines/delete-pod.yaml',
        'docker-compose.yml',
        'Dockerfile',
      ]),
    );
  });

  it.each(images)('%s uses pinned %s', (_source, image) => {
    expect(pinned(image)).toBe(true);
  });

  it('the Dockerfile builds FROM the pinned ARG only', () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(new Set(froms)).toEqual(new Set(['${NODE_IMAGE}']));
  });
});
