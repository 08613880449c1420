/**
 * The example Pipelines of deploy/pipelines on the stack's real API server, which serves Tekton's
 * own v1.15.0 CRDs: a dry-run create with strict field validation, so a field Tekton's schema would
 * refuse or silently prune fails here instead of at `kubectl apply`. Tekton's CRD leaves inline
 * taskSpecs unchecked (its webhook validates them), so each is also dry-run created as a Task.
 * Likewise the example RemediationActions of deploy/actions against our CRD, and the worker's own
 * validation (parseCatalogEntry) of what the server stored.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';

import { parseCatalogEntry } from '../../src/domain/catalog';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural } from '../../src/domain/tekton';
import { catalogApi } from '../../src/ports/action-catalog';
import { k8sObjects, repoPath, yamlFilesUnder } from '../unit/deploy/support';
import { kubeConfig, stackInfo } from './stack-env';

const pipelines = yamlFilesUnder(repoPath('deploy/pipelines'))
  .flatMap(k8sObjects)
  .filter((o) => o.apiVersion === 'tekton.dev/v1' && o.kind === 'Pipeline');

const actions = yamlFilesUnder(repoPath('deploy/actions'))
  .flatMap(k8sObjects)
  .filter((o) => o.apiVersion === `${catalogApi.group}/${catalogApi.version}` && o.kind === catalogApi.kind);

const api = kubeConfig().makeApiClient(CustomObjectsApi);

/** Nothing is stored: dryRun All runs admission, schema validation and pruning, then discards. */
function dryRunCreate(plural: string, body: object) {
  return api.createNamespacedCustomObject({
    group: TEKTON_GROUP,
    version: TEKTON_VERSION,
    namespace: stackInfo().executionNamespace,
    plural,
    body,
    dryRun: 'All',
    fieldValidation: 'Strict',
  });
}

describe('deploy/pipelines on the real Tekton v1 CRDs', () => {
  it('finds the example Pipelines, all in the execution namespace', () => {
    expect(pipelines.length).toBe(5);
    for (const p of pipelines) expect(p.metadata.namespace).toBe(stackInfo().executionNamespace);
  });

  it.each(pipelines.map((p) => [p.metadata.name, p] as const))(
    '%s is accepted as a Pipeline, unchanged',
    async (_name, pipeline) => {
      const stored = (await dryRunCreate(TektonPlural.Pipeline, pipeline)) as { spec: unknown };
      // Equal after the round trip = nothing pruned or defaulted away.
      expect(stored.spec).toEqual(pipeline.spec);
    },
  );

  it.each(pipelines.map((p) => [p.metadata.name, p] as const))(
    '%s has inline Tasks accepted as Tasks',
    async (name, pipeline) => {
      for (const task of (pipeline.spec as { tasks: { name: string; taskSpec: object }[] }).tasks) {
        const body = {
          apiVersion: 'tekton.dev/v1',
          kind: 'Task',
          metadata: { name: `${name}-${task.name}` },
          spec: task.taskSpec,
        };
        const stored = (await dryRunCreate('tasks', body)) as { spec: unknown };
        expect(stored.spec).toEqual(task.taskSpec);
      }
    },
  );

  // Guards the guard: strict validation really is on for this server and these CRDs.
  it('refuses a Pipeline with a misspelled field', async () => {
    const [pipeline] = pipelines;
    const broken = { ...pipeline, spec: { ...(pipeline!.spec as object), paramz: [] } };
    await expect(dryRunCreate(TektonPlural.Pipeline, broken)).rejects.toMatchObject({ code: 400 });
  });
});

describe('deploy/actions on the real RemediationAction CRD', () => {
  /** Nothing is stored: dryRun All validates, prunes and defaults, then discards. */
  function dryRunCreateAction(body: object) {
    return api.createNamespacedCustomObject({
      group: catalogApi.group,
      version: catalogApi.version,
      namespace: stackInfo().controlNamespace,
      plural: catalogApi.plural,
      body,
      dryRun: 'All',
      fieldValidation: 'Strict',
    });
  }

  it('finds one example RemediationAction per example Pipeline, all in the control namespace', () => {
    expect(actions.map((a) => a.metadata.name).sort()).toEqual(pipelines.map((p) => p.metadata.name).sort());
    for (const a of actions) expect(a.metadata.namespace).toBe(stackInfo().controlNamespace);
  });

  it.each(actions.map((a) => [a.metadata.name, a] as const))(
    '%s is accepted unchanged, and what the server stores is valid for the worker',
    async (name, action) => {
      const stored = (await dryRunCreateAction(action)) as {
        metadata: { resourceVersion?: string };
        spec: unknown;
      };
      expect(stored.spec).toEqual(action.spec);
      expect(parseCatalogEntry(name, stored.metadata.resourceVersion ?? '', stored.spec).problems).toEqual(
        [],
      );
    },
  );

  // Guards the guard: strict validation really is on for this CRD.
  it('refuses a RemediationAction with a misspelled field', async () => {
    const [action] = actions;
    const broken = { ...action, spec: { ...(action!.spec as object), targetParam: {} } };
    await expect(dryRunCreateAction(broken)).rejects.toMatchObject({ code: 400 });
  });
});
