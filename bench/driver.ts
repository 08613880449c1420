/**
 * What the scenarios share: a client on one task queue, simulator Pipelines, requests on fresh
 * targets, and "wait for the end" that returns the workflow's own final status (its timeline has
 * millisecond timestamps taken in workflow time, i.e. the server's clock on this same machine).
 */
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { defineSimulatedPipeline } from '../src/dev/simulator/pipelines';
import { Client, Connection } from '@temporalio/client';
import { KubernetesLedger } from '../src/adapters/kubernetes-ledger';
import { RemediationClient } from '../src/client';
import type { RemediationRequestInput } from '../src/domain/request';
import type { RemediationStatus } from '../src/shared';
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

  /** Waits for the workflow result (long poll, no status polling load on the worker). */
  async result(taskQueue: string, id: string): Promise<RemediationStatus> {
    return (await this.client(taskQueue).handle(id).result()) as RemediationStatus;
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

  /** History events and scheduled activities of one remediation's workflow (cost). */
  async historyCost(taskQueue: string, id: string): Promise<{ events: number; activities: number }> {
    const history = await this.client(taskQueue).handle(id).fetchHistory();
    const events = history.events ?? [];
    const activities = events.filter((e) => e.activityTaskScheduledEventAttributes).length;
    return { events: events.length, activities };
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
