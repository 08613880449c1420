/**
 * The Kubernetes side of the simulated Tekton controller: watches PipelineRuns and writes what
 * plan.ts decides, through the /status subresource like Tekton's reconcilers. All progress is read
 * back from the objects, so a restarted simulator resumes runs instead of replaying them.
 */
import { CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { apiMessage, isConflict, isNotFound, mergePatch } from '../../k8s/kube';
import {
  PIPELINE_RUN_LABEL,
  succeededCondition,
  TEKTON_GROUP,
  TEKTON_VERSION,
  TektonPlural,
  type Pipeline,
  type PipelineRun,
  type TaskRun,
} from '../../domain/tekton';
import {
  appliedIndex,
  cancelRun,
  isoSeconds,
  newTaskRun,
  planRun,
  sameJson,
  TASKRUN_CANCELLED_MESSAGE,
  type PlannedTaskRun,
} from './plan';

export interface TektonSimulatorOptions {
  kubeConfig: KubeConfig;
  /** Only this namespace; all namespaces when omitted. */
  namespace?: string;
  log?: (line: string) => void;
  /** Full re-list period, a safety net behind the watch. */
  resyncMs?: number;
}

/** `spec.status` values that stop a run (Tekton treats the finally variants alike here: no finally tasks). */
const CANCEL_STATES: readonly string[] = ['Cancelled', 'CancelledRunFinally', 'StoppedRunFinally'];
const PENDING = 'PipelineRunPending';
const RETRY_MS = 250;
const MAX_BACKOFF_MS = 5_000;
const WATCH_TIMEOUT_SECONDS = 300;

const base = { group: TEKTON_GROUP, version: TEKTON_VERSION };

function isFinished(obj: { status?: { conditions?: { type: string; status: string }[] } }): boolean {
  const c = succeededCondition(obj as PipelineRun);
  return c !== undefined && c.status !== 'Unknown';
}

export class TektonSimulator {
  private readonly api: CustomObjectsApi;
  private readonly log: (line: string) => void;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inflight = new Map<string, { again: boolean; done: Promise<void> }>();
  private watchAbort: AbortController | undefined;
  private resync: NodeJS.Timeout | undefined;
  private restart: NodeJS.Timeout | undefined;
  private resourceVersion: string | undefined;
  private failures = 0;
  private stopped = false;

  constructor(private readonly opts: TektonSimulatorOptions) {
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.log = opts.log ?? (() => {});
  }

  async start(): Promise<void> {
    await this.relist();
    await this.startWatch();
    this.resync = setInterval(() => {
      this.relist().catch((e: unknown) => this.log(`resync failed: ${apiMessage(e)}`));
    }, this.opts.resyncMs ?? 30_000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    clearTimeout(this.restart);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.watchAbort?.abort();
    await Promise.all([...this.inflight.values()].map((entry) => entry.done));
  }

  // ------------------------------------------------------------------------------ watching

  private async relist(): Promise<void> {
    const list = (await (this.opts.namespace
      ? this.api.listNamespacedCustomObject({
          ...base,
          namespace: this.opts.namespace,
          plural: TektonPlural.PipelineRun,
        })
      : this.api.listClusterCustomObject({ ...base, plural: TektonPlural.PipelineRun }))) as {
      metadata?: { resourceVersion?: string };
      items: PipelineRun[];
    };
    this.resourceVersion = list.metadata?.resourceVersion;
    for (const pr of list.items) if (!isFinished(pr)) this.enqueue(pr);
  }

  private async startWatch(): Promise<void> {
    if (this.stopped) return;
    const path = this.opts.namespace
      ? `/apis/${TEKTON_GROUP}/${TEKTON_VERSION}/namespaces/${this.opts.namespace}/${TektonPlural.PipelineRun}`
      : `/apis/${TEKTON_GROUP}/${TEKTON_VERSION}/${TektonPlural.PipelineRun}`;
    let expired = false;
    this.watchAbort = await new Watch(this.opts.kubeConfig).watch(
      path,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: WATCH_TIMEOUT_SECONDS,
      },
      (type: string, obj: PipelineRun & { code?: number }) => {
        if (type === 'ERROR') {
          expired = obj.code === 410;
          return;
        }
        this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
        this.failures = 0;
        if (type === 'ADDED' || type === 'MODIFIED') {
          if (!isFinished(obj)) this.enqueue(obj);
        } else if (type === 'DELETED') {
          this.clearTimer(keyOf(obj));
        }
      },
      (err: unknown) => {
        if (this.stopped) return;
        // A clean close after timeoutSeconds re-watches at once; 410 and errors re-list first.
        const relist = expired || err !== null;
        if (err) this.log(`watch ended: ${apiMessage(err)}`);
        this.rewatch(relist, err ? this.backoff() : 0);
      },
    );
  }

  private rewatch(relist: boolean, delay: number): void {
    this.restart = setTimeout(() => {
      if (this.stopped) return;
      (relist ? this.relist() : Promise.resolve())
        .then(() => this.startWatch())
        .catch((e: unknown) => {
          this.log(`re-watch failed: ${apiMessage(e)}`);
          this.rewatch(true, this.backoff());
        });
    }, delay);
  }

  private backoff(): number {
    return Math.min(MAX_BACKOFF_MS, RETRY_MS * 2 ** this.failures++);
  }

  // ------------------------------------------------------------------------------ work queue

  /** One reconcile per PipelineRun at a time; events arriving meanwhile run it once more. */
  private enqueue(pr: PipelineRun): void {
    if (this.stopped) return;
    const key = keyOf(pr);
    const busy = this.inflight.get(key);
    if (busy) {
      busy.again = true;
      return;
    }
    const entry = { again: true, done: Promise.resolve() };
    entry.done = (async () => {
      while (entry.again && !this.stopped) {
        entry.again = false;
        try {
          await this.reconcile(pr.metadata.namespace ?? '', pr.metadata.name ?? '');
        } catch (e) {
          if (!isConflict(e)) this.log(`PipelineRun ${key}: ${apiMessage(e)}`);
          this.wakeAt(pr, Date.now() + RETRY_MS);
        }
      }
      this.inflight.delete(key);
    })();
    this.inflight.set(key, entry);
  }

  private wakeAt(pr: PipelineRun, when: number): void {
    const key = keyOf(pr);
    this.clearTimer(key);
    if (this.stopped) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        this.enqueue(pr);
      },
      Math.max(0, when - Date.now()),
    );
    timer.unref();
    this.timers.set(key, timer);
  }

  private clearTimer(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  // ------------------------------------------------------------------------------ reconcile

  private async reconcile(namespace: string, name: string): Promise<void> {
    let pr: PipelineRun;
    try {
      pr = (await this.api.getNamespacedCustomObject({
        ...base,
        namespace,
        plural: TektonPlural.PipelineRun,
        name,
      })) as PipelineRun;
    } catch (e) {
      if (isNotFound(e)) return this.clearTimer(`${namespace}/${name}`);
      throw e;
    }
    if (isFinished(pr)) return this.clearTimer(keyOf(pr));
    const now = Date.now();
    const taskRuns = await this.listTaskRuns(pr);

    if (pr.spec.status && CANCEL_STATES.includes(pr.spec.status)) {
      const cancelled = cancelRun(pr, [...taskRuns.values()], now);
      for (const tr of cancelled.taskRuns) {
        const current = taskRuns.get(tr.name);
        if (!current) continue;
        // Tekton cancels children through their spec first; their reconciler then fails them.
        await this.api.patchNamespacedCustomObject(
          {
            ...base,
            namespace,
            plural: TektonPlural.TaskRun,
            name: tr.name,
            body: { spec: { status: 'TaskRunCancelled', statusMessage: TASKRUN_CANCELLED_MESSAGE } },
          },
          mergePatch,
        );
        await this.writeTaskRunStatus(current, tr);
      }
      await this.writeStatus(pr, cancelled.pipelineRun);
      return;
    }
    if (pr.spec.status === PENDING) {
      if (!pr.status?.startTime && succeededCondition(pr)?.reason !== PENDING) {
        const pending = {
          type: 'Succeeded',
          status: 'Unknown' as const,
          reason: PENDING,
          message: `PipelineRun "${name}" is pending`,
          lastTransitionTime: isoSeconds(now),
        };
        await this.writeStatus(pr, { conditions: [pending] });
      }
      return;
    }

    const pipeline = await this.getPipeline(namespace, pr.spec.pipelineRef?.name);
    const startTime = pr.status?.startTime ?? isoSeconds(now);
    const created = () =>
      new Map(
        [...taskRuns.values()].map((tr) => [tr.metadata.name ?? '', tr.metadata.creationTimestamp ?? '']),
      );
    let plan = planRun({ pipelineRun: pr, pipeline, startTime, taskRunCreated: created() });
    const elapsed = now - Date.parse(startTime);
    const due = plan.filter((t) => t.atMs <= elapsed).length;
    const statuses = new Map([...taskRuns].map(([n, tr]) => [n, tr.status]));
    const done = appliedIndex(plan.slice(0, due), pr.status?.startTime ? pr.status : undefined, statuses);

    for (let i = done + 1; i < due; i++) {
      let step = plan[i];
      if (!step) break;
      const missing = step.taskRuns.filter((tr) => !taskRuns.has(tr.name));
      if (missing.length > 0) {
        for (const tr of missing) taskRuns.set(tr.name, await this.createTaskRun(pr, pipeline, tr));
        // Overlays and step times depend on the TaskRuns' real creationTimestamp.
        plan = planRun({ pipelineRun: pr, pipeline, startTime, taskRunCreated: created() });
        step = plan[i];
        if (!step) break;
      }
      for (const tr of step.taskRuns) {
        const current = taskRuns.get(tr.name);
        if (current) taskRuns.set(tr.name, await this.writeTaskRunStatus(current, tr));
      }
      pr = await this.writeStatus(pr, step.pipelineRun);
    }
    const next = plan[due];
    if (next) this.wakeAt(pr, Date.parse(startTime) + next.atMs);
  }

  private async listTaskRuns(pr: PipelineRun): Promise<Map<string, TaskRun>> {
    const list = (await this.api.listNamespacedCustomObject({
      ...base,
      namespace: pr.metadata.namespace ?? '',
      plural: TektonPlural.TaskRun,
      labelSelector: `${PIPELINE_RUN_LABEL}=${pr.metadata.name ?? ''}`,
    })) as { items: TaskRun[] };
    return new Map(list.items.map((tr) => [tr.metadata.name ?? '', tr]));
  }

  private async getPipeline(namespace: string, name: string | undefined): Promise<Pipeline | undefined> {
    if (!name) return undefined;
    try {
      return (await this.api.getNamespacedCustomObject({
        ...base,
        namespace,
        plural: TektonPlural.Pipeline,
        name,
      })) as Pipeline;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async createTaskRun(
    pr: PipelineRun,
    pipeline: Pipeline | undefined,
    planned: PlannedTaskRun,
  ): Promise<TaskRun> {
    const task = pipeline?.spec.tasks?.find((t) => t.name === planned.pipelineTask) ?? {
      name: planned.pipelineTask,
    };
    const body = newTaskRun(pr, task);
    const namespace = pr.metadata.namespace ?? '';
    try {
      return (await this.api.createNamespacedCustomObject({
        ...base,
        namespace,
        plural: TektonPlural.TaskRun,
        body,
      })) as TaskRun;
    } catch (e) {
      if (!isConflict(e)) throw e;
      return (await this.api.getNamespacedCustomObject({
        ...base,
        namespace,
        plural: TektonPlural.TaskRun,
        name: planned.name,
      })) as TaskRun;
    }
  }

  private async writeTaskRunStatus(current: TaskRun, planned: PlannedTaskRun): Promise<TaskRun> {
    if (sameJson(current.status, planned.status)) return current;
    return (await this.api.replaceNamespacedCustomObjectStatus({
      ...base,
      namespace: current.metadata.namespace ?? '',
      plural: TektonPlural.TaskRun,
      name: planned.name,
      body: { ...current, status: planned.status },
    })) as TaskRun;
  }

  private async writeStatus(pr: PipelineRun, status: PipelineRun['status']): Promise<PipelineRun> {
    if (sameJson(pr.status, status)) return pr;
    const written = (await this.api.replaceNamespacedCustomObjectStatus({
      ...base,
      namespace: pr.metadata.namespace ?? '',
      plural: TektonPlural.PipelineRun,
      name: pr.metadata.name ?? '',
      body: { ...pr, status },
    })) as PipelineRun;
    const c = succeededCondition(written);
    this.log(
      `PipelineRun ${keyOf(pr)}: ${c?.status ?? '?'}/${c?.reason ?? '?'}${c?.message ? ` ${c.message}` : ''}`,
    );
    return written;
  }
}

function keyOf(obj: { metadata: { namespace?: string; name?: string } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}
