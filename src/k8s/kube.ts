/**
 * KubeConfig loading and the few helpers every Kubernetes adapter shares (client-node 1.4:
 * `ApiException.code` is the HTTP status, `.body` the raw JSON text of a `Status`).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  ApiException,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type Cluster,
  type Context,
  type User,
} from '@kubernetes/client-node';
import { reuseConnections } from './connection-reuse';
import { KubeConfigError } from './kube-config-error';

export interface LoadKubeConfigOptions {
  /** Context to use instead of the files' current-context (kubectl's `--context`). */
  context?: string;
  /** Where `KUBECONFIG` and `HOME` are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

export { KubeConfigError };

/**
 * kubectl's loading rules. `path` (a `--kubeconfig` flag or setting) may be one file or a list like
 * `KUBECONFIG` (`a:b`, `;` on Windows); without it `$KUBECONFIG`, else `~/.kube/config`, else the
 * in-cluster service account. A list merges as kubectl merges it: files that do not exist are
 * skipped, the first file to define a cluster, user or context by name wins (later ones are
 * ignored, not merged), and the first file that sets current-context sets it. `context` then
 * replaces the current-context; an unknown one is an error listing the available ones. API clients
 * made from it reuse keep-alive connections (./connection-reuse.ts).
 */
export function loadKubeConfig(path?: string, options: LoadKubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const list = path || env['KUBECONFIG'] || '';
  let files = list.split(delimiter).filter(Boolean);
  if (files.length === 0) {
    const home = join(env['HOME'] || homedir(), '.kube', 'config');
    if (existsSync(home)) files = [home];
  }
  let kc: KubeConfig;
  if (files.length === 0) {
    // Nothing on disk: in-cluster config (service account), else client-node's localhost default.
    kc = new KubeConfig();
    kc.loadFromDefault();
  } else {
    kc = mergeKubeConfigFiles(files);
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      throw new KubeConfigError(
        `Kubernetes context "${options.context}" not found in ${describeSources(files)}; ` +
          `available: ${contextNames(kc)}`,
      );
    }
    kc.setCurrentContext(options.context);
  } else if (files.length > 0 && !kc.getContextObject(kc.getCurrentContext())) {
    const current = kc.getCurrentContext();
    throw new KubeConfigError(
      (current
        ? `current-context "${current}" of ${describeSources(files)} is not one of its contexts`
        : `${describeSources(files)} sets no current-context`) +
        `: choose one with --context or KUBE_CONTEXT (available: ${contextNames(kc)})`,
    );
  }
  return reuseConnections(kc);
}

function mergeKubeConfigFiles(files: string[]): KubeConfig {
  const existing = files.filter((f) => existsSync(f));
  if (existing.length === 0) {
    throw new KubeConfigError(
      files.length === 1
        ? `kubeconfig ${files[0]} does not exist`
        : `none of the kubeconfig files exist: ${files.join(', ')}`,
    );
  }
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = '';
  for (const file of existing) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file); // relative paths in a file resolve against its own folder
    } catch (error) {
      throw new KubeConfigError(
        `cannot load kubeconfig ${file}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    for (const c of one.getClusters()) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of one.getUsers()) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of one.getContexts()) if (!contexts.has(c.name)) contexts.set(c.name, c);
    currentContext ||= one.getCurrentContext() || '';
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext,
  });
  return kc;
}

function describeSources(files: string[]): string {
  return files.length === 1 ? `kubeconfig ${files[0]}` : `kubeconfig files ${files.join(', ')}`;
}

function contextNames(kc: KubeConfig): string {
  const names = kc.getContexts().map((c) => c.name);
  return names.length ? names.join(', ') : '(none)';
}

/** What a KubeConfig points at, for startup lines and warnings (no credentials). */
export function describeKubeConfig(kc: KubeConfig): {
  context: string;
  cluster: string | undefined;
  server: string | undefined;
  user: string | undefined;
} {
  const context = kc.getCurrentContext();
  const object = kc.getContextObject(context);
  return {
    context,
    cluster: object?.cluster,
    server: kc.getCurrentCluster()?.server,
    user: object?.user,
  };
}

/** Request options that make a patch a JSON merge patch (client-node defaults to JSON-Patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** HTTP status of a failed API call; undefined for transport errors (refused, reset, DNS…). */
export function apiStatus(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  // Watch errors carry `statusCode`; some transport errors carry `code` as a string.
  const code = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * 401 or 403: the API server will not let this identity do this. Unlike an outage, waiting does
 * not help until someone grants the verb, so callers report it instead of retrying quietly.
 */
export function isForbidden(e: unknown): boolean {
  const status = apiStatus(e);
  return status === 401 || status === 403;
}

/** An API call the kubeconfig's identity may not make (RBAC), naming the verb and where. */
export class KubernetesForbiddenError extends Error {
  override readonly name = 'KubernetesForbiddenError';
  constructor(
    readonly status: number,
    readonly verb: string,
    readonly resource: string,
    readonly namespace: string,
    detail: string,
  ) {
    super(
      `the Kubernetes API server refused to ${verb} ${resource} in namespace ${namespace} ` +
        `(HTTP ${status}${detail ? `: ${detail}` : ''}); grant this verb to the identity in use ` +
        `(the worker's ServiceAccount has its Roles in deploy/rbac.yaml)`,
    );
  }

  static of(e: unknown, verb: string, resource: string, namespace: string): KubernetesForbiddenError {
    const detail = apiMessage(e);
    // A refused watch carries only the status text ("Forbidden"), not the server's message.
    return new KubernetesForbiddenError(
      apiStatus(e) ?? 403,
      verb,
      resource,
      namespace,
      /^(Forbidden|Unauthorized)$/.test(detail) ? '' : detail,
    );
  }
}

export function isNotFound(e: unknown): boolean {
  return apiStatus(e) === 404;
}

export function isConflict(e: unknown): boolean {
  return apiStatus(e) === 409;
}

/** The server's human message for an API error (its `Status.message`), else the error text. */
export function apiMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const message = parseStatus(e.body)?.message;
    if (message) return message;
  }
  return e instanceof Error ? e.message : String(e);
}

function parseStatus(body: unknown): { message?: string } | undefined {
  if (typeof body === 'object' && body !== null) return body as { message?: string };
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as { reason?: string; message?: string })
      : undefined;
  } catch {
    return undefined;
  }
}
