import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isConflict } from '../../k8s/kube';
import { TEKTON_GROUP, TEKTON_VERSION, type Pipeline } from '../../domain/tekton';
import { SCRIPT_ANNOTATION, type Script } from './script';

/** A Tekton v1 Pipeline whose simulated runs behave as `script` says. */
export function simulatedPipeline(name: string, script: Script): Pipeline {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'Pipeline',
    metadata: { name, annotations: { [SCRIPT_ANNOTATION]: JSON.stringify(script) } },
    spec: {
      tasks: [{ name: 'fix', taskSpec: { steps: [{ name: 'apply', image: 'busybox', script: 'true' }] } }],
    },
  };
}

/** Creates it in `namespace`; an existing Pipeline of that name is left as it is when `keepExisting`. */
export async function defineSimulatedPipeline(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
  script: Script,
  options: { keepExisting?: boolean } = {},
): Promise<void> {
  try {
    await kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: TEKTON_GROUP,
      version: TEKTON_VERSION,
      namespace,
      plural: 'pipelines',
      body: simulatedPipeline(name, script),
    });
  } catch (error) {
    if (!(options.keepExisting && isConflict(error))) throw error;
  }
}
