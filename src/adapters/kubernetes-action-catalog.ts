/**
 * The action catalog as `RemediationAction` objects in the control namespace
 * (deploy/crds/remediation-actions.yaml), served from a watch-backed cache: client-node's informer
 * lists once, then watches, and a lookup never costs an API call.
 *
 * Every object is parsed with {@link parseCatalogEntry} when it arrives (not per lookup); an invalid
 * one is kept with its problems, so admission refuses it by name instead of treating the action as
 * uncatalogued. An object being deleted (deletionTimestamp set, a foreign finalizer holding it) is
 * already gone from the catalog: the operator asked for it to go.
 *
 * Before the first list has succeeded, `get` and `list` wait up to `syncTimeoutMs`, then throw
 * {@link CatalogUnavailableError} (callers retry; the catalog never fails open). After a watch or
 * list failure the informer is replaced by a new one after a backoff (a fresh list, so deletions
 * missed during the outage are applied), and until it has listed the last known catalog is served.
 * Each outage is logged once when it starts (and again only if its error changes) and once when it
 * ends.
 */
import {
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';

import { parseCatalogEntry, type CatalogEntry } from '../domain/catalog';
import { apiMessage, apiStatus } from '../k8s/kube';
import { createLogger } from '../log';
import { type ActionCatalog, CatalogUnavailableError, catalogApi } from '../ports/action-catalog';

/** A `RemediationAction` as the API server returns it; the spec is validated by the worker. */
export interface RemediationActionObject extends KubernetesObject {
  spec?: unknown;
}

const defaultLogger = createLogger({ name: 'worker' }).child({ component: 'catalog' });
const defaultLog = (line: string, level: 'info' | 'warn'): void => defaultLogger.log(level, line);

export interface KubernetesActionCatalogOptions {
  /**
   * One line per outage start or error change (warn), and per recovery and the first sync (info);
   * default the worker's JSON logger.
   */
  log?: (line: string, level: 'info' | 'warn') => void;
  /** How long `get`/`list` wait for the first sync before throwing CatalogUnavailableError; default 3s. */
  syncTimeoutMs?: number;
  /** First delay before restarting the informer after a failure; doubled per failure up to max. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

const DEFAULTS = { syncTimeoutMs: 3_000, minBackoffMs: 500, maxBackoffMs: 30_000 } as const;

/** Sorted by id, by code point (ids are DNS names): the same order everywhere. */
export function byId(a: CatalogEntry, b: CatalogEntry): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The error without the request URL (list and watch of one outage then read the same). */
function describeError(err: unknown): string {
  const status = apiStatus(err);
  const message = apiMessage(err).replace(/^request to \S+ failed, reason: /, '');
  return status === undefined ? message : `HTTP ${status}: ${message}`;
}

export class KubernetesActionCatalog implements ActionCatalog {
  private readonly api: CustomObjectsApi;
  private readonly path: string;
  private readonly log: (line: string, level: 'info' | 'warn') => void;
  private readonly syncTimeoutMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  /** The catalog as last known: id → parsed entry. */
  private readonly entries = new Map<string, CatalogEntry>();
  private synced = false;
  private closed = false;
  private readonly syncWaiters = new Set<(synced: boolean) => void>();

  /** Callbacks of an informer from an older generation (replaced or closed) are ignored. */
  private generation = 0;
  private informer: Informer<RemediationActionObject> | undefined;
  private retry: NodeJS.Timeout | undefined;
  /** Failures in a row (backoff exponent); reset when the last failure is long past. */
  private failures = 0;
  private lastFailureAt = 0;
  /** The error of the outage in progress (already logged), null when healthy. */
  private outage: string | null = null;

  constructor(
    private readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    options: KubernetesActionCatalogOptions = {},
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.path = `/apis/${catalogApi.group}/${catalogApi.version}/namespaces/${namespace}/${catalogApi.plural}`;
    this.log = options.log ?? defaultLog;
    this.syncTimeoutMs = options.syncTimeoutMs ?? DEFAULTS.syncTimeoutMs;
    this.minBackoffMs = options.minBackoffMs ?? DEFAULTS.minBackoffMs;
    this.maxBackoffMs = Math.max(this.minBackoffMs, options.maxBackoffMs ?? DEFAULTS.maxBackoffMs);
  }

  /** Starts the informer (idempotent); {@link startKubernetesActionCatalog} calls it. */
  start(): this {
    if (!this.closed && this.informer === undefined && this.retry === undefined) this.startInformer();
    return this;
  }

  async get(id: string): Promise<CatalogEntry | undefined> {
    await this.ready();
    const entry = this.entries.get(id);
    return entry && structuredClone(entry);
  }

  async list(): Promise<CatalogEntry[]> {
    await this.ready();
    return [...this.entries.values()].map((e) => structuredClone(e)).sort(byId);
  }

  /** True once the first list has succeeded; false if `timeoutMs` passes first or the catalog is closed. */
  whenSynced(timeoutMs = this.syncTimeoutMs): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (synced: boolean) => {
        clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve(synced);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.syncWaiters.add(done);
    });
  }

  /** Stops the watch and any pending restart; later lookups throw CatalogUnavailableError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    clearTimeout(this.retry);
    this.retry = undefined;
    for (const waiter of [...this.syncWaiters]) waiter(false);
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop();
  }

  private async ready(): Promise<void> {
    if (this.closed) throw new CatalogUnavailableError(`the action catalog of ${this.namespace} is closed`);
    if (this.synced || (await this.whenSynced())) return;
    if (this.closed) throw new CatalogUnavailableError(`the action catalog of ${this.namespace} is closed`);
    throw new CatalogUnavailableError(
      `the action catalog (RemediationActions in ${this.namespace}) has not synced within ${this.syncTimeoutMs} ms` +
        (this.outage ? ` (${this.outage})` : '') +
        '; retry later',
    );
  }

  private startInformer(): void {
    const generation = ++this.generation;
    const current = () => generation === this.generation && !this.closed;
    const informer = makeInformer<RemediationActionObject>(this.kubeConfig, this.path, () =>
      this.listFor(generation),
    );
    informer.on('add', (o) => {
      if (current()) this.upsert(o);
    });
    informer.on('update', (o) => {
      if (current()) this.upsert(o);
    });
    informer.on('delete', (o) => {
      if (current()) this.entries.delete(o.metadata?.name ?? '');
    });
    informer.on('error', (err: unknown) => {
      if (current()) this.failed(err);
    });
    this.informer = informer;
    informer.start().catch((err: unknown) => {
      if (current()) this.failed(err);
    });
  }

  /** The informer's list: also the point where the cache is known complete (first sync, recovery). */
  private async listFor(generation: number): Promise<KubernetesListObject<RemediationActionObject>> {
    const list = (await this.api.listNamespacedCustomObject({
      group: catalogApi.group,
      version: catalogApi.version,
      namespace: this.namespace,
      plural: catalogApi.plural,
    })) as KubernetesListObject<RemediationActionObject>;
    // A stale informer must not go on to watch (client-node's ListWatch checks `stopped` only before
    // listing): failing its list ends it, and its error callback is ignored.
    if (generation !== this.generation || this.closed) throw new Error('action catalog informer stopped');
    this.replaceAll(list.items ?? []);
    return list;
  }

  private replaceAll(items: RemediationActionObject[]): void {
    const names = new Set(items.map((o) => o.metadata?.name ?? ''));
    for (const id of [...this.entries.keys()]) if (!names.has(id)) this.entries.delete(id);
    for (const o of items) this.upsert(o);
    if (this.outage !== null) {
      this.log(
        `action catalog: watching RemediationActions in ${this.namespace} again (${this.entries.size} actions)`,
        'info',
      );
      this.outage = null;
    }
    if (!this.synced) {
      this.synced = true;
      this.log(`action catalog: synced ${this.entries.size} RemediationActions in ${this.namespace}`, 'info');
      for (const waiter of [...this.syncWaiters]) waiter(true);
    }
  }

  private upsert(o: RemediationActionObject): void {
    const id = o.metadata?.name;
    if (!id) return;
    if (o.metadata?.deletionTimestamp) {
      this.entries.delete(id);
      return;
    }
    const resourceVersion = o.metadata?.resourceVersion ?? '';
    if (this.entries.get(id)?.resourceVersion === resourceVersion) return;
    this.entries.set(id, parseCatalogEntry(id, resourceVersion, o.spec));
  }

  /** One failure of the list or the watch: drop this informer, start a new one after a backoff. */
  private failed(err: unknown): void {
    if (this.closed || this.retry !== undefined) return;
    const now = Date.now();
    if (now - this.lastFailureAt > 2 * this.maxBackoffMs) this.failures = 0;
    this.lastFailureAt = now;
    this.failures++;
    const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(this.failures - 1, 30));
    const message = describeError(err);
    if (message !== this.outage) {
      const serving = this.synced
        ? `serving the last known catalog (${this.entries.size} actions)`
        : 'not synced yet, lookups fail with CatalogUnavailableError';
      this.log(
        `action catalog: watching RemediationActions in ${this.namespace} failed: ${message}; ${serving}; retrying with backoff (next in ${delay} ms)`,
        'warn',
      );
      this.outage = message;
    }
    this.generation++; // the old informer's late callbacks are ignored from here on
    const old = this.informer;
    this.informer = undefined;
    void old?.stop().catch(() => undefined);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.closed) this.startInformer();
    }, delay);
    this.retry.unref?.();
  }
}

/**
 * The catalog of `namespace` (the control namespace), watching from now on. Lookups wait for the
 * first sync (up to `syncTimeoutMs`); call `close()` on shutdown.
 */
export function startKubernetesActionCatalog(
  kubeConfig: KubeConfig,
  namespace: string,
  options: KubernetesActionCatalogOptions = {},
): KubernetesActionCatalog {
  return new KubernetesActionCatalog(kubeConfig, namespace, options).start();
}
