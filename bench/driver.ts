/**
 * What the scenarios share: a client on one task queue, simulator Pipelines, requests on fresh
 * targets, and "wait for the end" that returns the workflow's own final status (its timeline has
 * millisecond timestamps taken in workflow time, i.e. the server's clock on this same machine).
 */
import { randomBytes } from 'node:crypto';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { defineSimulatedPipeline } from '../src/dev/simulator/pipelines';
import { Client, Connection } from '@temporalio/client';
import { KubernetesLedger } from '../src/adapters/kubernetes-ledger';
import { RemediationClient } from '../src/client';
import { parseRemediationRequest, type RemediationRequestInput } from '../src/domain/request';
import type { RemediationStatus } from '../src/temporal-contract';
import type { StackInfo } from '../src/dev/stack/stack';
import { clientTlsConfig } from '../src/dev/stack/temporal-production';

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export type Outcome = 'succeed' | 'image-pull';

export class Driver {
  readonly kube: KubeConfig;
  readonly ledger: KubernetesLedger;
  private readonly customObjects: CustomObjectsApi;
  private readonly clients = new Map<string, RemediationClient>();
  private connection?: Connection;
  private temporal?: Client;

  constructor(readonly info: StackInfo) {
    this.kube = new KubeConfig();
    this.kube.loadFromFile(info.kubeconfig);
    this.ledger = new KubernetesLedger(this.kube, info.controlNamespace);
    this.customObjects = this.kube.makeApiClient(CustomObjectsApi);
  }

  async open(): Promise<this> {
    const { address, tls } = this.info.temporal;
    this.connection = await Connection.connect({ address, ...(tls && { tls: clientTlsConfig(tls) }) });
    this.temporal = new Client({ connection: this.connection, namespace: this.info.temporal.namespace });
    return this;
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }

  /** One RemediationClient per task queue, all on one gRPC connection. */
  client(taskQueue: string): RemediationClient {
    let c = this.clients.get(taskQueue);
    if (!c) {
      c = new RemediationClient(this.temporal!, { taskQueue, ledger: this.ledger });
      this.clients.set(taskQueue, c);
    }
    return c;
  }

  /**
   * Starts a remediation as the intake does for an alert: no pre-check of the action (the workflow
   * admits it itself, and the create checks the catalog again). The SDK's and CLI's pre-check is a
   * workflow round trip of its own; the latency scenario measures it apart (`latency.preCheck`).
   */
  start(taskQueue: string, request: RemediationRequestInput): Promise<{ id: string }> {
    return this.client(taskQueue).start(request, { checkAction: false });
  }

  /** The SDK's pre-check of a request's action, as `client.start` does it before starting (a refusal throws). */
  async preCheck(taskQueue: string, request: RemediationRequestInput): Promise<void> {
    const admission = await this.client(taskQueue).checkAction(parseRemediationRequest(request));
    if (!admission) throw new Error('pre-check: no worker answered in time');
  }

  /** A Tekton Pipeline whose simulated runs behave as `outcome` says (simulator script annotation). */
  async definePipeline(outcome: Outcome, durationMs = 0, name = uniqueName(outcome)): Promise<string> {
    await defineSimulatedPipeline(this.kube, this.info.executionNamespace, name, { outcome, durationMs });
    return name;
  }

  /** Names of the PipelineRuns whose fingerprint annotation is `fingerprintKey` (from the API server). */
  async pipelineRunsForFingerprint(fingerprintKey: string): Promise<string[]> {
    const list = (await this.customObjects.listNamespacedCustomObject({
      group: 'tekton.dev',
      version: 'v1',
      namespace: this.info.executionNamespace,
      plural: 'pipelineruns',
    })) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
    return list.items
      .filter((pr) => pr.metadata.annotations?.['remediation.dev/fingerprint'] === fingerprintKey)
      .map((pr) => pr.metadata.name);
  }

  /**
   * When each PipelineRun of the execution namespace was first seen by a watch in this process
   * (Date.now()): the client side of "start → PipelineRun created", independent of workflow time.
   */
  async watchPipelineRunsSeen(): Promise<{ seen: Map<string, number>; stop(): void }> {
    const seen = new Map<string, number>();
    let controller: AbortController | undefined;
    let stopped = false;
    const path = `/apis/tekton.dev/v1/namespaces/${this.info.executionNamespace}/pipelineruns`;
    const open = async (): Promise<void> => {
      if (stopped) return;
      controller = await new Watch(this.kube).watch(
        path,
        // resourceVersion 0: start from now (any cached state), creations after it arrive as ADDED.
        { resourceVersion: '0', allowWatchBookmarks: true, timeoutSeconds: 600 },
        (type: string, obj: { metadata?: { name?: string } }) => {
          const name = obj?.metadata?.name;
          if ((type === 'ADDED' || type === 'MODIFIED') && name && !seen.has(name))
            seen.set(name, Date.now());
        },
        () => void setTimeout(() => void open(), 100),
      );
    };
    await open();
    return {
      seen,
      stop: () => {
        stopped = true;
        controller?.abort();
      },
    };
  }

  /**
   * Watch requests on PipelineRuns the API server is serving now, from its own metrics
   * (`apiserver_longrunning_requests{verb="WATCH",resource="pipelineruns"}`): every client's, so
   * scenarios subtract a reference taken in the same run.
   */
  async apiServerPipelineRunWatches(): Promise<number> {
    const server = new URL(this.kube.getCurrentCluster()!.server);
    const options: RequestOptions = {
      hostname: server.hostname,
      port: server.port,
      path: '/metrics',
      method: 'GET',
    };
    await this.kube.applyToHTTPSOptions(options);
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /metrics: ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
    let total = 0;
    let found = false;
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_longrunning_requests{')) continue;
      if (!line.includes('resource="pipelineruns"') || !line.includes('verb="WATCH"')) continue;
      found = true;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    if (!found && !text.includes('apiserver_longrunning_requests'))
      throw new Error('the API server exports no apiserver_longrunning_requests');
    return total;
  }

  /** Deletes every PipelineRun of `pipeline` in the execution namespace. */
  async deletePipelineRunsOf(pipeline: string): Promise<void> {
    const list = (await this.customObjects.listNamespacedCustomObject({
      group: 'tekton.dev',
      version: 'v1',
      namespace: this.info.executionNamespace,
      plural: 'pipelineruns',
    })) as { items: { metadata: { name: string }; spec: { pipelineRef?: { name?: string } } }[] };
    const names = list.items
      .filter((pr) => pr.spec.pipelineRef?.name === pipeline)
      .map((pr) => pr.metadata.name);
    for (let i = 0; i < names.length; i += 32) {
      await Promise.all(
        names.slice(i, i + 32).map((name) =>
          this.customObjects
            .deleteNamespacedCustomObject({
              group: 'tekton.dev',
              version: 'v1',
              namespace: this.info.executionNamespace,
              plural: 'pipelineruns',
              name,
            })
            .catch(() => undefined),
        ),
      );
    }
  }

  /** A valid request on a fresh target (own namespace) with its own fingerprint unless given. */
  request(o: {
    pipeline: string;
    namespace?: string;
    fingerprint?: string;
    id?: string;
  }): RemediationRequestInput {
    return {
      ...(o.id ? { id: o.id } : {}),
      signal: {
        fingerprint: o.fingerprint ?? uniqueName('fp'),
        name: 'BenchSignal',
        severity: 'warning',
        labels: {},
      },
      target: { kind: 'Deployment', name: 'api', namespace: o.namespace ?? uniqueName('ns') },
      action: { id: 'restart-deployment', pipeline: o.pipeline, params: {} },
    };
  }

  /** Waits for the final status (long poll on the result, no status polling load on the worker; Failed included). */
  result(taskQueue: string, id: string): Promise<RemediationStatus> {
    return this.client(taskQueue).result(id);
  }

  /** Polls the status query until `predicate` holds (for intermediate phases only). */
  async waitFor(
    taskQueue: string,
    id: string,
    predicate: (s: RemediationStatus) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<RemediationStatus> {
    const until = Date.now() + timeoutMs;
    let last: RemediationStatus | undefined;
    while (Date.now() < until) {
      try {
        last = await this.client(taskQueue).status(id);
        if (predicate(last)) return last;
      } catch {
        // not started yet / no workflow task yet: keep polling
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what} on ${id}; last: ${JSON.stringify(last?.phase)}`);
  }

  /**
   * History events, scheduled (task-queue) activities, local activities (markers) and workflow
   * tasks of one remediation's workflow: its cost on the server, independent of the machine's load.
   */
  async historyCost(
    taskQueue: string,
    id: string,
  ): Promise<{ events: number; activities: number; localActivities: number; workflowTasks: number }> {
    const history = await this.client(taskQueue).handle(id).fetchHistory();
    const events = history.events ?? [];
    const activities = events.filter((e) => e.activityTaskScheduledEventAttributes).length;
    const localActivities = events.filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    ).length;
    const workflowTasks = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    return { events: events.length, activities, localActivities, workflowTasks };
  }
}

/** Epoch ms of the first timeline entry whose event is `event`, or null. */
export function eventAt(status: RemediationStatus, event: string): number | null {
  const entry = status.timeline.find((e) => e.event === event);
  return entry ? Date.parse(entry.at) : null;
}

/** Epoch ms of the last timeline entry (the end, for a finished remediation). */
export function endAt(status: RemediationStatus): number {
  return Date.parse(status.timeline[status.timeline.length - 1]!.at);
}
