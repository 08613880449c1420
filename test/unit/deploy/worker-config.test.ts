/**
 * The worker Deployment and its ConfigMap against the code that reads them: the policy passes
 * parsePolicyConfig with every policy knob (docs/behaviour.md#defaults) written out at its default, every env var is one
 * src/settings.ts actually reads, and the pod shape holds the operational promises (2 replicas,
 * non-root, read-only root, grace period above the worker's shutdown grace).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse as parseYaml } from 'yaml';

import { defaultPolicyConfig, parsePolicyConfig, PolicyConfigSchema } from '../../../src/domain/config';
import { admitAction, parseCatalogEntry } from '../../../src/domain/catalog';
import { parseRemediationRequest } from '../../../src/domain/request';
import type { Alert } from '../../../src/intake/alertmanager';
import { mapAlert } from '../../../src/intake/mapper';
import { parseRoutingConfig } from '../../../src/intake/routing-config';
import { loadWorkerConfig, WorkerSettingsSchema } from '../../../src/settings';
import { deployManifests, find, type K8sObject, repoPath } from './support';

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
}
type Deployment = K8sObject & {
  spec: {
    replicas: number;
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: Record<string, unknown>;
        containers: Container[];
        volumes: { name: string; configMap?: { name: string } }[];
      };
    };
  };
};
type ConfigMap = K8sObject & { data: Record<string, string> };

const manifests = deployManifests();
const worker = find<Deployment>(manifests, 'Deployment', 'remediation-worker');
const container = worker.spec.template.spec.containers[0]!;
const configMap = find<ConfigMap>(manifests, 'ConfigMap', 'remediation-config');
const configFile = parseYaml(configMap.data['config.yaml']!) as Record<string, unknown>;
const settingKeys = new Set(Object.keys(WorkerSettingsSchema.shape));
const policyPart = Object.fromEntries(Object.entries(configFile).filter(([k]) => !settingKeys.has(k)));
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));

/**
 * Runs loadWorkerConfig as the pod would: its env, with REMEDIATION_CONFIG pointing at a copy of
 * the ConfigMap's file (or at `configText` instead).
 */
function loadAsPod(env: Record<string, string>, configText = configMap.data['config.yaml']!) {
  const dir = mkdtempSync(join(tmpdir(), 'worker-config-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, configText);
    const withFile = env.REMEDIATION_CONFIG ? { ...env, REMEDIATION_CONFIG: file } : env;
    return loadWorkerConfig(withFile, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/worker.yaml ConfigMap', () => {
  it('passes parsePolicyConfig and equals the defaults', () => {
    expect(parsePolicyConfig(policyPart)).toEqual(defaultPolicyConfig);
  });

  it('writes out every policy key (docs/behaviour.md#defaults), so operators see each knob', () => {
    expect(Object.keys(policyPart).sort()).toEqual(Object.keys(PolicyConfigSchema.in.shape).sort());
    expect(Object.keys(policyPart.backoff as object).sort()).toEqual(['base', 'jitter', 'max']);
  });

  it('names the namespaces the Roles are in', () => {
    expect(configFile).toMatchObject({
      executionNamespace: 'remediation-runs',
      controlNamespace: 'remediation-system',
    });
  });
});

describe('deploy/worker.yaml worker Deployment', () => {
  it('sets only env vars that src/settings.ts reads: changing any one changes the loaded config', () => {
    const env = envOf(container);
    const loaded = JSON.stringify(loadAsPod(env));
    for (const [name, value] of Object.entries(env)) {
      const changed =
        name === 'REMEDIATION_CONFIG'
          ? loadAsPod(env, 'fingerprintCooldown: 2h\n')
          : loadAsPod({ ...env, [name]: /^\d+$/.test(value) ? String(Number(value) + 1) : `${value}-probe` });
      expect({ name, changed: JSON.stringify(changed) !== loaded }).toEqual({ name, changed: true });
    }
  });

  it('loads as the pod would: in-cluster Kubernetes (no KUBECONFIG), namespaces from the ConfigMap', () => {
    const env = envOf(container);
    expect(env).not.toHaveProperty('KUBECONFIG');
    const { settings, policy } = loadAsPod(env);
    expect(settings.kubeconfig).toBeUndefined();
    expect(settings).toMatchObject({
      executionNamespace: 'remediation-runs',
      controlNamespace: 'remediation-system',
      metricsPort: 9464,
    });
    expect(policy).toEqual(defaultPolicyConfig);
  });

  it('mounts the ConfigMap at the directory of REMEDIATION_CONFIG', () => {
    const mount = container.volumeMounts!.find((m) =>
      envOf(container).REMEDIATION_CONFIG!.startsWith(`${m.mountPath}/`),
    );
    const volume = worker.spec.template.spec.volumes.find((v) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe(configMap.metadata.name);
  });

  it('runs 2 replicas, non-root, read-only root filesystem, no privilege escalation, resources set', () => {
    expect(worker.spec.replicas).toBe(2);
    expect(worker.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources?.requests).toEqual(
      expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
    );
    expect(container.resources?.limits?.memory).toEqual(expect.any(String));
  });

  it('exposes METRICS_PORT as the scraped metrics port', () => {
    const port = Number(envOf(container).METRICS_PORT);
    expect(container.ports).toContainEqual(expect.objectContaining({ name: 'metrics', containerPort: port }));
    expect(worker.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(port),
    });
  });

  it("gives pods longer to stop than the worker's shutdown grace time", () => {
    // Read from the source: the default lives inline in createRemediationWorker.
    const grace = /shutdownGraceTime \?\? '(\d+)s'/.exec(readFileSync(repoPath('src/worker.ts'), 'utf8'));
    expect(grace).not.toBeNull();
    expect(worker.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(grace![1]));
  });

  it('runs the image version of package.json', () => {
    const { version } = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    const deployments = manifests.filter((o) => o.kind === 'Deployment') as K8sObject[] as Deployment[];
    const images = deployments.flatMap((d) => d.spec.template.spec.containers.map((c) => c.image));
    expect(new Set(images)).toEqual(new Set([`remediation-orchestrator:${version}`]));
  });
});

describe('intake routes example', () => {
  it('is the same in the intake ConfigMap and in deploy/intake-routes.yaml (docker-compose)', () => {
    const routes = find<ConfigMap>(manifests, 'ConfigMap', 'remediation-intake-routes');
    expect(parseYaml(routes.data['routes.yaml']!)).toEqual(
      parseYaml(readFileSync(repoPath('deploy/intake-routes.yaml'), 'utf8')),
    );
  });

  it('S33 every route, fed a matching alert, is admitted by the shipped catalog and fills every Pipeline param', () => {
    const config = parseRoutingConfig(parseYaml(readFileSync(repoPath('deploy/intake-routes.yaml'), 'utf8')));
    const policy = {
      allowUncataloguedActions: false,
      pipelineRunTimeoutMs: 1_800_000,
      catalogNamespace: 'remediation-system',
      // What this worker implements (src/activities): the shipped statefulset and job actions ask for approval.
      supports: { dryRun: true, approval: true, verification: true },
    };
    for (const route of config.routes) {
      const labels: Record<string, string> = {
        alertname: '',
        namespace: 'shop',
        deployment: 'api',
        statefulset: 'api',
        job_name: 'api',
        pod: 'api-7d4-x2',
      };
      for (const [name, matcher] of Object.entries(route.match))
        if (matcher.equals) labels[name] = matcher.equals;
      const mapped = mapAlert(
        { status: 'firing', labels, annotations: {}, startsAt: '2026-12-01T10:00:00Z' } as Alert,
        route,
      );
      if (!mapped.ok) throw new Error(`route ${route.name}: ${mapped.reason}`);
      const request = parseRemediationRequest(mapped.input);
      const action = find<K8sObject & { spec: unknown }>(manifests, 'RemediationAction', request.action.id);
      const admission = admitAction(request, parseCatalogEntry(request.action.id, '1', action.spec), policy);
      if (admission.kind === 'refused') throw new Error(`route ${route.name}: ${admission.message}`);
      const pipeline = find<K8sObject & { spec: { params: { name: string; default?: string }[] } }>(
        manifests,
        'Pipeline',
        admission.action.pipeline,
      );
      if (admission.action.serviceAccountName)
        find(manifests, 'ServiceAccount', admission.action.serviceAccountName);
      const required = pipeline.spec.params.filter((p) => p.default === undefined).map((p) => p.name);
      expect(Object.keys(admission.action.params)).toEqual(expect.arrayContaining(required));
      // The target's own names, never an alert label the route chose for a param.
      expect(admission.action.params).toMatchObject({ namespace: 'shop', name: request.target.name });
    }
  });
});
