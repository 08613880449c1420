/**
 * The conformance stack (`npm run stack -- --profile conformance`): nothing of ours plays another
 * project's part. etcd + kube-apiserver (RBAC, ServiceAccount tokens, ResourceQuota,
 * ValidatingAdmissionPolicy) + kube-scheduler + kube-controller-manager, kwok with one fake node
 * whose pods follow the Stages in conformance/kwok-stages.yaml, Tekton Pipelines' real controller
 * and webhook with Tekton's own CRDs and ConfigMaps, Alertmanager and the Temporal dev server.
 *
 * Tekton's controller binds :8080 and :8008 on every interface whatever it is told, so only one
 * conformance stack runs per host.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { alertmanagerConfig, startAlertmanager } from './alertmanager';
import { DEFAULT_CRDS_DIR, REPO_ROOT, installCrds, kubeRequest } from './kube-api';
import { makePki } from './pki';
import { elapsed, freePort, noLog, spawnLogged, waitFor, type Log } from './proc';
import { CONTROL_NAMESPACE, EXECUTION_NAMESPACE, provision, type StackInfo } from './stack';
import { startTemporalDevServer } from './temporal';

const run = promisify(execFile);

export const TEKTON_NAMESPACE = 'tekton-pipelines';
/** The fake node's name; kwok manages only nodes annotated `kwok.x-k8s.io/node: fake`. */
export const FAKE_NODE = 'kwok-node-0';
/**
 * Label that picks what the fake node does with a pod (see conformance/kwok-stages.yaml). Tekton
 * copies a PipelineRun's labels to its TaskRuns and their pods, so a test labels the PipelineRun.
 */
export const OUTCOME_LABEL = 'conformance.remediation.dev/outcome';
export const PodOutcome = {
  /** Every step container exits 1 (`Error`). */
  Fail: 'fail',
  /** Every step container is OOMKilled (exit 137). */
  Oom: 'oom',
  /** The first step's image never pulls (`ImagePullBackOff`). */
  ImagePull: 'imagepull',
  /** The first step's container cannot be configured (`CreateContainerConfigError`, missing Secret). */
  ConfigError: 'configerror',
  /** The steps run until the run is cancelled or times out. */
  Hang: 'hang',
  /** Refused at pod creation by the stack's ValidatingAdmissionPolicy. */
  AdmissionDenied: 'admission-denied',
} as const;

const STAGES_FILE = join(__dirname, 'conformance', 'kwok-stages.yaml');
const ADMISSION_POLICY_FILE = join(__dirname, 'conformance', 'admission-policy.yaml');

export interface ConformanceToolPaths {
  temporal: { path: string; version: string };
  etcd: { path: string; version: string };
  kubernetes: { dir: string; version: string };
  tekton: { dir: string; version: string };
  kwok: { path: string; version: string };
  alertmanager: { path: string; version: string };
}

export interface ConformanceStackOptions {
  /** State folder; default <repo>/.stack-conformance. Wiped on start: a conformance stack is throwaway. */
  dir?: string;
  temporalPort?: number;
  temporalUiPort?: number;
  /** Start the Temporal dev server (default true); Tekton-only tests leave it out. */
  withTemporal?: boolean;
  /** Start Alertmanager (default true). */
  withAlertmanager?: boolean;
  /** Where Alertmanager's one receiver posts (default: the intake's default listen address). */
  alertmanagerWebhookUrl?: string;
  /** File holding the bearer token Alertmanager sends (credentials_file); none when absent. */
  alertmanagerTokenFile?: string;
  log?: Log;
}

export interface ConformanceStackInfo extends StackInfo {
  profile: 'conformance';
  apiServer: string;
  alertmanagerUrl: string | null;
  versions: Record<string, string>;
}

export interface ConformanceStack {
  info: ConformanceStackInfo;
  kubeConfig: KubeConfig;
  /** Paths of the PKI (tests mint clients from them). */
  pki: ConformancePki;
  stop(): Promise<void>;
}

interface Stoppable {
  name: string;
  stop(graceMs?: number): Promise<void>;
}

export const DEFAULT_CONFORMANCE_DIR = join(REPO_ROOT, '.stack-conformance');

/** Runs scripts/provision.sh --profile conformance (builds what the cache lacks). */
export async function provisionConformance(log: Log = noLog): Promise<ConformanceToolPaths> {
  const result = (await provision(log, ['--profile', 'conformance'])) as unknown as ConformanceToolPaths;
  if (!result.kubernetes || !result.tekton || !result.kwok || !result.alertmanager)
    throw new Error('scripts/provision.sh --profile conformance printed no conformance tools');
  return result;
}

export async function startConformanceStack(opts: ConformanceStackOptions = {}): Promise<ConformanceStack> {
  const log = opts.log ?? noLog;
  const dir = resolve(opts.dir ?? DEFAULT_CONFORMANCE_DIR);
  const t0 = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const started: Stoppable[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const t1 = Date.now();
      // Reverse start order: clients of the API server first, etcd last.
      for (const c of [...started].reverse()) {
        try {
          await c.stop(c.name === 'tekton-webhook' ? 2_000 : 10_000);
        } catch (err) {
          log(`stopping ${c.name} failed: ${String(err)}`);
        }
      }
      log(`conformance stack stopped (${elapsed(t1)})`);
    })());
  const logFile = (name: string): string => join(dir, 'logs', `${name}.log`);

  try {
    const tools = await provisionConformance(log);
    log(`tools ready (${elapsed(t0)})`);
    const bin = (name: string): string => join(tools.kubernetes.dir, name);
    const pki = await conformancePki(join(dir, 'pki'));
    const port = await portAllocator();
    const [etcdPort, etcdPeer, apiPort, schedulerPort, kcmPort, kwokPort, webhookPort] = [
      port(),
      port(),
      port(),
      port(),
      port(),
      port(),
      port(),
    ];
    const [tektonProbes, tektonMetrics, webhookProbes, webhookMetrics, amPort] = [
      port(),
      port(),
      port(),
      port(),
      port(),
    ];
    const server = `https://127.0.0.1:${String(apiPort)}`;
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, adminKubeconfig(server, pki), { mode: 0o600 });

    // ---- etcd, kube-apiserver
    const etcdUrl = `http://127.0.0.1:${String(etcdPort)}`;
    const peerUrl = `http://127.0.0.1:${String(etcdPeer)}`;
    const etcd = spawnLogged(
      'etcd',
      tools.etcd.path,
      [
        '--name=conformance',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=conformance=${peerUrl}`,
        '--log-level=warn',
        '--unsafe-no-fsync=true',
      ],
      logFile('etcd'),
    );
    started.push(etcd);

    const apiserver = spawnLogged(
      'kube-apiserver',
      bin('kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${String(apiPort)}`,
        `--cert-dir=${join(dir, 'pki', 'apiserver')}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${pki.saPublicKey}`,
        `--service-account-signing-key-file=${pki.saPrivateKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        // envtest's choice: pods are admitted without a token volume (there is no kubelet to mount
        // it). ResourceQuota, ValidatingAdmissionPolicy and the webhooks stay on (defaults).
        '--disable-admission-plugins=ServiceAccount',
        // The Tekton webhook runs on this host, reached through its Endpoints, not a ClusterIP.
        '--enable-aggregator-routing=true',
        '--v=0',
      ],
      logFile('kube-apiserver'),
    );
    started.push(apiserver);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await kubeRequest(kubeConfig, 'GET', '/readyz')).status === 200,
      { timeoutMs: 90_000, intervalMs: 250, child: apiserver },
    );
    log(`kube-apiserver ready on ${server} (${elapsed(t0)})`);

    // ---- scheduler, controller manager, kwok: clients of the API server, started together
    const common = [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
    ];
    started.push(
      spawnLogged(
        'kube-scheduler',
        bin('kube-scheduler'),
        [...common, `--secure-port=${String(schedulerPort)}`],
        logFile('kube-scheduler'),
      ),
    );
    started.push(
      spawnLogged(
        'kube-controller-manager',
        bin('kube-controller-manager'),
        [
          ...common,
          `--secure-port=${String(kcmPort)}`,
          `--service-account-private-key-file=${pki.saPrivateKey}`,
          `--root-ca-file=${pki.caCert}`,
          '--service-cluster-ip-range=10.0.0.0/24',
          '--controllers=*',
        ],
        logFile('kube-controller-manager'),
      ),
    );
    started.push(
      spawnLogged(
        'kwok',
        tools.kwok.path,
        [
          `--kubeconfig=${kubeconfigPath}`,
          `--config=${STAGES_FILE}`,
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          '--node-ip=10.1.0.1',
          '--cidr=10.244.0.0/16',
          `--server-address=127.0.0.1:${String(kwokPort)}`,
        ],
        logFile('kwok'),
      ),
    );

    // ---- cluster objects: namespaces, the fake node, the admission policy, Tekton's config
    const hostIp = nonLoopbackIPv4();
    const tektonConfig = join(tools.tekton.dir, 'config');
    await applyManifests(
      kubeConfig,
      [
        ...['100-namespace/100-namespace.yaml', ...configMapFiles(tektonConfig), '500-webhooks.yaml'].map(
          (f) => readManifests(join(tektonConfig, f)),
        ),
        [namespace(EXECUTION_NAMESPACE), namespace(CONTROL_NAMESPACE), fakeNode()],
        webhookService(hostIp, webhookPort),
        readManifests(ADMISSION_POLICY_FILE),
      ].flat(),
    );
    const crdDir = join(dir, 'tekton-crds');
    writeTektonCrds(join(tektonConfig, '300-crds'), crdDir);
    const t1 = Date.now();
    const crds = [
      ...(await installCrds(kubeConfig, crdDir, log)),
      ...(await installCrds(kubeConfig, join(DEFAULT_CRDS_DIR, 'ledger.yaml'), log)),
      ...(await installCrds(kubeConfig, join(DEFAULT_CRDS_DIR, 'remediation-actions.yaml'), log)),
    ];
    log(`installed ${crds.length} CRDs in ${elapsed(t1)}`);

    // ---- Tekton controller and webhook (out of cluster, admin credentials)
    const tektonEnv = {
      ...process.env,
      SYSTEM_NAMESPACE: TEKTON_NAMESPACE,
      KUBERNETES_MIN_VERSION: 'v1.28.0',
      CONFIG_LOGGING_NAME: 'config-logging',
      CONFIG_OBSERVABILITY_NAME: 'config-observability',
      CONFIG_FEATURE_FLAGS_NAME: 'feature-flags',
      METRICS_DOMAIN: 'tekton.dev/pipeline',
    };
    // Tekton's controller insists on every image it may inject; no image is ever pulled here.
    const controller = spawnLogged(
      'tekton-controller',
      join(tools.tekton.dir, 'controller'),
      [
        `-kubeconfig=${kubeconfigPath}`,
        '-disable-ha',
        '-entrypoint-image=fake.local/entrypoint:v1',
        '-nop-image=fake.local/nop:v1',
        '-sidecarlogresults-image=fake.local/sidecarlogresults:v1',
        '-workingdirinit-image=fake.local/workingdirinit:v1',
        '-shell-image=fake.local/busybox:v1',
        '-shell-image-win=fake.local/powershell:v1',
      ],
      logFile('tekton-controller'),
      {
        ...tektonEnv,
        CONFIG_DEFAULTS_NAME: 'config-defaults',
        CONFIG_LEADERELECTION_NAME: 'config-leader-election-controller',
        CONFIG_SPIRE: 'config-spire',
        PROBES_PORT: String(tektonProbes),
        METRICS_PROMETHEUS_PORT: String(tektonMetrics),
      },
    );
    started.push(controller);
    const webhook = spawnLogged(
      'tekton-webhook',
      join(tools.tekton.dir, 'webhook'),
      [`-kubeconfig=${kubeconfigPath}`, '-disable-ha'],
      logFile('tekton-webhook'),
      {
        ...tektonEnv,
        CONFIG_LEADERELECTION_NAME: 'config-leader-election-webhook',
        PROBES_PORT: String(webhookProbes),
        METRICS_PROMETHEUS_PORT: String(webhookMetrics),
        WEBHOOK_PORT: String(webhookPort),
        WEBHOOK_ADMISSION_CONTROLLER_NAME: 'webhook.pipeline.tekton.dev',
        WEBHOOK_SERVICE_NAME: 'tekton-pipelines-webhook',
        WEBHOOK_SECRET_NAME: 'webhook-certs',
      },
    );
    started.push(webhook);

    // ---- Alertmanager and Temporal, meanwhile
    let alertmanagerUrl: string | null = null;
    const temporalP =
      opts.withTemporal === false
        ? Promise.resolve(null)
        : startTemporalDevServer({
            cli: tools.temporal.path,
            dbFile: join(dir, 'temporal.db'),
            port: opts.temporalPort ?? port(),
            uiPort: opts.temporalUiPort,
            logFile: logFile('temporal'),
            log,
          });
    if (opts.withAlertmanager !== false) {
      const am = await startAlertmanager({
        path: tools.alertmanager.path,
        config: alertmanagerConfig({
          receivers: [
            {
              name: 'remediation-intake',
              url: opts.alertmanagerWebhookUrl ?? 'http://127.0.0.1:9095/api/v1/alerts/alertmanager',
              ...(opts.alertmanagerTokenFile ? { credentialsFile: opts.alertmanagerTokenFile } : {}),
            },
          ],
        }),
        configFile: join(dir, 'alertmanager.yml'),
        storageDir: join(dir, 'alertmanager'),
        port: amPort,
        logFile: logFile('alertmanager'),
      });
      started.push(am.child);
      alertmanagerUrl = am.url;
      log(`alertmanager ready on ${am.url} (${elapsed(t0)})`);
    }

    // ---- ready when every piece answers for itself
    await waitFor('fake node Ready', () => nodeReady(kubeConfig), { timeoutMs: 60_000, intervalMs: 250 });
    await waitFor(
      `ServiceAccount default in ${EXECUTION_NAMESPACE}`,
      async () =>
        (
          await kubeRequest(
            kubeConfig,
            'GET',
            `/api/v1/namespaces/${EXECUTION_NAMESPACE}/serviceaccounts/default`,
          )
        ).status === 200,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    log(`kube-controller-manager and kwok ready: node ${FAKE_NODE} Ready (${elapsed(t0)})`);
    await waitFor('Tekton webhook admitting PipelineRuns', () => webhookAdmits(kubeConfig), {
      timeoutMs: 120_000,
      intervalMs: 500,
      child: webhook,
    });
    await waitFor('Tekton controller reconciling', () => controllerReconciles(kubeConfig), {
      timeoutMs: 120_000,
      intervalMs: 500,
      child: controller,
    });
    log(`tekton controller and webhook ready (${elapsed(t0)})`);
    const temporal = await temporalP;
    if (temporal) started.push({ name: 'temporal', stop: () => temporal.stop() });

    const info: ConformanceStackInfo = {
      profile: 'conformance',
      temporal: {
        address: temporal?.address ?? '',
        namespace: temporal?.namespace ?? '',
        uiUrl: temporal?.uiUrl ?? '',
        cli: tools.temporal.path,
      },
      kubeconfig: kubeconfigPath,
      executionNamespace: EXECUTION_NAMESPACE,
      controlNamespace: CONTROL_NAMESPACE,
      apiServer: server,
      alertmanagerUrl,
      versions: {
        kubernetes: tools.kubernetes.version,
        tekton: tools.tekton.version,
        kwok: tools.kwok.version,
        alertmanager: tools.alertmanager.version,
        etcd: tools.etcd.version,
        temporal: tools.temporal.version,
      },
    };
    log(`conformance stack ready in ${elapsed(t0)}`);
    return { info, kubeConfig, pki, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------- readiness

async function nodeReady(kc: KubeConfig): Promise<boolean> {
  const node = (await kubeRequest(kc, 'GET', `/api/v1/nodes/${FAKE_NODE}`)).json as
    | { spec?: { taints?: { key: string }[] }; status?: { conditions?: { type: string; status: string }[] } }
    | undefined;
  const ready = node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  // kube-controller-manager lifts the not-ready taint once the node reports Ready.
  const tainted = node?.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/')) ?? false;
  return ready && !tainted;
}

/** A dry-run create of an invalid PipelineRun is refused by Tekton's validating webhook (400). */
async function webhookAdmits(kc: KubeConfig): Promise<boolean> {
  const res = await kubeRequest(
    kc,
    'POST',
    `/apis/tekton.dev/v1/namespaces/${EXECUTION_NAMESPACE}/pipelineruns?dryRun=All`,
    {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { name: 'conformance-webhook-probe' },
      spec: { pipelineRef: { name: 'a' }, pipelineSpec: { tasks: [] } },
    },
  );
  return res.status === 400 && res.body.includes('validation.webhook.pipeline.tekton.dev');
}

/** The controller fails a PipelineRun of a missing Pipeline within a moment of its creation. */
async function controllerReconciles(kc: KubeConfig): Promise<boolean> {
  const path = `/apis/tekton.dev/v1/namespaces/${TEKTON_NAMESPACE}/pipelineruns`;
  const name = 'conformance-controller-probe';
  const got = await kubeRequest(kc, 'GET', `${path}/${name}`);
  if (got.status === 404) {
    await kubeRequest(kc, 'POST', path, {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { name },
      spec: { pipelineRef: { name: 'conformance-no-such-pipeline' } },
    });
    return false;
  }
  const conditions = (got.json as { status?: { conditions?: { status: string }[] } } | undefined)?.status
    ?.conditions;
  if (!conditions?.some((c) => c.status === 'False')) return false;
  await kubeRequest(kc, 'DELETE', `${path}/${name}`);
  return true;
}

// ---------------------------------------------------------------------------------- manifests

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  [key: string]: unknown;
}

const core = '/api/v1';
const admission = '/apis/admissionregistration.k8s.io/v1';
const rbac = '/apis/rbac.authorization.k8s.io/v1';

/** The REST collection path of each kind this stack applies. */
const KINDS: Readonly<Record<string, { prefix: string; plural: string; namespaced: boolean }>> = {
  Namespace: { prefix: core, plural: 'namespaces', namespaced: false },
  Node: { prefix: core, plural: 'nodes', namespaced: false },
  ConfigMap: { prefix: core, plural: 'configmaps', namespaced: true },
  Secret: { prefix: core, plural: 'secrets', namespaced: true },
  Service: { prefix: core, plural: 'services', namespaced: true },
  ServiceAccount: { prefix: core, plural: 'serviceaccounts', namespaced: true },
  Endpoints: { prefix: core, plural: 'endpoints', namespaced: true },
  ResourceQuota: { prefix: core, plural: 'resourcequotas', namespaced: true },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  NetworkPolicy: { prefix: '/apis/networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
  Role: { prefix: rbac, plural: 'roles', namespaced: true },
  RoleBinding: { prefix: rbac, plural: 'rolebindings', namespaced: true },
  ClusterRole: { prefix: rbac, plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { prefix: rbac, plural: 'clusterrolebindings', namespaced: false },
  ValidatingWebhookConfiguration: {
    prefix: admission,
    plural: 'validatingwebhookconfigurations',
    namespaced: false,
  },
  MutatingWebhookConfiguration: {
    prefix: admission,
    plural: 'mutatingwebhookconfigurations',
    namespaced: false,
  },
  ValidatingAdmissionPolicy: { prefix: admission, plural: 'validatingadmissionpolicies', namespaced: false },
  ValidatingAdmissionPolicyBinding: {
    prefix: admission,
    plural: 'validatingadmissionpolicybindings',
    namespaced: false,
  },
};

/**
 * Server-side apply of each object, in order (what `kubectl apply --server-side --force-conflicts`
 * sends): idempotent, and the API server validates and admits each object as for any client.
 */
export async function applyManifests(kc: KubeConfig, manifests: Manifest[]): Promise<void> {
  for (const m of manifests) {
    const kind = KINDS[m.kind];
    if (!kind) throw new Error(`cannot apply ${m.kind} ${m.metadata.name}: kind not known to the stack`);
    const ns = kind.namespaced ? `/namespaces/${m.metadata.namespace ?? 'default'}` : '';
    const path = `${kind.prefix}${ns}/${kind.plural}/${m.metadata.name}?fieldManager=remediation-conformance&force=true`;
    const res = await kubeRequest(kc, 'PATCH', path, m, 'application/apply-patch+yaml');
    if (res.status >= 300)
      throw new Error(`applying ${m.kind} ${m.metadata.name}: HTTP ${res.status}: ${res.body}`);
  }
}

/** Every Kubernetes object in a YAML file (multi-document). */
export function readManifests(file: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
    const obj = doc.toJS() as Manifest | null;
    if (obj && typeof obj === 'object' && obj.kind) out.push(obj);
  }
  return out;
}

/** Tekton's ConfigMaps (config-*.yaml), in name order. */
function configMapFiles(configDir: string): string[] {
  return readdirSync(configDir)
    .filter((f) => /^config-.*\.yaml$/.test(f))
    .sort();
}

/**
 * Tekton's CRDs as shipped, less `spec.conversion`: conversion between v1beta1 and v1 needs the
 * webhook to be reachable before the CRDs are usable; the stack and the tests use only v1.
 */
function writeTektonCrds(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from).filter((n) => n.endsWith('.yaml'))) {
    const docs = readManifests(join(from, f)).map((crd) => {
      const spec = (crd as { spec?: Record<string, unknown> }).spec;
      if (spec) delete spec.conversion;
      return stringify(crd);
    });
    writeFileSync(join(to, f), docs.join('---\n'));
  }
}

function namespace(name: string): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

/** The one node: kwok manages it (annotation), reports it Ready, and runs its pods by the Stages. */
function fakeNode(): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: FAKE_NODE,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: { 'kubernetes.io/hostname': FAKE_NODE, 'kubernetes.io/os': 'linux', type: 'kwok' },
    } as Manifest['metadata'],
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}

/**
 * The webhook's Service has no selector: its Endpoints point at this host. The API server refuses
 * loopback endpoints, hence the host's own address.
 */
function webhookService(hostIp: string, port: number): Manifest[] {
  const meta = { name: 'tekton-pipelines-webhook', namespace: TEKTON_NAMESPACE };
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta,
      spec: { ports: [{ name: 'https-webhook', port: 443, targetPort: port }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: meta,
      subsets: [{ addresses: [{ ip: hostIp }], ports: [{ name: 'https-webhook', port }] }],
    },
  ];
}

function nonLoopbackIPv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('the Tekton webhook needs a non-loopback IPv4 address on this host; none found');
}

// ---------------------------------------------------------------------------------- PKI

export interface ConformancePki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saPrivateKey: string;
  saPublicKey: string;
}

/** One CA (serving and client certs), an admin client in system:masters, the ServiceAccount signing key. */
async function conformancePki(dir: string): Promise<ConformancePki> {
  const { ca, certs } = await makePki(dir, {
    caSubject: '/CN=conformance-ca',
    days: 365,
    certs: [
      {
        name: 'serving',
        subject: '/CN=kube-apiserver',
        subjectAltNames: ['IP:127.0.0.1', 'DNS:localhost', 'IP:10.0.0.1', 'DNS:kubernetes.default.svc'],
        extendedKeyUsage: ['serverAuth'],
      },
      { name: 'admin', subject: '/O=system:masters/CN=conformance-admin', extendedKeyUsage: ['clientAuth'] },
    ],
  });
  const ossl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  await ossl('genrsa', '-out', 'sa.key', '2048');
  await ossl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  return {
    caCert: ca.cert,
    caKey: ca.key,
    servingCert: certs.serving.cert,
    servingKey: certs.serving.key,
    adminCert: certs.admin.cert,
    adminKey: certs.admin.key,
    saPrivateKey: join(dir, 'sa.key'),
    saPublicKey: join(dir, 'sa.pub'),
  };
}

function adminKubeconfig(server: string, pki: ConformancePki): string {
  const b64 = (f: string): string => readFileSync(f).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'conformance', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [
      {
        name: 'conformance-admin',
        user: { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) },
      },
    ],
    contexts: [{ name: 'conformance', context: { cluster: 'conformance', user: 'conformance-admin' } }],
    'current-context': 'conformance',
  });
}

/** Hands out distinct ports that were free a moment ago. */
async function portAllocator(count = 16): Promise<() => number> {
  const free: number[] = [];
  while (free.length < count) {
    const p = await freePort();
    if (!free.includes(p)) free.push(p);
  }
  return () => {
    const p = free.shift();
    if (p === undefined) throw new Error('conformance stack: out of pre-allocated ports');
    return p;
  };
}
