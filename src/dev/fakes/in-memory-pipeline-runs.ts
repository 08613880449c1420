/**
 * PipelineRuns fake for unit tests. It plays the same scripts as the Tekton simulator through the
 * same pure plan (src/dev/simulator/plan.ts), so it holds the very PipelineRun and TaskRun objects the
 * simulator would write, classified by the same classifier. Time comes from an injectable timer.
 */
import { classifyDisappeared, classifyPipelineRun, latestObservation } from '../../domain/classifier';
import {
  PIPELINE_RUN_CANCELLED,
  TEKTON_API_VERSION,
  TEKTON_GROUP,
  type Pipeline,
  type PipelineRun,
  type TaskRun,
} from '../../domain/tekton';
import {
  assertAdoptable,
  PipelineRunRejectedError,
  pipelineRunFor,
  wouldRunOf,
  type PipelineRunCreated,
  type PipelineRunDryRun,
  type PipelineRunOutcome,
  type PipelineRunRequest,
  type PipelineRuns,
} from '../../ports/pipeline-runs';
import { cancelRun, isoSeconds, newTaskRun, planRun } from '../simulator/plan';
import { SCRIPT_ANNOTATION, type Script } from '../simulator/script';

/** Time as the fake sees it; {@link VirtualTimer} makes tests instant and deterministic. */
export interface Timer {
  now(): number;
  /** Returns a function that cancels the callback. */
  setTimeout(callback: () => void, ms: number): () => void;
}

export const realTimer: Timer = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    return () => clearTimeout(handle);
  },
};

/**
 * Virtual time that only moves when something waits: each scheduled callback fires on the next
 * macrotask, the clock jumping to its due time (earliest first). `advance` moves it explicitly.
 */
export class VirtualTimer implements Timer {
  private current: number;
  private readonly due: { at: number; seq: number; callback: () => void }[] = [];
  private seq = 0;

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): () => void {
    const entry = { at: this.current + Math.max(0, ms), seq: this.seq++, callback };
    this.due.push(entry);
    setImmediate(() => this.fireNext());
    return () => {
      const i = this.due.indexOf(entry);
      if (i >= 0) this.due.splice(i, 1);
    };
  }

  advance(ms: number): void {
    this.current += ms;
  }

  private fireNext(): void {
    this.due.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = this.due.shift();
    if (!next) return;
    this.current = Math.max(this.current, next.at);
    next.callback();
  }
}

interface StoredRun {
  pr: PipelineRun;
  /** The Pipeline as the first reconcile saw it (undefined: missing). */
  pipeline: Pipeline | undefined;
  /** Final objects once cancelled: Tekton's overlay taken at the moment of the cancel. */
  cancelled?: { pipelineRun: PipelineRun; taskRuns: TaskRun[] };
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class InMemoryPipelineRuns implements PipelineRuns {
  private readonly waitsByNamespace = new Map<string, number>();
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly runs = new Map<string, StoredRun>();
  private readonly rejections = new Map<string, { status: number; message: string }>();
  private readonly waiters = new Set<() => void>();
  private uids = 0;

  constructor(private readonly timer: Timer = realTimer) {}

  /** Declares a Pipeline whose runs follow `script`. */
  definePipeline(
    namespace: string,
    name: string,
    script: { outcome: Script['outcome'] | string; durationMs?: number },
  ): void {
    this.pipelines.set(key(namespace, name), {
      apiVersion: TEKTON_API_VERSION,
      kind: 'Pipeline',
      metadata: { name, namespace, annotations: { [SCRIPT_ANNOTATION]: JSON.stringify(script) } },
      spec: {
        tasks: [
          {
            name: 'run',
            taskSpec: { steps: [{ name: 'run', image: 'registry.example.com/remediation/run:1.0' }] },
          },
        ],
      },
    });
  }

  /**
   * Makes the API server refuse every create of a run of `pipeline` (webhook, RBAC, missing CRD…);
   * dry runs of such a run are refused alike.
   */
  rejectCreates(pipeline: string, status: number, message: string): void {
    this.rejections.set(pipeline, { status, message });
  }

  /** The Tekton objects as they are now, for assertions (start/finish times, steps…). */
  snapshot(namespace: string, name: string): { pipelineRun: PipelineRun; taskRuns: TaskRun[] } | undefined {
    const run = this.runs.get(key(namespace, name));
    return run ? this.materialize(run) : undefined;
  }

  async create(request: PipelineRunRequest): Promise<PipelineRunCreated> {
    // As the API server: object validation comes before anything else.
    const invalid = validate(request);
    if (invalid) throw new PipelineRunRejectedError(invalid.status, invalid.message);
    const existing = this.runs.get(key(request.namespace, request.name));
    if (existing) {
      assertAdoptable(request, existing.pr.metadata.labels);
      return { name: request.name, created: false, uid: existing.pr.metadata.uid ?? '' };
    }
    const rejection = this.rejections.get(request.pipeline);
    if (rejection) throw new PipelineRunRejectedError(rejection.status, rejection.message);
    const now = isoSeconds(this.timer.now());
    const uid = `uid-${++this.uids}`;
    const built = pipelineRunFor(request);
    const pr: PipelineRun = {
      ...built,
      metadata: { ...built.metadata, uid, creationTimestamp: now },
      // The first reconcile happens at once: startTime anchors the scripted timeline.
      status: { startTime: now },
    };
    this.runs.set(key(request.namespace, request.name), {
      pr,
      pipeline: this.pipelines.get(key(request.namespace, request.pipeline)),
    });
    this.notify();
    return { name: request.name, created: true, uid };
  }

  /**
   * The API server's order: validation, then admission (the {@link rejectCreates} refusals), then
   * the name's existence (409, accepted). Touches nothing.
   */
  async dryRun(request: PipelineRunRequest): Promise<PipelineRunDryRun> {
    const result = {
      pipelineExists: this.pipelines.has(key(request.namespace, request.pipeline)),
      wouldRun: wouldRunOf(pipelineRunFor(request)),
    };
    const rejection = validate(request) ?? this.rejections.get(request.pipeline);
    if (rejection) return { ...result, accepted: false, rejection: { ...rejection }, alreadyExists: false };
    const alreadyExists = this.runs.has(key(request.namespace, request.name));
    return { ...result, accepted: true, rejection: null, alreadyExists };
  }

  async observe(namespace: string, name: string): Promise<PipelineRunOutcome | null> {
    const run = this.runs.get(key(namespace, name));
    if (!run) return null;
    const { pipelineRun, taskRuns } = this.materialize(run);
    return classifyPipelineRun(pipelineRun, taskRuns);
  }

  async waitForCompletion(
    namespace: string,
    name: string,
    options: {
      signal?: AbortSignal;
      heartbeatMs?: number;
      onProgress?: (outcome: PipelineRunOutcome) => void;
    },
  ): Promise<PipelineRunOutcome> {
    const heartbeatMs = options.heartbeatMs ?? 10_000;
    let last: PipelineRunOutcome | undefined;
    // Every wait in a namespace listens to the one change feed of that namespace (as the real
    // adapter's shared watch): counted so the contract can hold both to one connection.
    this.waitsByNamespace.set(namespace, (this.waitsByNamespace.get(namespace) ?? 0) + 1);
    try {
      for (;;) {
        if (options.signal?.aborted) throw abortError(namespace, name);
        const run = this.runs.get(key(namespace, name));
        const outcome = run ? await this.observe(namespace, name) : null;
        // Gone before it finished: what it did is judged from what this wait saw of it.
        if (!run || !outcome) return { state: 'failed', failure: classifyDisappeared(last) };
        if (outcome.state !== 'running') return outcome;
        last = latestObservation(last, outcome);
        options.onProgress?.(outcome);
        await this.sleep(
          Math.min(heartbeatMs, this.untilNextTransition(run)),
          namespace,
          name,
          options.signal,
        );
      }
    } finally {
      const left = (this.waitsByNamespace.get(namespace) ?? 1) - 1;
      if (left > 0) this.waitsByNamespace.set(namespace, left);
      else this.waitsByNamespace.delete(namespace);
    }
  }

  /** One change feed per namespace with waits on it. */
  watchConnections(): number {
    return this.waitsByNamespace.size;
  }

  async cancel(namespace: string, name: string): Promise<void> {
    const run = this.runs.get(key(namespace, name));
    if (!run || run.cancelled) return;
    const current = this.materialize(run);
    const finished = current.pipelineRun.status?.conditions?.some(
      (c) => c.type === 'Succeeded' && c.status !== 'Unknown',
    );
    if (finished) return;
    const overlay = cancelRun(current.pipelineRun, current.taskRuns, this.timer.now());
    run.pr = { ...run.pr, spec: { ...run.pr.spec, status: PIPELINE_RUN_CANCELLED } };
    run.cancelled = {
      pipelineRun: { ...current.pipelineRun, spec: run.pr.spec, status: overlay.pipelineRun },
      taskRuns: current.taskRuns.map((tr) => {
        const status = overlay.taskRuns.find((c) => c.name === tr.metadata.name)?.status;
        return status ? { ...tr, status } : tr;
      }),
    };
    this.notify();
  }

  /**
   * For tests: deletes the PipelineRun (and with it its TaskRuns) as `kubectl delete` would, waking
   * any wait on it. False when there was no such run.
   */
  delete(namespace: string, name: string): boolean {
    const deleted = this.runs.delete(key(namespace, name));
    if (deleted) this.notify();
    return deleted;
  }

  async list(namespace: string, labels: Record<string, string>): Promise<string[]> {
    return [...this.runs.values()]
      .filter(({ pr }) => pr.metadata.namespace === namespace)
      .filter(({ pr }) => Object.entries(labels).every(([k, v]) => pr.metadata.labels?.[k] === v))
      .map(({ pr }) => pr.metadata.name ?? '');
  }

  // ------------------------------------------------------------------------------ internals

  private plan(run: StoredRun) {
    return planRun({
      pipelineRun: run.pr,
      pipeline: run.pipeline,
      startTime: run.pr.status?.startTime ?? '',
    });
  }

  /** The objects at the timer's now: the last due transition of the plan (or the cancel overlay). */
  private materialize(run: StoredRun): { pipelineRun: PipelineRun; taskRuns: TaskRun[] } {
    if (run.cancelled) return structuredClone(run.cancelled);
    const plan = this.plan(run);
    const elapsed = this.timer.now() - Date.parse(run.pr.status?.startTime ?? '');
    const due = plan.filter((t) => t.atMs <= elapsed);
    const current = due[due.length - 1];
    const created = run.pr.status?.startTime;
    const taskRuns = (current?.taskRuns ?? []).map((planned): TaskRun => {
      const task = run.pipeline?.spec.tasks?.find((t) => t.name === planned.pipelineTask) ?? {
        name: planned.pipelineTask,
      };
      const tr = newTaskRun(run.pr, task);
      return { ...tr, metadata: { ...tr.metadata, creationTimestamp: created }, status: planned.status };
    });
    return structuredClone({
      pipelineRun: { ...run.pr, status: current?.pipelineRun ?? run.pr.status },
      taskRuns,
    });
  }

  private untilNextTransition(run: StoredRun): number {
    const elapsed = this.timer.now() - Date.parse(run.pr.status?.startTime ?? '');
    const next = this.plan(run).find((t) => t.atMs > elapsed);
    return next ? next.atMs - elapsed : Infinity;
  }

  /** Sleeps `ms` of timer time, waking early on any change (cancel) and rejecting on abort. */
  private sleep(ms: number, namespace: string, name: string, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let cancelTimer = () => {};
      const done = () => {
        cancelTimer();
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(abortError(namespace, name));
      };
      const wake = () => {
        done();
        resolve();
      };
      cancelTimer = this.timer.setTimeout(wake, ms);
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort);
    });
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

// The API server's ObjectMeta validation of what a request sets (apimachinery's regexes/messages).
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function keyError(field: string, k: string): string | undefined {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  const validPrefix = prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix));
  if (validPrefix && name.length <= 63 && QUALIFIED_NAME.test(name)) return undefined;
  return `${field}: Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
}

/** The 422 the API server answers to an object it finds invalid; undefined when valid. */
function validate(request: PipelineRunRequest): { status: number; message: string } | undefined {
  const errors: string[] = [];
  if (request.name.length > 253 || !DNS1123_SUBDOMAIN.test(request.name))
    errors.push(
      `metadata.name: Invalid value: ${JSON.stringify(request.name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  for (const [k, v] of Object.entries(request.labels)) {
    const bad = keyError('metadata.labels', k);
    if (bad) errors.push(bad);
    if (v.length > 63 || !LABEL_VALUE.test(v))
      errors.push(
        `metadata.labels: Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      );
  }
  for (const k of Object.keys(request.annotations ?? {})) {
    const bad = keyError('metadata.annotations', k);
    if (bad) errors.push(bad);
  }
  if (errors.length === 0) return undefined;
  const detail = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  return {
    status: 422,
    message: `PipelineRun.${TEKTON_GROUP} ${JSON.stringify(request.name)} is invalid: ${detail}`,
  };
}

function abortError(namespace: string, name: string): DOMException {
  return new DOMException(`stopped waiting for PipelineRun ${namespace}/${name}`, 'AbortError');
}
