/**
 * The Helm chart (charts/remediation-orchestrator) with the real helm, built from its Go module by
 * scripts/provision.sh: `helm lint`, `helm template` with default and non-default values (asserted
 * on the rendered objects), deploy/ being exactly the chart's default render, and the rendered CRDs
 * and RemediationActions applied server-side (PATCH application/apply-patch+yaml, strict field
 * validation) to the stack's API server. That server is apiextensions-apiserver: it serves CRDs and
 * custom resources only, so the built-in objects (Deployments, RBAC, …) are validated offline by
 * the schema tests of test/unit/deploy against deploy/, which this file proves equal to the chart.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';

import {
  CHART_DIR,
  DEPLOY_DIR,
  GENERATED_MARKER,
  helm,
  helmTemplate,
  provisionHelm,
  splitRendered,
  type HelmTool,
} from '../../src/dev/manifests';
import { parseCatalogEntry } from '../../src/domain/catalog';
import { catalogApi } from '../../src/ports/action-catalog';
import { kubeConfig } from './stack-env';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  subjects?: { namespace?: string }[];
  source: string;
}
interface Probe {
  httpGet?: { path: string; port: string | number; scheme?: string };
  tcpSocket?: unknown;
}
interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  volumes?: { name: string; secret?: { secretName: string } }[];
}
interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}

const defaultValues = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as {
  actions: Record<string, unknown>;
  intake: { port: number };
};

let tool: HelmTool;
const temps: string[] = [];

// A cold cache builds helm from its Go module first: minutes on a busy 2-core machine.
beforeAll(async () => {
  tool = await provisionHelm();
}, 900_000);
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** `npm run manifests -- ARGS`, as a developer or CI runs it. */
function manifests(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(CHART_DIR, '../../src/dev/manifests.ts'), ...args],
      (err, stdout, stderr) => resolvePromise({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function valuesFile(values: object): string {
  const file = join(tempDir('chart-values-'), 'values.yaml');
  writeFileSync(file, JSON.stringify(values));
  return file;
}

async function render(options: Parameters<typeof helmTemplate>[1] = {}): Promise<Obj[]> {
  return splitRendered(await helmTemplate(tool, options)).map((doc) =>
    Object.assign(parseYaml(doc.text) as Obj, { source: doc.source }),
  );
}

const ofKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
function one(objects: Obj[], kind: string, name: string): Obj {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`${found.length} ${kind} ${name} rendered`);
  return found[0]!;
}
const deploymentSpec = (o: Obj) => o.spec as unknown as DeploymentSpec;
const container = (o: Obj) => deploymentSpec(o).template.spec.containers[0]!;
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
const portOf = (c: Container, name: string) => c.ports?.find((p) => p.name === name)?.containerPort;

describe('helm lint', () => {
  it('passes --strict with the default values', async () => {
    const out = await helm(tool, ['lint', '--strict', CHART_DIR]);
    expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('passes --strict with every optional part turned on', async () => {
    const values = valuesFile({
      metrics: {
        serviceMonitor: { enabled: true },
        prometheusRule: { enabled: true },
        grafanaDashboard: { enabled: true },
      },
      intake: { tls: { secretName: 'intake-tls' } },
      temporal: { apiKeySecret: { name: 'temporal-api-key' } },
    });
    const out = await helm(tool, ['lint', '--strict', CHART_DIR, '--values', values]);
    expect(out).toContain('0 chart(s) failed');
  });

  // Guards the guard, and values.schema.json: wrong values fail lint (and install) naming the field.
  it('fails on a value of the wrong type', async () => {
    await expect(helm(tool, ['lint', '--strict', CHART_DIR, '--set', 'worker.replicas=two'])).rejects.toThrow(
      /\/worker\/replicas': got string, want integer/,
    );
  });

  it.each([
    ['a misspelled key', 'worker.replica=3', /additional properties 'replica' not allowed/],
    ['a namespace that is no DNS label', 'namespaces.control=Ops_NS', /\/namespaces\/control/],
    ['an image digest that is no sha256', 'image.digest=latest', /\/image\/digest/],
    [
      'a Pod Security level that does not exist',
      'namespaces.podSecurity.execution=strict',
      /podSecurity\/execution/,
    ],
  ])('refuses %s before rendering anything', async (_what, set, message) => {
    await expect(helmTemplate(tool, { set: [set] })).rejects.toThrow(message);
  });
});

describe('helm template with the default values', () => {
  let objects: Obj[];
  beforeAll(async () => {
    objects = await render();
  });

  it('probes the intake on its /healthz, on the webhook port', () => {
    const intake = container(one(objects, 'Deployment', 'remediation-intake'));
    expect(portOf(intake, 'http')).toBe(defaultValues.intake.port);
    expect(envOf(intake).INTAKE_PORT).toBe(String(defaultValues.intake.port));
    for (const probe of [intake.readinessProbe, intake.livenessProbe]) {
      expect(probe).toMatchObject({ httpGet: { path: '/healthz', port: 'http' } });
      expect(probe).not.toHaveProperty('tcpSocket');
      expect(probe!.httpGet).not.toHaveProperty('scheme');
    }
  });

  it("probes the worker on its own /healthz (HEALTH_PORT), never the SDK's metrics port", () => {
    const worker = container(one(objects, 'Deployment', 'remediation-worker'));
    const env = envOf(worker);
    expect(portOf(worker, 'health')).toBe(Number(env.HEALTH_PORT));
    expect(portOf(worker, 'metrics')).toBe(Number(env.METRICS_PORT));
    expect(env.HEALTH_PORT).not.toBe(env.METRICS_PORT);
    for (const probe of [worker.startupProbe, worker.livenessProbe, worker.readinessProbe])
      expect(probe).toEqual(expect.objectContaining({ httpGet: { path: '/healthz', port: 'health' } }));
  });

  it('gives the worker and the intake a PodDisruptionBudget selecting exactly their pods', () => {
    for (const name of ['remediation-worker', 'remediation-intake']) {
      const deployment = deploymentSpec(one(objects, 'Deployment', name));
      const pdb = one(objects, 'PodDisruptionBudget', name);
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: deployment.selector.matchLabels },
      });
      expect(deployment.template.metadata.labels).toMatchObject(deployment.selector.matchLabels);
      expect(deployment.replicas).toBeGreaterThan(1);
    }
    // The two selectors do not overlap: a worker PDB never counts intake pods.
    const selectors = ofKind(objects, 'PodDisruptionBudget').map((p) => JSON.stringify(p.spec!.selector));
    expect(new Set(selectors).size).toBe(2);
  });

  it('renders the catalog from values: one RemediationAction per key, spec as given', () => {
    const actions = ofKind(objects, catalogApi.kind);
    expect(actions.map((a) => a.metadata.name).sort()).toEqual(Object.keys(defaultValues.actions).sort());
    for (const action of actions) {
      expect(action.apiVersion).toBe(`${catalogApi.group}/${catalogApi.version}`);
      expect(action.metadata.namespace).toBe('remediation-system');
      expect(action.spec).toEqual(defaultValues.actions[action.metadata.name]);
    }
  });

  it('runs both Deployments non-root, read-only, without privilege escalation, with requests', () => {
    for (const deployment of ofKind(objects, 'Deployment')) {
      const pod = deploymentSpec(deployment).template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.resources?.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      }
    }
  });

  it('renders the three CRDs of crds/ and no prometheus-operator object or dashboard', () => {
    expect(ofKind(objects, 'CustomResourceDefinition').map((c) => c.metadata.name)).toEqual(
      expect.arrayContaining([
        'remediationtargets.ledger.remediation.dev',
        'remediationfingerprints.ledger.remediation.dev',
        'remediationactions.remediation.dev',
      ]),
    );
    expect(objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
    expect(objects.filter((o) => o.metadata.name.endsWith('-dashboard'))).toEqual([]);
  });

  it('is exactly what deploy/ holds (npm run manifests -- --check)', async () => {
    const result = await manifests(['--check']);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('deploy/ is up to date') });
  });

  // Guards the guard: --check notices an edited, a missing and an orphaned generated file, and
  // the generator puts the folder right.
  it('--check fails on a stale deploy folder, which the generator then rewrites', async () => {
    const dir = join(tempDir('deploy-copy-'), 'deploy');
    cpSync(DEPLOY_DIR, dir, { recursive: true });
    writeFileSync(
      join(dir, 'worker.yaml'),
      readFileSync(join(dir, 'worker.yaml'), 'utf8').replace('replicas: 2', 'replicas: 3'),
    );
    rmSync(join(dir, 'actions', 'delete-pod.yaml'));
    writeFileSync(
      join(dir, 'actions', 'retired.yaml'),
      `${GENERATED_MARKER}: edit the chart, then run it again.\n`,
    );
    writeFileSync(join(dir, 'hand-written.yaml'), '# not generated: left alone\n');

    const stale = await manifests(['--check', '--deploy-dir', dir]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('differs: actions/delete-pod.yaml, actions/retired.yaml, worker.yaml');

    expect((await manifests(['--deploy-dir', dir])).code).toBe(0);
    expect(await manifests(['--check', '--deploy-dir', dir])).toMatchObject({ code: 0 });
    expect(existsSync(join(dir, 'actions', 'retired.yaml'))).toBe(false);
    expect(readFileSync(join(dir, 'hand-written.yaml'), 'utf8')).toBe('# not generated: left alone\n');
  });
});

describe('helm template with non-default values', () => {
  it('puts every object in the two namespaces of one value each, and names them nowhere else', async () => {
    const rendered = await helmTemplate(tool, {
      set: ['namespaces.control=ops-remediation', 'namespaces.execution=ops-runs'],
    });
    const objects = splitRendered(rendered).map((d) =>
      Object.assign(parseYaml(d.text) as Obj, { source: d.source }),
    );
    const namespaced = objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition');
    expect(new Set(namespaced.map((o) => o.metadata.namespace))).toEqual(
      new Set(['ops-remediation', 'ops-runs']),
    );
    expect(one(objects, 'Role', 'remediation-worker-pipelineruns').metadata.namespace).toBe('ops-runs');
    for (const binding of ofKind(objects, 'RoleBinding'))
      expect(binding.subjects).toEqual([expect.objectContaining({ namespace: 'ops-remediation' })]);
    expect(
      ofKind(objects, 'Namespace')
        .map((n) => n.metadata.name)
        .sort(),
    ).toEqual(['ops-remediation', 'ops-runs']);
    const config = parseYaml(one(objects, 'ConfigMap', 'remediation-config').data!['config.yaml']!) as object;
    expect(config).toMatchObject({ controlNamespace: 'ops-remediation', executionNamespace: 'ops-runs' });
    // Set once: the default namespaces are left in no template's output (the CRDs' prose aside).
    const templatesOnly = splitRendered(rendered).filter((d) => d.source.startsWith('templates/'));
    expect(
      templatesOnly.filter((d) => /remediation-(system|runs)/.test(d.text)).map((d) => d.source),
    ).toEqual([]);
  });

  it('enforces each namespace its own Pod Security level: Tekton pods need baseline unless Tekton sets securityContexts', async () => {
    const levels = async (set: string[]) =>
      Object.fromEntries(
        ofKind(await render({ set }), 'Namespace').map((n) => [
          n.metadata.name,
          n.metadata.labels?.['pod-security.kubernetes.io/enforce'],
        ]),
      );
    expect(await levels([])).toEqual({ 'remediation-system': 'restricted', 'remediation-runs': 'baseline' });
    expect(await levels(['namespaces.podSecurity.execution=restricted'])).toEqual({
      'remediation-system': 'restricted',
      'remediation-runs': 'restricted',
    });
  });

  it("creates no Namespace object for the release's own namespace (Helm needs it first)", async () => {
    const objects = await render({ namespace: 'remediation-system' });
    expect(ofKind(objects, 'Namespace').map((n) => n.metadata.name)).toEqual(['remediation-runs']);
  });

  it('takes the image, the Temporal address and the catalog from values', async () => {
    const objects = await render({
      set: [
        'image.repository=registry.example.com/sre/remediation-orchestrator',
        'image.tag=1.2.3',
        'temporal.address=temporal.internal:7233',
        'temporal.apiKeySecret.name=temporal-cloud',
        'actions.delete-pod=null',
      ],
      valuesFiles: [
        valuesFile({
          actions: {
            'cordon-node': {
              description: 'Cordon the target Node.',
              pipeline: 'cordon-node',
              serviceAccountName: 'remediation-runner',
              targets: { kinds: ['Node'] },
              targetParams: { name: '{{ target.name }}' },
              timeout: '5m',
            },
          },
        }),
      ],
    });
    for (const deployment of ofKind(objects, 'Deployment')) {
      const c = container(deployment);
      expect(c.image).toBe('registry.example.com/sre/remediation-orchestrator:1.2.3');
      expect(envOf(c).TEMPORAL_ADDRESS).toBe('temporal.internal:7233');
      expect(c.env).toContainEqual({
        name: 'TEMPORAL_API_KEY',
        valueFrom: { secretKeyRef: { name: 'temporal-cloud', key: 'api-key' } },
      });
    }
    const actions = ofKind(objects, catalogApi.kind);
    expect(actions.map((a) => a.metadata.name).sort()).toEqual([
      'cordon-node',
      'delete-job',
      'restart-deployment',
      'restart-statefulset',
      'scale-deployment',
    ]);
    expect(one(objects, catalogApi.kind, 'cordon-node').spec).toMatchObject({ targets: { kinds: ['Node'] } });
  });

  it('pins the image by digest when one is given', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const objects = await render({ set: [`image.digest=${digest}`] });
    for (const deployment of ofKind(objects, 'Deployment'))
      expect(container(deployment).image).toBe(`remediation-orchestrator@${digest}`);
  });

  it('serves the intake over TLS from a Secret, probes included', async () => {
    const objects = await render({ set: ['intake.tls.secretName=intake-tls'] });
    const intake = one(objects, 'Deployment', 'remediation-intake');
    const c = container(intake);
    expect(envOf(c)).toMatchObject({
      INTAKE_TLS_CERT_FILE: '/etc/remediation-intake-tls/tls.crt',
      INTAKE_TLS_KEY_FILE: '/etc/remediation-intake-tls/tls.key',
    });
    expect(deploymentSpec(intake).template.spec.volumes).toContainEqual(
      expect.objectContaining({ secret: expect.objectContaining({ secretName: 'intake-tls' }) }),
    );
    for (const probe of [c.readinessProbe, c.livenessProbe])
      expect(probe!.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTPS' });
  });

  it('scrapes the TLS intake over https with the given tlsConfig', async () => {
    const objects = await render({
      set: [
        'intake.tls.secretName=intake-tls',
        'metrics.serviceMonitor.enabled=true',
        'metrics.serviceMonitor.tlsConfig.ca.secret.name=intake-ca',
        'metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt',
      ],
    });
    const endpoints = (m: Obj) => (m.spec as { endpoints: Record<string, unknown>[] }).endpoints;
    expect(endpoints(one(objects, 'ServiceMonitor', 'remediation-intake'))).toEqual([
      expect.objectContaining({
        port: 'http',
        scheme: 'https',
        tlsConfig: { ca: { secret: { name: 'intake-ca', key: 'ca.crt' } } },
      }),
    ]);
    expect(endpoints(one(objects, 'ServiceMonitor', 'remediation-worker'))[0]).not.toHaveProperty('scheme');
  });

  it('leaves the intake out entirely when disabled, and a PDB when turned off', async () => {
    const objects = await render({
      set: ['intake.enabled=false', 'worker.podDisruptionBudget.enabled=false'],
    });
    expect(
      objects.filter((o) => o.metadata.name.startsWith('remediation-intake')).map((o) => o.kind),
    ).toEqual([]);
    expect(ofKind(objects, 'PodDisruptionBudget')).toEqual([]);
    expect(ofKind(objects, 'Deployment').map((d) => d.metadata.name)).toEqual(['remediation-worker']);
  });

  it('renders ServiceMonitors for the worker and the intake Services when enabled', async () => {
    const objects = await render({
      set: ['metrics.serviceMonitor.enabled=true', 'metrics.serviceMonitor.labels.release=kube-prometheus'],
    });
    const monitors = ofKind(objects, 'ServiceMonitor');
    expect(monitors.map((m) => m.metadata.name).sort()).toEqual(['remediation-intake', 'remediation-worker']);
    for (const monitor of monitors) {
      expect(monitor.metadata.labels).toMatchObject({ release: 'kube-prometheus' });
      const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector;
      const port = (monitor.spec as { endpoints: { port: string }[] }).endpoints[0]!.port;
      const services = ofKind(objects, 'Service').filter((s) =>
        Object.entries(selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v),
      );
      expect(services).toHaveLength(1);
      expect((services[0]!.spec as { ports: { name: string }[] }).ports.map((p) => p.name)).toContain(port);
    }
  });
});

describe('the PrometheusRule and dashboard templates read files/ (absent or present)', () => {
  const enabled = ['metrics.prometheusRule.enabled=true', 'metrics.grafanaDashboard.enabled=true'];
  const rulesFile = 'files/prometheus-rules.yaml';
  const dashboardFile = 'files/grafana-dashboard.json';

  function chartCopy(files: Record<string, string | null>): string {
    const dir = join(tempDir('chart-copy-'), 'remediation-orchestrator');
    cpSync(CHART_DIR, dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      if (content === null) rmSync(join(dir, name), { force: true });
      else {
        mkdirSync(dirname(join(dir, name)), { recursive: true });
        writeFileSync(join(dir, name), content);
      }
    }
    return dir;
  }

  it('renders neither while the files are absent, even when enabled', async () => {
    const chartDir = chartCopy({ [rulesFile]: null, [dashboardFile]: null });
    const objects = await render({ chartDir, set: enabled });
    expect(ofKind(objects, 'PrometheusRule')).toEqual([]);
    expect(objects.filter((o) => o.metadata.name.endsWith('-dashboard'))).toEqual([]);
  });

  it('renders the rule file as a PrometheusRule and the dashboard as a sidecar ConfigMap when present', async () => {
    const rules = [
      '# alert rules, as promtool tests them',
      'groups:',
      '  - name: remediation',
      '    rules:',
      '      - alert: RemediationManualReviewPending',
      '        expr: remediation_targets_manual_review > 0',
      '        for: 15m',
      '        annotations:',
      "          summary: '{{ $value }} targets need manual review'",
      '',
    ].join('\n');
    const dashboard = JSON.stringify({ title: 'Remediation', panels: [{ type: 'timeseries' }] });
    const chartDir = chartCopy({ [rulesFile]: rules, [dashboardFile]: dashboard });

    const off = await render({ chartDir });
    expect(ofKind(off, 'PrometheusRule')).toEqual([]);

    const objects = await render({
      chartDir,
      set: [...enabled, 'metrics.grafanaDashboard.namespace=monitoring'],
    });
    const rule = one(objects, 'PrometheusRule', 'remediation');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.metadata.namespace).toBe('remediation-system');
    // Alert templates pass through untouched (not evaluated by Helm).
    expect(rule.spec).toEqual({ groups: (parseYaml(rules) as { groups: unknown }).groups });
    const configMap = one(objects, 'ConfigMap', 'remediation-dashboard');
    expect(configMap.metadata).toMatchObject({ namespace: 'monitoring', labels: { grafana_dashboard: '1' } });
    expect(JSON.parse(configMap.data!['remediation-orchestrator.json']!)).toEqual(JSON.parse(dashboard));
  });

  it('takes the groups of a file written as a PrometheusRule object too, and refuses a file without groups', async () => {
    const groups = [
      {
        name: 'remediation',
        rules: [{ alert: 'RemediationBreakerOpen', expr: 'remediation_breaker_open > 0' }],
      },
    ];
    const asObject = chartCopy({
      [rulesFile]: JSON.stringify({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        spec: { groups },
      }),
    });
    expect(
      one(await render({ chartDir: asObject, set: enabled }), 'PrometheusRule', 'remediation').spec,
    ).toEqual({ groups });

    const noGroups = chartCopy({ [rulesFile]: 'rules: []\n' });
    await expect(render({ chartDir: noGroups, set: enabled })).rejects.toThrow(
      'files/prometheus-rules.yaml holds no rule groups',
    );
  });

  const haveOwnFiles = existsSync(join(CHART_DIR, rulesFile)) && existsSync(join(CHART_DIR, dashboardFile));
  (haveOwnFiles ? it : it.skip)("renders the chart's own rule file and dashboard", async () => {
    const objects = await render({ set: enabled });
    const rule = one(objects, 'PrometheusRule', 'remediation');
    const own = parseYaml(readFileSync(join(CHART_DIR, rulesFile), 'utf8')) as {
      groups?: unknown[];
      spec?: { groups: unknown[] };
    };
    const groups = own.groups ?? own.spec?.groups;
    expect(groups?.length).toBeGreaterThan(0);
    expect(rule.spec).toEqual({ groups });
    const configMap = one(objects, 'ConfigMap', 'remediation-dashboard');
    expect(JSON.parse(configMap.data!['remediation-orchestrator.json']!)).toEqual(
      JSON.parse(readFileSync(join(CHART_DIR, dashboardFile), 'utf8')),
    );
  });
});

/**
 * Server-side apply as `kubectl apply --server-side` does it, on the stack's API server. The
 * local server is apiextensions-apiserver (CRDs and custom resources only); the built-in objects
 * of the chart cannot be applied there.
 */
describe('the rendered CRDs and RemediationActions, applied server-side to the real API server', () => {
  const fieldManager = 'remediation-orchestrator-chart-test';
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const kc = kubeConfig();
  const crdApi = kc.makeApiClient(ApiextensionsV1Api);
  const customApi = kc.makeApiClient(CustomObjectsApi);
  // A namespace of its own (the server has no NamespaceLifecycle): the shared stack's catalog is untouched.
  const namespace = `chart-ssa-${process.pid}`;
  let actions: Obj[];

  beforeAll(async () => {
    actions = ofKind(await render({ set: [`namespaces.control=${namespace}`] }), catalogApi.kind);
  });
  afterAll(async () => {
    for (const action of actions ?? [])
      await customApi
        .deleteNamespacedCustomObject({
          group: catalogApi.group,
          version: catalogApi.version,
          namespace,
          plural: catalogApi.plural,
          name: action.metadata.name,
        })
        .catch(() => undefined);
  });

  const applyAction = (body: object, name: string) =>
    customApi.patchNamespacedCustomObject(
      {
        group: catalogApi.group,
        version: catalogApi.version,
        namespace,
        plural: catalogApi.plural,
        name,
        body,
        fieldManager,
        fieldValidation: 'Strict',
      },
      apply,
    ) as Promise<{
      metadata: { resourceVersion: string; managedFields: { manager: string; operation: string }[] };
      spec: unknown;
    }>;

  it("applies the chart's CRDs: accepted, established, and identical to what the stack serves (no new generation)", async () => {
    const crds = ofKind(await render(), 'CustomResourceDefinition');
    expect(crds.length).toBeGreaterThanOrEqual(3);
    for (const crd of crds) {
      const before = await crdApi.readCustomResourceDefinition({ name: crd.metadata.name });
      const { source: _source, ...body } = crd;
      const after: V1CustomResourceDefinition = await crdApi.patchCustomResourceDefinition(
        { name: crd.metadata.name, body, fieldManager, fieldValidation: 'Strict' },
        apply,
      );
      expect(after.metadata?.managedFields?.map((f) => [f.manager, f.operation])).toContainEqual([
        fieldManager,
        'Apply',
      ]);
      expect({ name: crd.metadata.name, generation: after.metadata?.generation }).toEqual({
        name: crd.metadata.name,
        generation: before.metadata?.generation,
      });
      expect(after.status?.conditions).toContainEqual(
        expect.objectContaining({ type: 'Established', status: 'True' }),
      );
    }
  });

  it('applies the catalog from values: stored unchanged, valid for the worker, and a re-apply is a no-op', async () => {
    expect(actions.map((a) => a.metadata.name).sort()).toEqual(Object.keys(defaultValues.actions).sort());
    for (const action of actions) {
      const { source: _source, ...body } = action;
      const stored = await applyAction(body, action.metadata.name);
      expect(stored.spec).toEqual(action.spec);
      expect(stored.metadata.managedFields.map((f) => [f.manager, f.operation])).toContainEqual([
        fieldManager,
        'Apply',
      ]);
      expect(
        parseCatalogEntry(action.metadata.name, stored.metadata.resourceVersion, stored.spec).problems,
      ).toEqual([]);
      const again = await applyAction(body, action.metadata.name);
      expect(again.metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
    }
  });

  // Guards the guard: the server validates what is applied (strict fields, the CRD's schema).
  it('refuses an action from values with a misspelled field', async () => {
    const objects = await render({
      set: [`namespaces.control=${namespace}`],
      valuesFiles: [
        valuesFile({ actions: { 'typo-action': { pipeline: 'restart-deployment', targetParam: {} } } }),
      ],
    });
    const { source: _source, ...body } = one(objects, catalogApi.kind, 'typo-action');
    await expect(applyAction(body, 'typo-action')).rejects.toMatchObject({ code: expect.any(Number) });
    await expect(
      customApi.getNamespacedCustomObject({
        group: catalogApi.group,
        version: catalogApi.version,
        namespace,
        plural: catalogApi.plural,
        name: 'typo-action',
      }),
    ).rejects.toMatchObject({ code: 404 });
  });
});
