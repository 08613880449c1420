/**
 * Drives remediations end to end on the integration stack: a real Temporal dev server, a real
 * Kubernetes API server with the ledger and Tekton CRDs, and the Tekton simulator. Each test file
 * gets its own task queue and its own target namespaces, so files never see each other's state.
 */
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import {
  NativeConnection,
  bundleWorkflowCode,
  type Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { KubernetesLedger } from '../../../src/adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from '../../../src/adapters/kubernetes-pipeline-runs';
import { TemporalRemediations } from '../../../src/adapters/temporal-remediations';
import { defineSimulatedPipeline } from '../../../src/simulator/pipelines';
import type { Outcome } from '../../../src/simulator/script';
import { RemediationClient } from '../../../src/client';
import { parsePolicyConfig, type PolicyConfigInput } from '../../../src/domain/config';
import type { Phase } from '../../../src/domain/model';
import type { RemediationRequestInput } from '../../../src/domain/request';
import type { RemediationStatus } from '../../../src/shared';
import type { StackInfo } from '../../../src/stack/stack';
import { createRemediationWorker } from '../../../src/worker';
import { workflowBundleOptions } from '../../../src/workflow-bundle';
import { kubeConfig, stackInfo } from '../stack-env';

export type SimulatorOutcome = Outcome;

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling takes seconds: once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ ...workflowBundleOptions, logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string, meta?: unknown) => console.error(message, meta),
};

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export class RemediationHarness {
  readonly info: StackInfo;
  readonly kube: KubeConfig;
  readonly ledger: KubernetesLedger;
  readonly runs: KubernetesPipelineRuns;
  readonly taskQueue = uniqueName('remediation-test');
  private readonly customObjects: CustomObjectsApi;
  private readonly workers: { worker: Worker; running: Promise<void>; connection: NativeConnection }[] = [];
  private connection?: Connection;
  client!: RemediationClient;

  /** On the integration stack by default; fault tests pass the stack they started themselves. */
  constructor(stack?: StackInfo) {
    this.info = stack ?? stackInfo();
    this.kube = stack ? kubeConfigOf(stack) : kubeConfig();
    this.ledger = new KubernetesLedger(this.kube, this.info.controlNamespace);
    this.runs = new KubernetesPipelineRuns(this.kube);
    this.customObjects = this.kube.makeApiClient(CustomObjectsApi);
  }

  async open(): Promise<this> {
    this.connection = await Connection.connect({ address: this.info.temporal.address });
    const client = new Client({ connection: this.connection, namespace: this.info.temporal.namespace });
    this.client = new RemediationClient(client, { taskQueue: this.taskQueue, ledger: this.ledger });
    return this;
  }

  /** Starts an in-process worker on this file's task queue with the given policy (SEMANTICS §9 keys). */
  async startWorker(policy: PolicyConfigInput = {}): Promise<Worker> {
    const connection = await NativeConnection.connect({ address: this.info.temporal.address });
    const worker = await createRemediationWorker({
      connection,
      namespace: this.info.temporal.namespace,
      taskQueue: this.taskQueue,
      workflowBundle: await workflowBundle(),
      shutdownGraceTime: '2s',
      deps: {
        ledger: this.ledger,
        pipelineRuns: this.runs,
        remediations: new TemporalRemediations(this.client.client),
        policy: parsePolicyConfig(policy),
        executionNamespace: this.info.executionNamespace,
        heartbeatMs: 1000,
      },
    });
    const running = worker.run();
    this.workers.push({ worker, running, connection });
    return worker;
  }

  async stopWorkers(): Promise<void> {
    for (const { worker } of this.workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(this.workers.map((w) => w.running));
    await Promise.allSettled(this.workers.map((w) => w.connection.close()));
    this.workers.length = 0;
  }

  async close(): Promise<void> {
    await this.stopWorkers();
    await this.connection?.close();
  }

  /** A Tekton Pipeline whose simulated runs behave as `outcome` says (INTERFACES.md simulator scripts). */
  async definePipeline(
    outcome: SimulatorOutcome,
    durationMs = 0,
    name = uniqueName(outcome),
  ): Promise<string> {
    await defineSimulatedPipeline(this.kube, this.info.executionNamespace, name, { outcome, durationMs });
    return name;
  }

  /** A valid request on a fresh target unless overridden. */
  request(overrides: {
    id?: string;
    fingerprint?: string;
    namespace?: string;
    name?: string;
    action?: string;
    pipeline: string;
    deadline?: string;
    params?: Record<string, string>;
  }): RemediationRequestInput {
    return {
      ...(overrides.id ? { id: overrides.id } : {}),
      signal: {
        fingerprint: overrides.fingerprint ?? uniqueName('fp'),
        name: 'KubePodCrashLooping',
        severity: 'warning',
        labels: {},
      },
      target: {
        kind: 'Deployment',
        name: overrides.name ?? 'api',
        namespace: overrides.namespace ?? uniqueName('ns'),
      },
      action: {
        id: overrides.action ?? 'restart-deployment',
        pipeline: overrides.pipeline,
        params: overrides.params ?? {},
      },
      ...(overrides.deadline ? { deadline: overrides.deadline } : {}),
    };
  }

  async start(request: RemediationRequestInput): Promise<string> {
    return (await this.client.start(request)).id;
  }

  /** Polls the status query until `predicate` holds. */
  async waitFor(
    id: string,
    predicate: (s: RemediationStatus) => boolean,
    timeoutMs = 60_000,
    what = 'condition',
  ): Promise<RemediationStatus> {
    const until = Date.now() + timeoutMs;
    let last: RemediationStatus | undefined;
    while (Date.now() < until) {
      try {
        last = await this.client.status(id);
        if (predicate(last)) return last;
      } catch {
        // not started yet / query before first task: keep polling
      }
      await sleep(200);
    }
    throw new Error(`timed out waiting for ${what} on ${id}; last status: ${JSON.stringify(last, null, 2)}`);
  }

  waitForPhase(id: string, phase: Phase, timeoutMs = 60_000): Promise<RemediationStatus> {
    return this.waitFor(id, (s) => s.phase === phase, timeoutMs, `phase ${phase}`);
  }

  /** Resolves with the remediation's final status (the workflow result, or the query after a cancel). */
  async result(id: string, timeoutMs = 120_000): Promise<RemediationStatus> {
    return this.waitFor(
      id,
      (s) => ['Completed', 'Failed', 'Skipped', 'Cancelled'].includes(s.phase),
      timeoutMs,
      'the end',
    );
  }

  /** PipelineRuns created for a remediation (by label), from the API server itself. */
  async pipelineRunsOf(id: string): Promise<string[]> {
    return this.runs.list(this.info.executionNamespace, { 'remediation.dev/remediation-id': id });
  }
}

function kubeConfigOf(stack: StackInfo): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(stack.kubeconfig);
  return kc;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
