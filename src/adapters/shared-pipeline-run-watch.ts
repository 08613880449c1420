/**
 * One watch of a namespace's PipelineRuns, shared by every wait in that namespace (an informer in
 * the Kubernetes sense): a LIST, then a WATCH from the list's resourceVersion, kept going from the
 * last resourceVersion seen (bookmarks included) when the server ends it, and re-listed after a
 * 410 Gone or a failed connection. Waits subscribe by name and get that run's events only, so a
 * worker holds one watch connection per namespace however many remediations are executing.
 *
 * The transport (list, watch, get) is injected: the Kubernetes adapter passes API calls, the unit
 * tests a scripted server.
 */
import type { PipelineRun } from '../domain/tekton';

export interface WatchEventHandlers {
  onEvent(type: string, object: unknown): void;
  /** The stream ended: `error` is undefined for a clean end (the server's timeout). */
  onEnd(error: unknown): void;
}

export interface PipelineRunWatchTransport {
  list(): Promise<{ resourceVersion: string | undefined; items: PipelineRun[] }>;
  /** Opens one watch stream from `resourceVersion`; returns how to stop it. */
  watch(resourceVersion: string | undefined, handlers: WatchEventHandlers): Promise<{ stop(): void }>;
  /** One object by name; undefined when it does not exist. */
  get(name: string): Promise<PipelineRun | undefined>;
}

export interface RunSubscriber {
  /** The run as it is now (ADDED, MODIFIED, or found by a list). */
  changed(run: PipelineRun): void;
  /** The run was deleted; `last` is its final state when known. */
  deleted(last: PipelineRun | undefined): void;
  /** The watch met an error that retrying will not cure (see `failsWaits`): the wait should end with it. */
  failed?(error: unknown): void;
}

export interface SharedWatchOptions {
  /** First and largest delay before re-listing after a failed watch or list. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long the watch stays open with no subscriber, so churn does not re-list each time. */
  idleMs?: number;
  /** Called when the watch fails (for logs); it retries by itself. */
  onError?: (error: unknown) => void;
  /**
   * Errors the waits must hear of at once (e.g. RBAC refusals): retrying quietly would hide them.
   * The watch still retries with backoff for whoever subscribes next.
   */
  failsWaits?: (error: unknown) => boolean;
}

export class SharedPipelineRunWatch {
  private readonly subscribers = new Map<string, Set<RunSubscriber>>();
  /** Names seen by the last list or since through the watch, with their latest object. */
  private readonly known = new Map<string, PipelineRun>();
  private resourceVersion: string | undefined;
  private running = false;
  /** The open stream: stopping it also counts it closed, whether or not the transport reports the end. */
  private stream: { stop(): void; close(): void } | undefined;
  /** Bumped by every stop: callbacks of an earlier start are ignored. */
  private generation = 0;
  private retry: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Open watch streams (0 or 1): what the connection figure counts. */
  private open = 0;

  constructor(
    private readonly transport: PipelineRunWatchTransport,
    private readonly opts: SharedWatchOptions = {},
  ) {}

  /** Watch connections open now (0 or 1). */
  get connections(): number {
    return this.open;
  }

  get subscriberCount(): number {
    let n = 0;
    for (const set of this.subscribers.values()) n += set.size;
    return n;
  }

  /**
   * Follows `name`. Its current state is read with a GET (the shared cache may not have seen a run
   * created a moment ago): `deleted(undefined)` when it does not exist. Returns the unsubscribe.
   */
  subscribe(name: string, subscriber: RunSubscriber): () => void {
    // The GET's answer counts only if the watch has told this subscriber nothing yet: it may be
    // older than an event that overtook it. A deletion is the last word.
    let heard = false;
    let gone = false;
    const entry: RunSubscriber = {
      changed: (run) => {
        heard = true;
        if (!gone) subscriber.changed(run);
      },
      deleted: (last) => {
        heard = true;
        if (!gone) subscriber.deleted(last);
        gone = true;
      },
      failed: (error) => {
        if (!gone) subscriber.failed?.(error);
      },
    };
    let set = this.subscribers.get(name);
    if (!set) this.subscribers.set(name, (set = new Set()));
    set.add(entry);
    clearTimeout(this.idle);
    this.idle = undefined;
    if (!this.running) this.start();
    void this.transport.get(name).then(
      (run) => {
        if (heard || !set.has(entry)) return;
        if (run) entry.changed(run);
        else entry.deleted(undefined);
      },
      // The watch (or its re-list) delivers the state once the API server answers again.
      (error: unknown) => this.failure(error, name),
    );
    return () => this.unsubscribe(name, entry);
  }

  /** Stops the watch now (tests, shutdown). */
  stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.retry);
    clearTimeout(this.idle);
    this.stream?.close();
    this.known.clear();
  }

  /** Logs a failure and, when it is one retrying will not cure, ends the waits it concerns. */
  private failure(error: unknown, name?: string): void {
    this.opts.onError?.(error);
    if (!this.opts.failsWaits?.(error)) return;
    const sets = name === undefined ? [...this.subscribers.values()] : [this.subscribers.get(name) ?? []];
    for (const set of sets) for (const s of [...set]) s.failed?.(error);
  }

  private unsubscribe(name: string, subscriber: RunSubscriber): void {
    const set = this.subscribers.get(name);
    if (!set?.delete(subscriber)) return;
    if (set.size === 0) this.subscribers.delete(name);
    if (this.subscribers.size > 0) return;
    const idleMs = this.opts.idleMs ?? 30_000;
    if (idleMs <= 0) return this.stop();
    this.idle = setTimeout(() => {
      if (this.subscribers.size === 0) this.stop();
    }, idleMs);
    this.idle.unref?.();
  }

  private start(): void {
    this.running = true;
    this.relistSoon(0);
  }

  private backoff(): number {
    const min = this.opts.minBackoffMs ?? 250;
    return Math.min(this.opts.maxBackoffMs ?? 5_000, min * 2 ** this.failures++);
  }

  private relistSoon(delay: number): void {
    clearTimeout(this.retry);
    const generation = this.generation;
    this.retry = setTimeout(() => {
      this.relist().catch((error: unknown) => {
        this.failure(error);
        if (this.running && generation === this.generation) this.relistSoon(this.backoff());
      });
    }, delay);
  }

  private watchSoon(delay: number): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.watchFrom(this.resourceVersion), delay);
  }

  /** A fresh list replaces what is known; a known run missing from it was deleted meanwhile. */
  private async relist(): Promise<void> {
    if (!this.running) return;
    const generation = this.generation;
    const list = await this.transport.list();
    if (!this.running || generation !== this.generation) return;
    this.failures = 0;
    const before = new Map(this.known);
    this.known.clear();
    for (const run of list.items) this.known.set(run.metadata.name ?? '', run);
    this.resourceVersion = list.resourceVersion;
    for (const [name, set] of this.subscribers) {
      const run = this.known.get(name);
      if (run) {
        for (const s of [...set]) s.changed(run);
      } else if (before.has(name)) {
        for (const s of [...set]) s.deleted(before.get(name));
      } else {
        // Never seen by the shared cache: created after this list, or deleted before it was seen.
        // A GET tells which (lists are not compared by resourceVersion).
        void this.confirmMissing(name);
      }
    }
    await this.watchFrom(this.resourceVersion);
  }

  private async confirmMissing(name: string): Promise<void> {
    try {
      const run = await this.transport.get(name);
      if (run || this.known.has(name)) return;
      for (const s of [...(this.subscribers.get(name) ?? [])]) s.deleted(undefined);
    } catch (error) {
      this.failure(error, name);
    }
  }

  private async watchFrom(resourceVersion: string | undefined): Promise<void> {
    if (!this.running) return;
    const generation = this.generation;
    const live = () => this.running && generation === this.generation && !ended;
    let gone = false;
    let ended = false;
    let transportStream: { stop(): void } | undefined;
    const close = () => {
      if (ended) return false;
      ended = true;
      this.open--;
      if (this.stream === handle) this.stream = undefined;
      transportStream?.stop();
      return true;
    };
    const handle = { stop: () => transportStream?.stop(), close };
    this.open++;
    this.stream = handle;
    const end = (error: unknown) => {
      if (!close() || !this.running || generation !== this.generation) return;
      if (gone) return this.relistSoon(0);
      if (error) {
        this.failure(error);
        // The resourceVersion may have been compacted meanwhile; a list is always safe.
        return this.relistSoon(this.backoff());
      }
      // The server's timeout: carry on from the last resourceVersion, no list needed.
      this.watchSoon(0);
    };
    try {
      transportStream = await this.transport.watch(resourceVersion, {
        onEvent: (type, object) => {
          if (!live()) return;
          if (type === 'ERROR') {
            // 410 Gone (resourceVersion too old) and other errors: the stream ends; re-list.
            gone = true;
            return;
          }
          const run = object as PipelineRun;
          const rv = run?.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (type === 'BOOKMARK') return;
          const name = run.metadata.name ?? '';
          if (type === 'DELETED') {
            this.known.delete(name);
            for (const s of [...(this.subscribers.get(name) ?? [])]) s.deleted(run);
          } else if (type === 'ADDED' || type === 'MODIFIED') {
            this.known.set(name, run);
            for (const s of [...(this.subscribers.get(name) ?? [])]) s.changed(run);
          }
        },
        onEnd: end,
      });
      // Closed (stopped, or ended) while the request was being made.
      if (ended) transportStream.stop();
    } catch (error) {
      end(error ?? new Error('watch failed'));
    }
  }
}
