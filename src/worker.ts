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
import type { KubeConfig } from '@kubernetes/client-node';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { AuditedLedger } from './adapters/audited-ledger';
import { startKubernetesActionCatalog } from './adapters/kubernetes-action-catalog';
import { JsonLinesAuditLog } from './adapters/json-audit-log';
import { KubernetesLedger } from './adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from './adapters/kubernetes-pipeline-runs';
import { TemporalRemediations } from './adapters/temporal-remediations';
import { describeKubeConfig, loadKubeConfig } from './k8s/kube';
import { startGaugeLoop, workerGaugeSources, type GaugeLoop } from './metrics/gauges';
import type { AuditLog } from './ports/audit-log';
import type { PolicyConfigInput } from './domain/config';
import { loadWorkerConfig, type WorkerSettings } from './settings';
import {
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_TEMPORAL_NAMESPACE,
  resolveTemporalConnection,
  type ResolveTemporalConnectionOptions,
  type TemporalConnection,
} from './temporal-connection';

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
  /**
   * Where the audit entries of landed ledger writes also go (clear, override, lock takeover,
   * orphan settlement); `npm run worker` writes JSON lines to stdout. None when absent.
   */
  auditLog?: AuditLog;
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

/**
 * The workflow code: bundled at build time beside the bundled worker (dist/workflow-bundle.js,
 * scripts/build.mjs), so the image and `npm run worker` start without webpack; bundled now when the
 * worker runs from source (`npm start` through tsx).
 */
async function workflowCode(): Promise<{ codePath: string }> {
  if (extname(__filename) === '.js') return { codePath: join(__dirname, 'workflow-bundle.js') };
  return bundleWorkflowsOutOfProcess();
}

export async function createRemediationWorker(options: RemediationWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: options.workflowBundle ?? (await workflowCode()),
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
    activities: createActivities(
      options.auditLog
        ? { ...options.deps, ledger: new AuditedLedger(options.deps.ledger, options.auditLog) }
        : options.deps,
    ),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 200,
    shutdownGraceTime: options.shutdownGraceTime ?? '30s',
    // The server hands a cancel to an activity only in reply to a heartbeat. The SDK's default throttle
    // (80% of the 30s heartbeat timeout = 24s) made a cancel of a running PipelineRun take ~25s.
    maxHeartbeatThrottleInterval: '2s',
  });
}

/**
 * Where a worker with these settings acts: its kubeconfig (KUBECONFIG merged as kubectl does,
 * KUBE_CONTEXT) and its Temporal connection (TEMPORAL_* variables and the profile first; the
 * settings' REMEDIATION_CONFIG keys and .stack/stack.json below them). `temporal` replaces how
 * Temporal is found. Throws on unusable settings, naming them.
 */
export function resolveWorkerTargets(
  settings: WorkerSettings,
  temporal?: ResolveTemporalConnectionOptions,
): { kubeConfig: KubeConfig; temporal: TemporalConnection } {
  return {
    kubeConfig: loadKubeConfig(settings.kubeconfig, { context: settings.kubeContext }),
    temporal: resolveTemporalConnection({
      env: process.env,
      fallback: {
        ...(settings.temporalAddress !== DEFAULT_TEMPORAL_ADDRESS && { address: settings.temporalAddress }),
        ...(settings.temporalNamespace !== DEFAULT_TEMPORAL_NAMESPACE && {
          namespace: settings.temporalNamespace,
        }),
        source: 'worker settings: REMEDIATION_CONFIG or .stack/stack.json',
      },
      ...temporal,
    }),
  };
}

/**
 * `npm run worker`: settings from env / REMEDIATION_CONFIG / .stack/stack.json, Temporal through the
 * SDK's environment configuration (variables and profile file, see temporal-connection.ts); runs
 * until SIGINT/SIGTERM. `temporal` replaces how Temporal is found (the embedded stack isolates it).
 */
export async function runWorker(
  options: { policyDefaults?: PolicyConfigInput; temporal?: ResolveTemporalConnectionOptions } = {},
): Promise<void> {
  const { settings, policy } = loadWorkerConfig(process.env, undefined, options.policyDefaults);
  const runtime =
    settings.metricsPort > 0
      ? Runtime.install({
          telemetryOptions: { metrics: { prometheus: { bindAddress: `0.0.0.0:${settings.metricsPort}` } } },
        })
      : null;
  const { kubeConfig, temporal } = resolveWorkerTargets(settings, options.temporal);
  for (const warning of temporal.warnings) console.warn(`worker: WARNING ${warning}`);
  // Watch-backed: admitting an action never costs an API call.
  const catalog = startKubernetesActionCatalog(kubeConfig, settings.controlNamespace);
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  const clientConnection = await Connection.connect(temporal.connectionOptions);
  const client = new Client({ connection: clientConnection, namespace: temporal.namespace });
  const ledger = new KubernetesLedger(kubeConfig, settings.controlNamespace);
  const worker = await createRemediationWorker({
    connection,
    namespace: temporal.namespace,
    taskQueue: settings.taskQueue,
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
    maxCachedWorkflows: settings.maxCachedWorkflows,
    auditLog: new JsonLinesAuditLog(process.stdout),
    deps: {
      ledger,
      pipelineRuns: new KubernetesPipelineRuns(kubeConfig),
      remediations: new TemporalRemediations(client),
      policy,
      catalog,
      controlNamespace: settings.controlNamespace,
      executionNamespace: settings.executionNamespace,
    },
  });
  if (policy.allowUncataloguedActions) {
    console.warn(
      'worker: WARNING allowUncataloguedActions is on: actions without a RemediationAction run with the ' +
        "caller's pipeline, params and ServiceAccount (turn it off outside development)",
    );
  }
  const kube = describeKubeConfig(kubeConfig);
  console.log(
    `worker: task queue ${settings.taskQueue} on Temporal ${temporal.summary}; ` +
      `Kubernetes ${kube.server ?? '(no server)'} (context ${kube.context}): ` +
      `PipelineRuns in ${settings.executionNamespace}, ledger in ${settings.controlNamespace}` +
      (settings.metricsPort > 0 ? `; metrics on :${settings.metricsPort}/metrics` : ''),
  );
  // Gauges read from visibility and the ledger (src/metrics/gauges.ts), only where metrics are served.
  const gauges: GaugeLoop | null = runtime
    ? startGaugeLoop({
        meter: runtime.metricMeter,
        sources: workerGaugeSources({ workflows: client.workflow, ledger }),
        log: (line) => console.warn(`worker: ${line}`),
      })
    : null;
  // The SDK shuts down on SIGINT/SIGTERM by default: in-flight activities get the grace time.
  try {
    await worker.run();
  } finally {
    await gauges?.stop();
  }
  await catalog.close();
  await clientConnection.close();
  await connection.close();
}

if (require.main === module) {
  runWorker().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
