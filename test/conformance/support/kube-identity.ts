/**
 * What `kubectl` does for the RBAC conformance tests, over the API itself (the stack ships no
 * kubectl): server-side apply of manifest files with kinds resolved by discovery (`kubectl apply
 * --server-side -f`), ServiceAccount tokens from the TokenRequest API (`kubectl create token`),
 * kubeconfigs that use them, access reviews (`kubectl auth can-i`, `kubectl auth whoami`) and
 * server-rendered tables with short names (`kubectl get rtarget`).
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { readManifests, type Manifest } from '../../../src/dev/stack/conformance';
import { kubeRequest, type KubeResponse } from '../../../src/dev/stack/kube-api';

export type ApiResponse = KubeResponse;

/** One request with the kubeconfig's identity (client certificate or bearer token). */
export function apiRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; accept?: string } = {},
): Promise<ApiResponse> {
  return kubeRequest(kc, method, path, opts.body, opts.contentType, opts.accept);
}

// ------------------------------------------------------------------------------ discovery

export interface ApiResource {
  /** `/api/v1` or `/apis/<group>/<version>`. */
  prefix: string;
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
}

interface ResourceList {
  groupVersion: string;
  resources: { name: string; kind: string; namespaced: boolean; shortNames?: string[] }[];
}

/** Discovery as kubectl's RESTMapper uses it: a kind or a short name to its REST collection. */
export class Discovery {
  private readonly lists = new Map<string, ApiResource[]>();

  constructor(private readonly kc: KubeConfig) {}

  /** The resource serving `kind` of `apiVersion` (re-read once: a CRD applied a moment ago). */
  async kind(apiVersion: string, kind: string): Promise<ApiResource> {
    for (const fresh of [false, true]) {
      const found = (await this.groupVersion(apiVersion, fresh)).find((r) => r.kind === kind);
      if (found) return found;
    }
    throw new Error(`the API server serves no kind ${kind} in ${apiVersion}`);
  }

  /** `kubectl get <name>`: a plural or a short name, searched in every served group version. */
  async resource(name: string): Promise<ApiResource> {
    const groups = (await this.get('/apis')) as {
      groups: { preferredVersion: { groupVersion: string } }[];
    };
    for (const gv of ['v1', ...groups.groups.map((g) => g.preferredVersion.groupVersion)]) {
      const found = (await this.groupVersion(gv, false)).find(
        (r) => r.plural === name || r.shortNames.includes(name),
      );
      if (found) return found;
    }
    throw new Error(`the server doesn't have a resource type "${name}"`);
  }

  private async groupVersion(apiVersion: string, fresh: boolean): Promise<ApiResource[]> {
    const cached = this.lists.get(apiVersion);
    if (cached && !fresh) return cached;
    const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    let list: ResourceList | undefined;
    for (let tries = 0; tries < 40 && !list; tries++) {
      const res = await apiRequest(this.kc, 'GET', prefix);
      if (res.status === 200) list = res.json as ResourceList;
      else if (res.status === 404 && fresh) await new Promise((r) => setTimeout(r, 250));
      else if (res.status === 404) return [];
      else throw new Error(`GET ${prefix}: HTTP ${res.status}: ${res.body}`);
    }
    const resources = (list?.resources ?? [])
      .filter((r) => !r.name.includes('/'))
      .map((r) => ({
        prefix,
        group: group ?? '',
        version: version ?? '',
        plural: r.name,
        kind: r.kind,
        namespaced: r.namespaced,
        shortNames: r.shortNames ?? [],
      }));
    this.lists.set(apiVersion, resources);
    return resources;
  }

  private async get(path: string): Promise<unknown> {
    const res = await apiRequest(this.kc, 'GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}: ${res.body}`);
    return res.json;
  }
}

// ------------------------------------------------------------------------------ apply

/** Every `*.yaml` of the given files and folders (folders not recursed, as `kubectl apply -f dir/`). */
export function manifestFiles(paths: string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
}

/**
 * `kubectl apply --server-side --force-conflicts -f <files>`: objects in file order, namespaced
 * ones into their own `metadata.namespace` (default `default`). Documents without a `kind` (the
 * Alertmanager and intake-route examples in deploy/) are not Kubernetes objects and are skipped,
 * as kubectl would refuse them. Returns `<plural>/<name>` of what was applied.
 */
export async function serverSideApply(
  kc: KubeConfig,
  files: string[],
  fieldManager = 'kubectl',
): Promise<string[]> {
  return applyObjects(kc, files.flatMap(readManifests), fieldManager);
}

/** Server-side apply of objects, in order; returns `<plural>[.<group>]/<name>` of each. */
export async function applyObjects(
  kc: KubeConfig,
  objects: (Manifest | Record<string, unknown>)[],
  fieldManager = 'kubectl',
): Promise<string[]> {
  const discovery = new Discovery(kc);
  const applied: string[] = [];
  for (const m of objects as Manifest[]) {
    const r = await discovery.kind(m.apiVersion, m.kind);
    const ns = r.namespaced ? `/namespaces/${m.metadata.namespace ?? 'default'}` : '';
    const path = `${r.prefix}${ns}/${r.plural}/${m.metadata.name}?fieldManager=${fieldManager}&force=true&fieldValidation=Strict`;
    const res = await apiRequest(kc, 'PATCH', path, { body: m, contentType: 'application/apply-patch+yaml' });
    if (res.status >= 300)
      throw new Error(`applying ${m.kind} ${m.metadata.name}: HTTP ${res.status}: ${res.body}`);
    applied.push(`${r.plural}${r.group ? `.${r.group}` : ''}/${m.metadata.name}`);
  }
  return applied;
}

export type { Manifest };

// ------------------------------------------------------------------------------ identities

/** `kubectl create token <sa> -n <ns> --duration`: a bound token from the TokenRequest API. */
export async function requestToken(
  admin: KubeConfig,
  namespace: string,
  serviceAccount: string,
  expirationSeconds = 3600,
): Promise<string> {
  const res = await apiRequest(
    admin,
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds },
      },
    },
  );
  if (res.status !== 201)
    throw new Error(`TokenRequest for ${namespace}/${serviceAccount}: HTTP ${res.status}: ${res.body}`);
  return (res.json as { status: { token: string } }).status.token;
}

/**
 * A kubeconfig file that authenticates with `token` only (no client certificate), trusting the
 * stack's CA; returns the loaded KubeConfig.
 */
export function writeTokenKubeconfig(
  file: string,
  { server, caCertFile, user, token }: { server: string; caCertFile: string; user: string; token: string },
): KubeConfig {
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'conformance', cluster: { server, 'certificate-authority': caCertFile } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'conformance', user } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/** `kubectl auth whoami`: the user name the API server authenticated. */
export async function whoAmI(kc: KubeConfig): Promise<string> {
  const res = await apiRequest(kc, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  if (res.status !== 201) throw new Error(`SelfSubjectReview: HTTP ${res.status}: ${res.body}`);
  return (res.json as { status: { userInfo: { username: string } } }).status.userInfo.username;
}

export interface AccessQuestion {
  verb: string;
  resource: string;
  group?: string;
  namespace?: string;
  subresource?: string;
  name?: string;
}

/** `kubectl auth can-i <verb> <resource> [-n ns]` as the kubeconfig's own identity. */
export async function canI(kc: KubeConfig, q: AccessQuestion): Promise<boolean> {
  const res = await apiRequest(kc, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { group: '', ...q } },
    },
  });
  if (res.status !== 201) throw new Error(`SelfSubjectAccessReview: HTTP ${res.status}: ${res.body}`);
  return (res.json as { status: { allowed: boolean } }).status.allowed;
}

export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

/** `kubectl auth can-i --list -n <ns>`: the resource rules the identity holds in a namespace. */
export async function rulesIn(kc: KubeConfig, namespace: string): Promise<ResourceRule[]> {
  const res = await apiRequest(kc, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace },
    },
  });
  if (res.status !== 201) throw new Error(`SelfSubjectRulesReview: HTTP ${res.status}: ${res.body}`);
  return (res.json as { status: { resourceRules: ResourceRule[] } }).status.resourceRules;
}

// ------------------------------------------------------------------------------ kubectl get

/** What `kubectl get` prints, as the API server renders it. */
export interface Table {
  columnDefinitions: { name: string; type: string }[];
  rows: { cells: unknown[]; object?: { metadata?: { name?: string } } }[];
}

/**
 * `kubectl get <a>,<b> -n <ns>`: each resource (plural or short name, found by discovery) listed
 * as a server-side Table, the way kubectl asks for it.
 */
export async function kubectlGet(
  kc: KubeConfig,
  names: string[],
  namespace: string,
): Promise<Map<string, Table>> {
  const discovery = new Discovery(kc);
  const tables = new Map<string, Table>();
  for (const name of names) {
    const r = await discovery.resource(name);
    const path = `${r.prefix}/namespaces/${namespace}/${r.plural}`;
    const res = await apiRequest(kc, 'GET', path, {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    });
    if (res.status !== 200) throw new Error(`GET ${path} as Table: HTTP ${res.status}: ${res.body}`);
    const table = res.json as Table & { kind: string };
    if (table.kind !== 'Table') throw new Error(`GET ${path}: expected a Table, got ${table.kind}`);
    tables.set(name, table);
  }
  return tables;
}
