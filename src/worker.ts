/**
 * The worker: runs remediation workflows and their activities. `npm run worker`.
 * Wires the real adapters (Kubernetes ledger and PipelineRuns, Temporal client for wake-ups);
 * tests wire fakes or the same adapters through `createRemediationWorker`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { KubernetesLedger } from './adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from './adapters/kubernetes-pipeline-runs';
import { TemporalRemediations } from './adapters/temporal-remediations';
import { loadKubeConfig } from './k8s/kube';
import { loadWorkerConfig } from './settings';

export interface RemediationWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Pre-bundled workflow code (tests bundle once per file); bundled from source otherwise. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConcurrentActivityTaskExecutions?: number;
  /** Workflows kept in memory between tasks; evicted ones are replayed from history when they wake. */
  maxCachedWorkflows?: number;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

/**
 * Bundles the workflows in a child process and returns the bundle's path: bundling in-process
 * leaves webpack's few hundred MB in the worker's heap for good.
 */
export async function bundleWorkflowsOutOfProcess(): Promise<{ codePath: string }> {
  const codePath = join(mkdtempSync(join(tmpdir(), 'remediation-workflows-')), 'bundle.js');
  const script = join(__dirname, `bundle-workflows${extname(__filename)}`);
  const loader = extname(__filename) === '.ts' ? ['--import', 'tsx'] : [];
  await promisify(execFile)(process.execPath, [...loader, script, codePath]);
  return { codePath };
}

export async function createRemediationWorker(options: RemediationWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: options.workflowBundle ?? (await bundleWorkflowsOutOfProcess()),
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
    activities: createActivities(options.deps),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 200,
    shutdownGraceTime: options.shutdownGraceTime ?? '30s',
    // The server hands a cancel to an activity only in reply to a heartbeat. The SDK's default throttle
    // (80% of the 30s heartbeat timeout = 24s) made a cancel of a running PipelineRun take ~25s.
    maxHeartbeatThrottleInterval: '2s',
  });
}

/** `npm run worker`: settings from env / REMEDIATION_CONFIG / .stack/stack.json; runs until SIGINT/SIGTERM. */
export async function runWorker(): Promise<void> {
  const { settings, policy } = loadWorkerConfig();
  if (settings.metricsPort > 0) {
    Runtime.install({
      telemetryOptions: { metrics: { prometheus: { bindAddress: `0.0.0.0:${settings.metricsPort}` } } },
    });
  }
  const kubeConfig = loadKubeConfig(settings.kubeconfig);
  const connection = await NativeConnection.connect({ address: settings.temporalAddress });
  const clientConnection = await Connection.connect({ address: settings.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: settings.temporalNamespace });
  const worker = await createRemediationWorker({
    connection,
    namespace: settings.temporalNamespace,
    taskQueue: settings.taskQueue,
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
    maxCachedWorkflows: settings.maxCachedWorkflows,
    deps: {
      ledger: new KubernetesLedger(kubeConfig, settings.controlNamespace),
      pipelineRuns: new KubernetesPipelineRuns(kubeConfig),
      remediations: new TemporalRemediations(client),
      policy,
      executionNamespace: settings.executionNamespace,
    },
  });
  console.log(
    `worker: task queue ${settings.taskQueue} on ${settings.temporalAddress} (namespace ${settings.temporalNamespace}); ` +
      `PipelineRuns in ${settings.executionNamespace}, ledger in ${settings.controlNamespace}` +
      (settings.metricsPort > 0 ? `; metrics on :${settings.metricsPort}/metrics` : ''),
  );
  // The SDK shuts down on SIGINT/SIGTERM by default: in-flight activities get the grace time.
  await worker.run();
  await clientConnection.close();
  await connection.close();
}

if (require.main === module) {
  runWorker().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
