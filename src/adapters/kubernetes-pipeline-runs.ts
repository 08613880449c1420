/**
 * PipelineRuns on a real Kubernetes API server with Tekton's CRDs: create-or-adopt
 * by deterministic name (adopting only a run whose owner labels match), a server-side dry run of
 * that same create (plus a GET of the referenced Pipeline), classified observation of
 * the run and its child TaskRuns, one watch per namespace shared by every wait (it survives 410 Gone
 * and API-server restarts) that turns a deleted run into a failure, cancel by merge patch. A list or
 * watch the worker may not make (401/403) ends the waits with a KubernetesForbiddenError instead of
 * being retried unseen.
 */
import { CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { classifyDisappeared, classifyPipelineRun, latestObservation } from '../domain/classifier';
import { SharedPipelineRunWatch } from './shared-pipeline-run-watch';
import {
  apiMessage,
  apiStatus,
  isConflict,
  isForbidden,
  isNotFound,
  KubernetesForbiddenError,
  mergePatch,
} from '../k8s/kube';
import {
  PIPELINE_RUN_CANCELLED,
  PIPELINE_RUN_LABEL,
  succeededCondition,
  TEKTON_GROUP,
  TEKTON_VERSION,
  TektonPlural,
  type PipelineRun,
  type TaskRun,
} from '../domain/tekton';
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
} from '../ports/pipeline-runs';

export interface KubernetesPipelineRunsOptions {
  /** Server-side end of one watch request; the watch then carries on from its last resourceVersion. */
  watchTimeoutSeconds?: number;
  /** How long a namespace's shared watch stays open after its last wait ended (default 30 s). */
  watchIdleMs?: number;
  /** First and largest delay before re-listing after a failed watch or list. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

const base = { group: TEKTON_GROUP, version: TEKTON_VERSION, plural: TektonPlural.PipelineRun };

/** Statuses that mean the API server will never accept this create, whatever we retry. */
const REJECTED = new Set([400, 403, 404, 422]);

function isRejection(e: unknown): number | undefined {
  const status = apiStatus(e);
  if (status === undefined) return undefined;
  if (REJECTED.has(status)) return status;
  // An admission webhook that cannot be reached or errors out refuses every create.
  if (status === 500 && apiMessage(e).startsWith('Internal error occurred: failed calling webhook'))
    return status;
  return undefined;
}

function isFinished(pr: PipelineRun): boolean {
  const c = succeededCondition(pr);
  return c !== undefined && c.status !== 'Unknown';
}

export class KubernetesPipelineRuns implements PipelineRuns {
  private readonly api: CustomObjectsApi;
  private readonly watches = new Map<string, SharedPipelineRunWatch>();

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly opts: KubernetesPipelineRunsOptions = {},
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async create(request: PipelineRunRequest): Promise<PipelineRunCreated> {
    const body = pipelineRunFor(request);
    try {
      const created = (await this.api.createNamespacedCustomObject({
        ...base,
        namespace: request.namespace,
        body,
      })) as PipelineRun;
      return { name: request.name, created: true, uid: created.metadata.uid ?? '' };
    } catch (e) {
      if (isConflict(e)) {
        // A retry after a crash: the run we created last time is the one to follow (S19) — if it
        // really is ours. A run of another remediation, attempt or lock holder is never adopted.
        const existing = await this.get(request.namespace, request.name);
        if (existing) {
          assertAdoptable(request, existing.metadata.labels);
          return { name: request.name, created: false, uid: existing.metadata.uid ?? '' };
        }
      }
      const rejected = isRejection(e);
      if (rejected !== undefined) throw new PipelineRunRejectedError(rejected, apiMessage(e));
      throw e;
    }
  }

  async dryRun(request: PipelineRunRequest): Promise<PipelineRunDryRun> {
    const body = pipelineRunFor(request);
    const result = {
      pipelineExists: await this.pipelineExists(request.namespace, request.pipeline),
      wouldRun: wouldRunOf(body),
    };
    try {
      // dryRun=All: authorization (create), mutating and validating admission and schema
      // validation run as for the real create; nothing is persisted.
      await this.api.createNamespacedCustomObject({
        ...base,
        namespace: request.namespace,
        body,
        dryRun: 'All',
      });
      return { ...result, accepted: true, rejection: null, alreadyExists: false };
    } catch (e) {
      // Answered only after validation and admission passed: the object itself is acceptable.
      if (isConflict(e)) return { ...result, accepted: true, rejection: null, alreadyExists: true };
      const rejected = isRejection(e);
      if (rejected === undefined) throw e;
      return {
        ...result,
        accepted: false,
        rejection: { status: rejected, message: apiMessage(e) },
        alreadyExists: false,
      };
    }
  }

  async observe(namespace: string, name: string): Promise<PipelineRunOutcome | null> {
    const pr = await this.get(namespace, name);
    return pr ? classifyPipelineRun(pr, await this.taskRuns(pr)) : null;
  }

  waitForCompletion(
    namespace: string,
    name: string,
    options: {
      signal?: AbortSignal;
      heartbeatMs?: number;
      onProgress?: (outcome: PipelineRunOutcome) => void;
    },
  ): Promise<PipelineRunOutcome> {
    const { signal, onProgress } = options;

    return new Promise<PipelineRunOutcome>((resolve, reject) => {
      let finished = false;
      let latest: PipelineRun | undefined;
      /** The TaskRuns read with the last classification, and that classification (not a placeholder). */
      let latestTaskRuns: TaskRun[] = [];
      let observed: PipelineRunOutcome | undefined;
      // Until the first observation (API server down at start) heartbeats still flow.
      let last: PipelineRunOutcome = {
        state: 'running',
        reason: 'Unknown',
        message: `waiting to observe PipelineRun ${namespace}/${name}`,
      };
      /** Set once subscribed; a wait that ends leaves the shared watch. */
      const subscription: { off?: () => void } = {};
      // Refreshes are serialized so a stale TaskRun list never overwrites a newer one.
      let refreshing: Promise<void> = Promise.resolve();
      let queued = 0;

      const finish = (settle: () => void) => {
        if (finished) return;
        finished = true;
        clearInterval(heartbeat);
        signal?.removeEventListener('abort', onAbort);
        subscription.off?.();
        settle();
      };
      // RBAC refusals are not outages: retrying inside the wait would hide them (the activity fails
      // with the reason, is retried by Temporal, and resumes once the verb is granted).
      const forbidden = (e: unknown, verb: string, plural: string) =>
        finish(() => reject(KubernetesForbiddenError.of(e, verb, `${plural}.${TEKTON_GROUP}`, namespace)));
      const onAbort = () =>
        finish(() =>
          reject(new DOMException(`stopped waiting for PipelineRun ${namespace}/${name}`, 'AbortError')),
        );
      // Gone before it finished: what it did is judged from what this wait saw of it.
      const disappeared = () =>
        finish(() => resolve({ state: 'failed', failure: classifyDisappeared(observed) }));

      // Re-reading the TaskRuns on every PipelineRun change (and heartbeat) surfaces stuck reasons
      // like ExceededResourceQuota, which Tekton does not copy onto the PipelineRun.
      const refresh = (pr: PipelineRun) => {
        latest = pr;
        queued++;
        refreshing = refreshing.then(async () => {
          queued--;
          if (finished) return;
          try {
            const taskRuns = await this.taskRuns(pr);
            const outcome = classifyPipelineRun(pr, taskRuns);
            if (finished) return;
            latestTaskRuns = taskRuns;
            observed = latestObservation(observed, outcome);
            last = outcome;
            if (outcome.state !== 'running') finish(() => resolve(outcome));
            else onProgress?.(outcome);
          } catch (e) {
            if (isForbidden(e)) forbidden(e, 'list', TektonPlural.TaskRun);
            // Otherwise the watch or the next heartbeat retries; an outage must not end the wait.
          }
        });
      };

      // The deleted object is the run's last state. One that had finished keeps its own outcome,
      // read with the TaskRuns still there (a child already garbage-collected counts as having run;
      // TaskRuns read earlier may predate the finish). One that had not becomes a PipelineRunDeleted
      // failure, judged with the TaskRuns read last; a child not among them counts as started.
      const deleted = (pr: PipelineRun | undefined) => {
        refreshing = refreshing.then(async () => {
          if (finished) return;
          if (pr && isFinished(pr)) {
            const taskRuns = await this.taskRuns(pr).catch((): TaskRun[] => []);
            const outcome = classifyPipelineRun(pr, taskRuns);
            return finish(() => resolve(outcome));
          }
          if (pr) observed = latestObservation(observed, classifyPipelineRun(pr, latestTaskRuns));
          disappeared();
        });
      };

      const heartbeat = setInterval(() => {
        onProgress?.(last);
        if (latest && queued === 0) refresh(latest);
      }, options.heartbeatMs ?? 10_000);

      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
      // One watch per namespace, shared by every wait in it (src/adapters/shared-pipeline-run-watch.ts).
      subscription.off = this.sharedWatch(namespace).subscribe(name, {
        changed: refresh,
        deleted,
        failed: (e) => finish(() => reject(e)),
      });
    });
  }

  /** Watch connections this adapter holds open now: one per namespace being waited on. */
  watchConnections(): number {
    let n = 0;
    for (const w of this.watches.values()) n += w.connections;
    return n;
  }

  /** Stops the shared watches (shutdown, tests); waits still open keep their subscriptions dormant. */
  close(): void {
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }

  private sharedWatch(namespace: string): SharedPipelineRunWatch {
    let w = this.watches.get(namespace);
    if (w) return w;
    const path = `/apis/${TEKTON_GROUP}/${TEKTON_VERSION}/namespaces/${namespace}/${TektonPlural.PipelineRun}`;
    const refusal = (e: unknown, verb: string) =>
      isForbidden(e)
        ? KubernetesForbiddenError.of(e, verb, `${TektonPlural.PipelineRun}.${TEKTON_GROUP}`, namespace)
        : e;
    w = new SharedPipelineRunWatch(
      {
        list: async () => {
          const list = (await this.api
            .listNamespacedCustomObject({ ...base, namespace })
            .catch((e: unknown) => {
              throw refusal(e, 'list');
            })) as {
            metadata?: { resourceVersion?: string };
            items: PipelineRun[];
          };
          return { resourceVersion: list.metadata?.resourceVersion, items: list.items };
        },
        watch: async (resourceVersion, handlers) => {
          const controller = await new Watch(this.kubeConfig)
            .watch(
              path,
              {
                resourceVersion,
                allowWatchBookmarks: true,
                timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
              },
              (type: string, obj: unknown) => handlers.onEvent(type, obj),
              (err: unknown) => handlers.onEnd(err ? refusal(err, 'watch') : undefined),
            )
            .catch((e: unknown) => {
              throw refusal(e, 'watch');
            });
          return { stop: () => controller.abort() };
        },
        get: (name) => this.get(namespace, name),
      },
      {
        ...(this.opts.minBackoffMs !== undefined && { minBackoffMs: this.opts.minBackoffMs }),
        ...(this.opts.maxBackoffMs !== undefined && { maxBackoffMs: this.opts.maxBackoffMs }),
        ...(this.opts.watchIdleMs !== undefined && { idleMs: this.opts.watchIdleMs }),
        // RBAC refusals are not outages: the waits fail with the reason (the activity is retried by
        // Temporal and resumes once the verb is granted) instead of waiting on a watch that never comes.
        failsWaits: (e) => e instanceof KubernetesForbiddenError,
      },
    );
    this.watches.set(namespace, w);
    return w;
  }

  async cancel(namespace: string, name: string): Promise<void> {
    const pr = await this.get(namespace, name);
    if (!pr || isFinished(pr) || pr.spec.status === PIPELINE_RUN_CANCELLED) return;
    try {
      await this.api.patchNamespacedCustomObject(
        { ...base, namespace, name, body: { spec: { status: PIPELINE_RUN_CANCELLED } } },
        mergePatch,
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async list(namespace: string, labels: Record<string, string>): Promise<string[]> {
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const list = (await this.api.listNamespacedCustomObject({ ...base, namespace, labelSelector })) as {
      items: PipelineRun[];
    };
    return list.items
      .sort(
        (a, b) =>
          (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
          (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
      )
      .map((pr) => pr.metadata.name ?? '');
  }

  private async get(namespace: string, name: string): Promise<PipelineRun | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...base, namespace, name })) as PipelineRun;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** A GET of the Pipeline: 404 is false, any other failure throws (the caller retries). */
  private async pipelineExists(namespace: string, name: string): Promise<boolean> {
    if (!name) return false;
    try {
      await this.api.getNamespacedCustomObject({ ...base, plural: TektonPlural.Pipeline, namespace, name });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  private async taskRuns(pr: PipelineRun): Promise<TaskRun[]> {
    const list = (await this.api.listNamespacedCustomObject({
      ...base,
      plural: TektonPlural.TaskRun,
      namespace: pr.metadata.namespace ?? '',
      labelSelector: `${PIPELINE_RUN_LABEL}=${pr.metadata.name ?? ''}`,
    })) as { items: TaskRun[] };
    return list.items;
  }
}
