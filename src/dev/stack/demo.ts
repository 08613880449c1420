/**
 * What `npm start` adds to the local stack so its printed examples work on a fresh machine: Pipelines
 * the Tekton simulator plays (in the execution namespace) and, for each, a `RemediationAction` of the
 * same name in the control namespace, so `remediate start --action <id>` needs no `--pipeline` and
 * `remediate actions` lists a real catalog. Existing objects are left as they are (edit them freely
 * with kubectl; delete one to get the demo version back on the next start).
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import type { RemediationActionSpecInput } from '../../domain/catalog';
import { isConflict } from '../../k8s/kube';
import { catalogApi } from '../../ports/action-catalog';
import type { StackInfo } from '../../settings';
import { defineSimulatedPipeline } from '../simulator/pipelines';
import { Outcome, type Script } from '../simulator/script';

export interface DemoPipeline {
  name: string;
  script: Script;
}

/** Pipelines the simulator plays. */
export const demoPipelines: readonly DemoPipeline[] = [
  { name: 'restart-deployment', script: { outcome: Outcome.Succeed, durationMs: 3000 } },
  { name: 'broken-remediation', script: { outcome: Outcome.FailStep, durationMs: 2000 } },
];

/** The worker fills the Pipeline's namespace and name from the (locked) target, never from a caller. */
const fromTarget = { namespace: '{{ target.namespace }}', name: '{{ target.name }}' };

/** One catalog entry per demo Pipeline, keyed by action id (= the Pipeline's name). */
export const demoActions: Readonly<Record<string, RemediationActionSpecInput>> = {
  'restart-deployment': {
    description: 'Rolling restart of the target Deployment (simulated: succeeds after 3s).',
    pipeline: 'restart-deployment',
    targets: { kinds: ['Deployment'] },
    targetParams: fromTarget,
    params: [
      {
        name: 'rolloutTimeout',
        description: 'How long to wait for the restarted rollout.',
        enum: ['1m', '2m', '5m', '10m'],
        default: '5m',
      },
    ],
    timeout: '15m',
  },
  'restart-with-approval': {
    description: 'The restart, but only after someone other than the requester approves it.',
    pipeline: 'restart-deployment',
    targets: { kinds: ['Deployment'] },
    targetParams: fromTarget,
    approval: { required: true, forbidSelfApproval: true },
    timeout: '15m',
  },
  'restart-verified': {
    description:
      'The restart, then 2 minutes to see whether the alert resolves (remediate resolve ID, or the intake).',
    pipeline: 'restart-deployment',
    targets: { kinds: ['Deployment'] },
    targetParams: fromTarget,
    verification: { window: '2m' },
    timeout: '15m',
  },
  'restart-dry-run': {
    description: 'The restart as a dry run: shows the exact PipelineRun it would create, creates nothing.',
    pipeline: 'restart-deployment',
    targets: { kinds: ['Deployment'] },
    targetParams: fromTarget,
    mode: 'DryRun',
    timeout: '15m',
  },
  'broken-remediation': {
    description:
      'A fix whose step always fails (simulated): shows an execution failure and the manual review it leaves.',
    pipeline: 'broken-remediation',
    targets: { kinds: ['Deployment'] },
    targetParams: fromTarget,
    timeout: '5m',
  },
};

/** Creates the demo Pipelines and their RemediationActions; existing ones are kept. */
export async function installDemo(
  kubeConfig: KubeConfig,
  info: Pick<StackInfo, 'executionNamespace' | 'controlNamespace'>,
): Promise<void> {
  for (const p of demoPipelines) {
    await defineSimulatedPipeline(kubeConfig, info.executionNamespace, p.name, p.script, {
      keepExisting: true,
    });
  }
  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  for (const [name, spec] of Object.entries(demoActions)) {
    try {
      await objects.createNamespacedCustomObject({
        group: catalogApi.group,
        version: catalogApi.version,
        namespace: info.controlNamespace,
        plural: catalogApi.plural,
        body: {
          apiVersion: `${catalogApi.group}/${catalogApi.version}`,
          kind: catalogApi.kind,
          metadata: { name, labels: { 'app.kubernetes.io/part-of': 'remediation-orchestrator-demo' } },
          spec,
        },
      });
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
}
