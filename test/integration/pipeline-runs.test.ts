/**
 * KubernetesPipelineRuns against the integration stack's real API server (Tekton v1.15 CRDs) with
 * the stack's Tekton simulator playing the controller.
 */
import { randomBytes } from 'node:crypto';

import { CustomObjectsApi } from '@kubernetes/client-node';

import { KubernetesPipelineRuns } from '../../src/adapters/kubernetes-pipeline-runs';
import {
  TEKTON_API_VERSION,
  TEKTON_GROUP,
  TEKTON_VERSION,
  TektonPlural,
  type Pipeline,
} from '../../src/domain/tekton';
import { PipelineRunRejectedError } from '../../src/ports/pipeline-runs';
import { SCRIPT_ANNOTATION } from '../../src/dev/simulator';
import { pipelineRunsContract } from '../contract/pipeline-runs.contract';
import { kubeConfig, stackInfo } from './stack-env';

const namespace = stackInfo().executionNamespace;

async function definePipeline(name: string, script: { outcome: string; durationMs?: number }): Promise<void> {
  const body: Pipeline = {
    apiVersion: TEKTON_API_VERSION,
    kind: 'Pipeline',
    metadata: { name, annotations: { [SCRIPT_ANNOTATION]: JSON.stringify(script) } },
    spec: { tasks: [{ name: 'fix', taskSpec: { steps: [{ name: 'apply', image: 'busybox' }] } }] },
  };
  await kubeConfig().makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: TEKTON_GROUP,
    version: TEKTON_VERSION,
    namespace,
    plural: TektonPlural.Pipeline,
    body,
  });
}

/** Deletes a PipelineRun directly through the API, as someone running `kubectl delete` would. */
async function deleteRun(name: string): Promise<void> {
  await kubeConfig().makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
    group: TEKTON_GROUP,
    version: TEKTON_VERSION,
    namespace,
    plural: TektonPlural.PipelineRun,
    name,
  });
}

pipelineRunsContract('KubernetesPipelineRuns', async () => {
  // No idle linger: the contract sees the shared watch close when its last wait ends.
  const runs = new KubernetesPipelineRuns(kubeConfig(), { watchIdleMs: 0 });
  return { runs, namespace, definePipeline, deleteRun, teardown: async () => runs.close() };
});

describe('KubernetesPipelineRuns on a real API server', () => {
  it('when the API server refuses the object (invalid name) → PipelineRunRejectedError 422', async () => {
    const runs = new KubernetesPipelineRuns(kubeConfig());
    const create = runs.create({ name: 'Not_A_DNS_Name', namespace, pipeline: 'p', params: {}, labels: {} });
    await expect(create).rejects.toThrow(PipelineRunRejectedError);
    await expect(create).rejects.toMatchObject({ status: 422 });
  });

  it('writes the request into the PipelineRun spec as Tekton expects it', async () => {
    const runs = new KubernetesPipelineRuns(kubeConfig());
    const pipeline = `p-${randomBytes(4).toString('hex')}`;
    await definePipeline(pipeline, { outcome: 'succeed' });
    const name = `spec-${randomBytes(4).toString('hex')}`;
    await runs.create({
      name,
      namespace,
      pipeline,
      params: { target: 'prod/Deployment/api', replicas: '3' },
      serviceAccountName: 'remediator',
      timeout: '30m0s',
      labels: { 'remediation.dev/remediation-id': name },
      annotations: { 'remediation.dev/reason': 'test' },
    });
    const pr = (await kubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: TEKTON_GROUP,
      version: TEKTON_VERSION,
      namespace,
      plural: TektonPlural.PipelineRun,
      name,
    })) as {
      metadata: { labels: object; annotations: object };
      spec: object;
    };
    expect(pr.spec).toEqual({
      pipelineRef: { name: pipeline },
      params: [
        { name: 'target', value: 'prod/Deployment/api' },
        { name: 'replicas', value: '3' },
      ],
      taskRunTemplate: { serviceAccountName: 'remediator' },
      timeouts: { pipeline: '30m0s' },
    });
    expect(pr.metadata.labels).toEqual({ 'remediation.dev/remediation-id': name });
    expect(pr.metadata.annotations).toEqual({ 'remediation.dev/reason': 'test' });
    expect(await runs.waitForCompletion(namespace, name, { heartbeatMs: 500 })).toMatchObject({
      state: 'succeeded',
    });
    runs.close();
  });
});
