/**
 * The product as deploy/ installs it, on the conformance stack: `kubectl apply --server-side` of
 * the generated manifests, kubeconfigs holding real tokens of the worker's and the intake's
 * ServiceAccounts, and the test Pipelines and catalog actions whose pods the kwok Stages end as
 * asked (conformance.remediation.dev/outcome on the task's pod, set through the task's metadata).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { OUTCOME_LABEL } from '../../../src/dev/stack/conformance';
import { REPO_ROOT } from '../../../src/dev/stack/kube-api';
import { CONTROL_NAMESPACE, EXECUTION_NAMESPACE } from '../../../src/dev/stack/stack';
import { catalogApi } from '../../../src/ports/action-catalog';
import type { RemediationActionSpecInput } from '../../../src/domain/catalog';
import { TEKTON_GROUP, TEKTON_VERSION } from '../../../src/domain/tekton';
import { manifestFiles, requestToken, serverSideApply, writeTokenKubeconfig } from './kube-identity';

export const WORKER_SA = 'remediation-worker';
export const INTAKE_SA = 'remediation-intake';
export const RUNNER_SA = 'remediation-runner';

const deploy = (...p: string[]): string => join(REPO_ROOT, 'deploy', ...p);

/**
 * What deploy/README.md tells operators to apply, in that order:
 * `kubectl apply --server-side -f deploy/crds/ledger.yaml -f deploy/crds/remediation-actions.yaml
 * -f deploy/ -f deploy/pipelines/ -f deploy/actions/`.
 */
export const DEPLOY_FILES = (): string[] =>
  manifestFiles([
    deploy('crds', 'ledger.yaml'),
    deploy('crds', 'remediation-actions.yaml'),
    deploy(),
    deploy('pipelines'),
    deploy('actions'),
  ]);

export function applyDeploy(admin: KubeConfig): Promise<string[]> {
  return serverSideApply(admin, DEPLOY_FILES());
}

/** The policy of deploy/'s remediation-config ConfigMap (what the worker Deployment reads). */
export function deployedPolicy(): Record<string, unknown> {
  for (const doc of parseAllDocuments(readFileSync(deploy('worker.yaml'), 'utf8'))) {
    const obj = doc.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> };
    if (obj?.kind === 'ConfigMap' && obj.metadata?.name === 'remediation-config') {
      const [config] = parseAllDocuments(obj.data?.['config.yaml'] ?? '');
      return config?.toJS() as Record<string, unknown>;
    }
  }
  throw new Error('deploy/worker.yaml has no ConfigMap remediation-config');
}

export interface Identity {
  user: string;
  kubeconfig: string;
  kc: KubeConfig;
}

/** `kubectl create token <sa>` and a kubeconfig using only that token. */
export async function serviceAccountIdentity(
  admin: KubeConfig,
  serviceAccount: string,
  file: string,
  { server, caCertFile }: { server: string; caCertFile: string },
): Promise<Identity> {
  const token = await requestToken(admin, CONTROL_NAMESPACE, serviceAccount);
  const user = `system:serviceaccount:${CONTROL_NAMESPACE}:${serviceAccount}`;
  return { user, kubeconfig: file, kc: writeTokenKubeconfig(file, { server, caCertFile, user, token }) };
}

/**
 * A one-task Pipeline in the execution namespace whose pod the fake kubelet ends as `outcome` says
 * (none: success). Tekton copies an embedded task's metadata to its TaskRun and pod. The step is
 * hardened like deploy/pipelines', as the execution namespace enforces the restricted Pod Security
 * Standard.
 */
export function outcomePipeline(name: string, outcome?: string): Record<string, unknown> {
  return {
    apiVersion: `${TEKTON_GROUP}/${TEKTON_VERSION}`,
    kind: 'Pipeline',
    metadata: { name, namespace: EXECUTION_NAMESPACE },
    spec: {
      params: [
        { name: 'namespace', type: 'string' },
        { name: 'name', type: 'string' },
      ],
      tasks: [
        {
          name: 'fix',
          params: [
            { name: 'namespace', value: '$(params.namespace)' },
            { name: 'name', value: '$(params.name)' },
          ],
          taskSpec: {
            ...(outcome ? { metadata: { labels: { [OUTCOME_LABEL]: outcome } } } : {}),
            params: [
              { name: 'namespace', type: 'string' },
              { name: 'name', type: 'string' },
            ],
            stepTemplate: {
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 65532,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
            steps: [
              {
                name: 'apply',
                image: 'registry.k8s.io/kubectl:v1.33.4',
                command: ['kubectl'],
                args: [
                  'rollout',
                  'restart',
                  '--namespace=$(params.namespace)',
                  '--',
                  'deployment/$(params.name)',
                ],
              },
            ],
          },
        },
      ],
    },
  };
}

/** A catalog entry (RemediationAction in the control namespace) running `pipeline` as the runner. */
export function catalogAction(
  name: string,
  pipeline: string,
  spec: Partial<RemediationActionSpecInput> = {},
): Record<string, unknown> {
  return {
    apiVersion: `${catalogApi.group}/${catalogApi.version}`,
    kind: catalogApi.kind,
    metadata: { name, namespace: CONTROL_NAMESPACE },
    spec: {
      pipeline,
      serviceAccountName: RUNNER_SA,
      targets: { kinds: ['Deployment'] },
      targetParams: { namespace: '{{ target.namespace }}', name: '{{ target.name }}' },
      ...spec,
    },
  };
}
