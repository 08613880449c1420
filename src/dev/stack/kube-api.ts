/**
 * A real Kubernetes API for CRDs without nodes: etcd + apiextensions-apiserver (envtest-style),
 * client-certificate auth (group system:masters is always authorized), and the project's CRDs
 * installed from deploy/crds/.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { get as httpGet } from 'node:http';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { makePki } from './pki';
import { elapsed, freePort, noLog, portIsFree, spawnLogged, waitFor, type Child, type Log } from './proc';

export interface KubeApiOptions {
  /** State folder: certificates, etcd data, kubeconfig, logs. Reused across restarts. */
  dir: string;
  etcdPort?: number;
  apiPort?: number;
  /** Binaries; default: found by scripts/provision.sh via the caller (required in practice). */
  etcdBin?: string;
  apiserverBin?: string;
  /** Folder of CRD YAML installed after start (recursively); default <repo>/deploy/crds. null = none. */
  crdsDir?: string | null;
  /** etcd --unsafe-no-fsync: much faster writes, for throwaway test stacks only. */
  unsafeNoFsync?: boolean;
  log?: Log;
}

export interface KubeApi {
  kubeconfigPath: string;
  server: string;
  stop(): Promise<void>;
}

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const DEFAULT_CRDS_DIR = join(REPO_ROOT, 'deploy', 'crds');

// Every default admission plugin needs informers on core/v1 objects this server does not have.
const DISABLED_ADMISSION = [
  'NamespaceLifecycle',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionWebhook',
];

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  api: number;
}

export async function startKubeApi(opts: KubeApiOptions): Promise<KubeApi> {
  const log = opts.log ?? noLog;
  const dir = resolve(opts.dir);
  const etcdBin = opts.etcdBin ?? 'etcd';
  const apiserverBin = opts.apiserverBin ?? 'apiextensions-apiserver';
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();

  const pki = await ensurePki(join(dir, 'pki'));
  const ports = await choosePorts(join(dir, 'kube-ports.json'), opts);
  const server = `https://127.0.0.1:${ports.api}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml(server, pki), { mode: 0o600 });

  const started: Child[] = [];
  const stop = async (): Promise<void> => {
    // API server first: it would otherwise spin reconnecting to a vanished etcd.
    for (const c of [...started].reverse()) await c.stop();
  };

  try {
    const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    const etcd = spawnLogged(
      'etcd',
      etcdBin,
      [
        '--name=stack',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=stack=${peerUrl}`,
        '--log-level=warn',
        ...(opts.unsafeNoFsync ? ['--unsafe-no-fsync=true'] : []),
      ],
      join(dir, 'logs', 'etcd.log'),
    );
    started.push(etcd);
    await waitFor('etcd /health', () => etcdHealthy(etcdUrl), {
      timeoutMs: 30_000,
      child: etcd,
      intervalMs: 100,
    });
    log(`etcd ready on ${etcdUrl} (${elapsed(t0)})`);

    const api = spawnLogged(
      'apiextensions-apiserver',
      apiserverBin,
      [
        `--etcd-servers=${etcdUrl}`,
        `--secure-port=${ports.api}`,
        '--bind-address=127.0.0.1',
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        // No core cluster to delegate to: skip the lookup and point the "core" kubeconfigs at
        // ourselves (only system:masters client certs are used, which never need delegation).
        '--authentication-skip-lookup',
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        `--kubeconfig=${kubeconfigPath}`,
        '--enable-priority-and-fairness=false',
        `--disable-admission-plugins=${DISABLED_ADMISSION.join(',')}`,
        `--cert-dir=${join(dir, 'pki', 'apiserver')}`,
        '--v=0',
      ],
      join(dir, 'logs', 'apiserver.log'),
    );
    started.push(api);
    await waitFor('apiserver /healthz', () => apiHealthy(server, pki), { timeoutMs: 60_000, child: api });
    log(`apiextensions-apiserver ready on ${server} (${elapsed(t0)})`);

    const crdsDir = opts.crdsDir === undefined ? DEFAULT_CRDS_DIR : opts.crdsDir;
    if (crdsDir) {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      const t1 = Date.now();
      const names = await installCrds(kc, crdsDir, log);
      log(`installed ${names.length} CRDs in ${elapsed(t1)}: ${names.join(', ')}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { kubeconfigPath, server, stop };
}

/**
 * Creates or replaces every CustomResourceDefinition found in *.yaml/*.yml under `dir`
 * (recursively; or in the one file `dir` names), then waits until each is Established and actually served. Returns CRD names.
 */
export async function installCrds(kubeConfig: KubeConfig, dir: string, log: Log = noLog): Promise<string[]> {
  const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  const crds = readCrds(dir, log);
  // Raw JSON on purpose: client-node's typed serializer drops wire-named fields such as
  // x-kubernetes-preserve-unknown-fields from plain YAML objects, which breaks Tekton's schemas.
  for (const crd of crds) {
    const name = crd.metadata.name;
    const created = await kubeRequest(kubeConfig, 'POST', base, crd);
    if (created.status === 409) {
      const current = await kubeRequest(kubeConfig, 'GET', `${base}/${name}`);
      const resourceVersion = (current.json as Crd | undefined)?.metadata.resourceVersion;
      const body = { ...crd, metadata: { ...crd.metadata, resourceVersion } };
      const replaced = await kubeRequest(kubeConfig, 'PUT', `${base}/${name}`, body);
      if (replaced.status >= 300)
        throw new Error(`replacing CRD ${name}: HTTP ${replaced.status}: ${replaced.body}`);
    } else if (created.status >= 300) {
      throw new Error(`creating CRD ${name}: HTTP ${created.status}: ${created.body}`);
    }
  }
  for (const crd of crds) {
    const name = crd.metadata.name;
    await waitFor(
      `CRD ${name} Established`,
      async () => {
        const c = (await kubeRequest(kubeConfig, 'GET', `${base}/${name}`)).json as Crd | undefined;
        return !!c?.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    // Established comes a moment before the storage is served ("storage is (re)initializing", 429).
    const version = crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0]?.name ?? 'v1';
    const list = `/apis/${crd.spec.group}/${version}/${crd.spec.names.plural}?limit=1`;
    await waitFor(
      `CRD ${name} served`,
      async () => (await kubeRequest(kubeConfig, 'GET', list)).status === 200,
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
  }
  return crds.map((c) => c.metadata.name);
}

/** The few CRD fields we read; the rest is passed through untouched. */
interface Crd {
  kind: 'CustomResourceDefinition';
  metadata: { name: string; resourceVersion?: string };
  spec: { group: string; names: { plural: string }; versions: { name: string; storage?: boolean }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

export interface KubeResponse {
  status: number;
  body: string;
  json: unknown;
}

/** Minimal authenticated JSON request using the kubeconfig's TLS/client-cert settings. */
export async function kubeRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  accept = 'application/json',
): Promise<KubeResponse> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig has no current cluster');
  const url = new URL(path, server);
  const options: RequestOptions = {
    method,
    headers: {
      Accept: accept,
      ...(body === undefined ? {} : { 'Content-Type': contentType }),
    },
    timeout: 10_000,
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: text, json });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function readCrds(dir: string, log: Log): Crd[] {
  const out: Crd[] = [];
  for (const file of yamlFiles(dir)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      const obj: unknown = doc.toJS();
      if (!obj || typeof obj !== 'object') continue;
      const kind = (obj as { kind?: unknown }).kind;
      if (kind === 'CustomResourceDefinition') out.push(obj as Crd);
      // Namespaces, RBAC etc. do not exist on this server (no core/v1): skip, but say so.
      else log(`skipping ${String(kind)} in ${file} (only CRDs are installed on the local API server)`);
    }
  }
  return out;
}

/** YAML files under `dir` (recursively), or `dir` itself when it is a file. */
function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}

interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
}

/** One CA signs the serving cert (127.0.0.1/localhost) and an admin client cert in system:masters. */
async function ensurePki(dir: string): Promise<Pki> {
  const { ca, certs } = await makePki(dir, {
    caSubject: '/CN=remediation-stack-ca',
    reuse: true,
    certs: [
      {
        name: 'serving',
        subject: '/CN=127.0.0.1',
        subjectAltNames: ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost'],
        extendedKeyUsage: ['serverAuth'],
      },
      { name: 'admin', subject: '/O=system:masters/CN=stack-admin', extendedKeyUsage: ['clientAuth'] },
    ],
  });
  return {
    caCert: ca.cert,
    caKey: ca.key,
    servingCert: certs.serving.cert,
    servingKey: certs.serving.key,
    adminCert: certs.admin.cert,
    adminKey: certs.admin.key,
  };
}

/** Explicit ports win; otherwise last run's ports (stable kubeconfig) when still free; else fresh ones. */
async function choosePorts(file: string, opts: KubeApiOptions): Promise<Ports> {
  let prev: Partial<Ports> = {};
  try {
    prev = JSON.parse(readFileSync(file, 'utf8')) as Partial<Ports>;
  } catch {
    // first run
  }
  const pick = async (
    given: number | undefined,
    previous: number | undefined,
    taken: number[],
  ): Promise<number> => {
    if (given) return given;
    if (previous && !taken.includes(previous) && (await portIsFree(previous))) return previous;
    for (;;) {
      const p = await freePort();
      if (!taken.includes(p)) return p;
    }
  };
  const etcdClient = await pick(opts.etcdPort, prev.etcdClient, []);
  const etcdPeer = await pick(undefined, prev.etcdPeer, [etcdClient]);
  const api = await pick(opts.apiPort, prev.api, [etcdClient, etcdPeer]);
  const ports = { etcdClient, etcdPeer, api };
  writeFileSync(file, JSON.stringify(ports) + '\n');
  return ports;
}

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (f: string): string => readFileSync(f).toString('base64');
  // Certificates inlined so the file keeps working when copied elsewhere.
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: remediation-stack',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.caCert)}`,
    'users:',
    '- name: stack-admin',
    '  user:',
    `    client-certificate-data: ${b64(pki.adminCert)}`,
    `    client-key-data: ${b64(pki.adminKey)}`,
    'contexts:',
    '- name: remediation-stack',
    '  context:',
    '    cluster: remediation-stack',
    '    user: stack-admin',
    'current-context: remediation-stack',
    '',
  ].join('\n');
}

function etcdHealthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(`${url}/health`, { timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"true"')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

function apiHealthy(server: string, pki: Pki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      `${server}/healthz`,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 2000,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'ok'));
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
