/**
 * Drives remediations end to end on the integration stack: a real Temporal dev server, a real
 * Kubernetes API server with the ledger and Tekton CRDs, and the Tekton simulator. Each test file
 * gets its own task queue and its own target namespaces, so files never see each other's state.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import {
  NativeConnection,
  Worker as TemporalWorker,
  bundleWorkflowCode,
  type Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import {
  startKubernetesActionCatalog,
  type KubernetesActionCatalog,
} from '../../../src/adapters/kubernetes-action-catalog';
import { KubernetesLedger } from '../../../src/adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from '../../../src/adapters/kubernetes-pipeline-runs';
import { TemporalRemediations } from '../../../src/adapters/temporal-remediations';
import { defineSimulatedPipeline } from '../../../src/dev/simulator/pipelines';
import type { Outcome } from '../../../src/dev/simulator/script';
import { RemediationClient } from '../../../src/client';
import { parsePolicyConfig, type PolicyConfigInput } from '../../../src/domain/config';
import type { Phase } from '../../../src/domain/model';
import {
  PIPELINE_RUN_LABEL,
  TEKTON_GROUP,
  TEKTON_VERSION,
  TektonPlural,
  type PipelineRun,
  type TaskRun,
} from '../../../src/domain/tekton';
import type { RemediationActionSpecInput } from '../../../src/domain/catalog';
import { catalogApi } from '../../../src/ports/action-catalog';
import type { AuditLog } from '../../../src/ports/audit-log';
import type { PipelineRuns } from '../../../src/ports/pipeline-runs';
import type { RemediationRequestInput } from '../../../src/domain/request';
import type { RemediationStatus } from '../../../src/temporal-contract';
import type { StackInfo } from '../../../src/dev/stack/stack';
import { clientTlsConfig, cliTlsArgs } from '../../../src/dev/stack/temporal-production';
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
  private catalog?: KubernetesActionCatalog;
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
    this.connection = await Connection.connect(this.connectionOptions());
    const client = new Client({ connection: this.connection, namespace: this.info.temporal.namespace });
    this.client = new RemediationClient(client, {
      taskQueue: this.taskQueue,
      ledger: this.ledger,
      // Some tests start before any worker runs: the remediation then admits its action itself.
      actionCheckTimeout: '5s',
    });
    return this;
  }

  /** The stack's frontend, with its client certificate when it requires one (production topology). */
  connectionOptions(): { address: string; tls?: ReturnType<typeof clientTlsConfig> } {
    const { address, tls } = this.info.temporal;
    return { address, ...(tls && { tls: clientTlsConfig(tls) }) };
  }

  /**
   * Starts an in-process worker on this file's task queue with the given policy (src/domain/config.ts keys).
   * `options.pipelineRuns` may wrap the real PipelineRuns adapter (fault tests time an outage with it).
   */
  async startWorker(
    policy: PolicyConfigInput = {},
    options: { pipelineRuns?: (real: PipelineRuns) => PipelineRuns; auditLog?: AuditLog } = {},
  ): Promise<Worker> {
    const connection = await NativeConnection.connect(this.connectionOptions());
    const worker = await createRemediationWorker({
      connection,
      namespace: this.info.temporal.namespace,
      taskQueue: this.taskQueue,
      workflowBundle: await workflowBundle(),
      shutdownGraceTime: '2s',
      ...(options.auditLog ? { auditLog: options.auditLog } : {}),
      deps: {
        ledger: this.ledger,
        pipelineRuns: options.pipelineRuns ? options.pipelineRuns(this.runs) : this.runs,
        remediations: new TemporalRemediations(this.client.client),
        // Tests drive free-form pipelines unless they test the catalog (as the local stack does).
        policy: parsePolicyConfig({ allowUncataloguedActions: true, ...policy }),
        catalog: (this.catalog ??= startKubernetesActionCatalog(this.kube, this.info.controlNamespace, {
          log: () => {},
        })),
        controlNamespace: this.info.controlNamespace,
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
    this.runs.close();
    await this.catalog?.close();
    await this.connection?.close();
  }

  /**
   * Creates or replaces a `RemediationAction` in the control namespace and waits until this
   * harness's catalog cache sees that version. Ids are shared by every test file: make them unique.
   */
  async defineAction(id: string, spec: RemediationActionSpecInput): Promise<void> {
    const { group, version, plural, kind } = catalogApi;
    const namespace = this.info.controlNamespace;
    const body = { apiVersion: `${group}/${version}`, kind, metadata: { name: id, namespace }, spec };
    let resourceVersion: string;
    try {
      const created = (await this.customObjects.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body,
      })) as {
        metadata: { resourceVersion: string };
      };
      resourceVersion = created.metadata.resourceVersion;
    } catch {
      const current = (await this.customObjects.getNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        name: id,
      })) as {
        metadata: { resourceVersion: string };
      };
      const replaced = (await this.customObjects.replaceNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        name: id,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata.resourceVersion } },
      })) as { metadata: { resourceVersion: string } };
      resourceVersion = replaced.metadata.resourceVersion;
    }
    this.catalog ??= startKubernetesActionCatalog(this.kube, namespace, { log: () => {} });
    const until = Date.now() + 10_000;
    while ((await this.catalog.get(id).catch(() => undefined))?.resourceVersion !== resourceVersion) {
      if (Date.now() > until)
        throw new Error(`catalog cache never saw RemediationAction ${id}@${resourceVersion}`);
      await sleep(50);
    }
  }

  /**
   * Replays a remediation's history against the current workflow code; with RECORD_HISTORIES=<tag>
   * also writes it to test/fixtures/histories/<name>-<tag>.json, where the unit replay test keeps it.
   */
  async replayAndMaybeRecord(name: string, id: string): Promise<void> {
    const history = await this.client.client.workflow.getHandle(`remediation-${id}`).fetchHistory();
    await TemporalWorker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, name);
    const tag = process.env.RECORD_HISTORIES;
    if (tag)
      writeFileSync(join(__dirname, `../../fixtures/histories/${name}-${tag}.json`), historyToJSON(history));
  }

  /** Every PipelineRun in the execution namespace (to prove that none was created). */
  async pipelineRunNames(): Promise<string[]> {
    const list = (await this.customObjects.listNamespacedCustomObject({
      group: TEKTON_GROUP,
      version: TEKTON_VERSION,
      namespace: this.info.executionNamespace,
      plural: TektonPlural.PipelineRun,
    })) as { items: PipelineRun[] };
    return list.items.map((r) => r.metadata?.name ?? '');
  }

  /** A Tekton Pipeline whose simulated runs behave as `outcome` says (the README's "Tekton simulator"). */
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

  /** The PipelineRun objects (with their status) of a remediation, as the API server has them now. */
  async pipelineRunObjectsOf(id: string): Promise<PipelineRun[]> {
    const list = (await this.customObjects.listNamespacedCustomObject({
      ...pipelineRunResource,
      namespace: this.info.executionNamespace,
      labelSelector: `remediation.dev/remediation-id=${id}`,
    })) as { items: PipelineRun[] };
    return list.items;
  }

  /** The child TaskRuns of a PipelineRun (Tekton's `tekton.dev/pipelineRun` label). */
  async taskRunsOf(pipelineRun: string): Promise<TaskRun[]> {
    const list = (await this.customObjects.listNamespacedCustomObject({
      ...pipelineRunResource,
      plural: TektonPlural.TaskRun,
      namespace: this.info.executionNamespace,
      labelSelector: `${PIPELINE_RUN_LABEL}=${pipelineRun}`,
    })) as { items: TaskRun[] };
    return list.items;
  }

  /** Deletes a PipelineRun through the API server, as someone with kubectl would. */
  async deletePipelineRun(name: string): Promise<void> {
    await this.customObjects.deleteNamespacedCustomObject({
      ...pipelineRunResource,
      namespace: this.info.executionNamespace,
      name,
    });
  }

  /** Runs the stack's real `temporal` CLI binary with this stack's --address/--namespace; never throws. */
  temporal(...args: string[]): Promise<CliRun> {
    const { cli, address, namespace } = this.info.temporal;
    return new Promise((resolve) => {
      execFile(
        cli,
        [
          ...args,
          '--address',
          address,
          '--namespace',
          namespace,
          ...(this.info.temporal.tls ? cliTlsArgs(this.info.temporal.tls) : []),
        ],
        { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Like {@link temporal}, but a non-zero exit throws with everything the CLI printed. */
  async temporalOk(...args: string[]): Promise<string> {
    const run = await this.temporal(...args);
    if (run.code !== 0) {
      throw new Error(
        `temporal ${args.join(' ')} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
      );
    }
    return run.stdout;
  }

  /** `temporal workflow terminate` of a remediation's workflow: no cleanup code of it runs. */
  async terminate(id: string, reason = 'terminated by a test'): Promise<void> {
    await this.temporalOk('workflow', 'terminate', '--workflow-id', `remediation-${id}`, '--reason', reason);
  }

  /**
   * Every run of a remediation's workflow id (`temporal workflow list`), newest first; the list does
   * not report a running run's history length, {@link describeRun} does.
   */
  async workflowRuns(id: string): Promise<Omit<WorkflowRunInfo, 'historyLength'>[]> {
    const out = await this.temporalOk(
      'workflow',
      'list',
      '--query',
      `WorkflowId = 'remediation-${id}'`,
      '-o',
      'json',
    );
    const runs = (JSON.parse(out || '[]') ?? []) as { execution: { runId: string }; status: string }[];
    return runs.map((r) => ({
      runId: r.execution.runId,
      status: r.status.replace('WORKFLOW_EXECUTION_STATUS_', ''),
    }));
  }

  /** `temporal workflow describe` of one run (the latest when `runId` is omitted). */
  async describeRun(id: string, runId?: string): Promise<WorkflowRunInfo> {
    const out = await this.temporalOk(
      'workflow',
      'describe',
      '--workflow-id',
      `remediation-${id}`,
      ...(runId ? ['--run-id', runId] : []),
      '-o',
      'json',
    );
    const info = (
      JSON.parse(out) as {
        workflowExecutionInfo: { execution: { runId: string }; status: string; historyLength: string };
      }
    ).workflowExecutionInfo;
    return {
      runId: info.execution.runId,
      status: info.status.replace('WORKFLOW_EXECUTION_STATUS_', ''),
      historyLength: Number(info.historyLength),
    };
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** One run of a workflow id as the `temporal` CLI reports it; `status` such as RUNNING, CONTINUED_AS_NEW. */
export interface WorkflowRunInfo {
  runId: string;
  status: string;
  historyLength: number;
}

const pipelineRunResource = {
  group: TEKTON_GROUP,
  version: TEKTON_VERSION,
  plural: TektonPlural.PipelineRun,
};

function kubeConfigOf(stack: StackInfo): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(stack.kubeconfig);
  return kc;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
