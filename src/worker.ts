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
import {
  NativeConnection,
  Runtime,
  Worker,
  type PrometheusMetricsExporter,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { AuditedLedger } from './adapters/audited-ledger';
import { startKubernetesActionCatalog } from './adapters/kubernetes-action-catalog';
import { JsonLinesAuditLog } from './adapters/json-audit-log';
import { KubernetesLedger } from './adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from './adapters/kubernetes-pipeline-runs';
import { TemporalRemediations } from './adapters/temporal-remediations';
import { startHealthServer } from './health';
import { describeKubeConfig, loadKubeConfig } from './k8s/kube';
import { createLogger, logLevelFromEnv, sdkLogLevel, temporalSdkLogger, type Logger } from './log';
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

/** The `msg` of the line the worker writes once it is wired up and about to poll. */
export const WORKER_READY_MESSAGE = 'worker started';

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
  /** Where the worker's own problems go (an audit line it could not write); default the JSON logger at info. */
  logger?: Logger;
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
        ? {
            ...options.deps,
            ledger: new AuditedLedger(options.deps.ledger, options.auditLog, (message) =>
              (options.logger ?? createLogger({ name: 'worker' })).error(message, { component: 'audit' }),
            ),
          }
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
 * The Prometheus exporter by Prometheus's conventions (the SDK's defaults are not): counters end in
 * `_total`, durations are histograms in seconds with the unit in the name
 * (`temporal_activity_execution_latency_seconds`). Product counters and gauges are named without
 * these suffixes where they are created; the exporter adds them.
 */
export function prometheusExporter(port: number): PrometheusMetricsExporter {
  return {
    prometheus: {
      bindAddress: `0.0.0.0:${port}`,
      countersTotalSuffix: true,
      unitSuffix: true,
      useSecondsForDurations: true,
    },
  };
}

/**
 * The Temporal Runtime of `npm run worker`: the SDK's logs (its TypeScript side and, forwarded, its
 * Rust core) go through `logger` as JSON lines at its level; metrics are served on `metricsPort`
 * (0: none).
 */
export function installRuntime(logger: Logger, metricsPort: number): Runtime {
  return Runtime.install({
    logger: temporalSdkLogger(logger),
    telemetryOptions: {
      // Third-party crates below the core (gRPC, HTTP) are chatty below WARN.
      logging: {
        filter: { core: sdkLogLevel(logger.level), other: logger.level === 'error' ? 'ERROR' : 'WARN' },
        forward: {},
      },
      ...(metricsPort > 0 ? { metrics: prometheusExporter(metricsPort) } : {}),
    },
  });
}

/**
 * `npm run worker`: settings from env / REMEDIATION_CONFIG / .stack/stack.json, Temporal through the
 * SDK's environment configuration (variables and profile file, see temporal-connection.ts); runs
 * until SIGINT/SIGTERM. `temporal` replaces how Temporal is found (the embedded stack isolates it).
 */
export async function runWorker(
  options: { policyDefaults?: PolicyConfigInput; temporal?: ResolveTemporalConnectionOptions } = {},
): Promise<void> {
  const logger = createLogger({ name: 'worker', level: logLevelFromEnv(process.env) });
  const { settings, policy } = loadWorkerConfig(process.env, undefined, options.policyDefaults);
  const runtime = installRuntime(logger, settings.metricsPort);
  const { kubeConfig, temporal } = resolveWorkerTargets(settings, options.temporal);
  for (const warning of temporal.warnings) logger.warn(warning);
  // Watch-backed: admitting an action never costs an API call.
  const catalogLog = logger.child({ component: 'catalog' });
  const catalog = startKubernetesActionCatalog(kubeConfig, settings.controlNamespace, {
    log: (line, level) => catalogLog.log(level, line),
  });
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  const clientConnection = await Connection.connect(temporal.connectionOptions);
  const client = new Client({ connection: clientConnection, namespace: temporal.namespace });
  const ledger = new KubernetesLedger(kubeConfig, settings.controlNamespace);
  const pipelineRuns = new KubernetesPipelineRuns(kubeConfig);
  const worker = await createRemediationWorker({
    connection,
    namespace: temporal.namespace,
    taskQueue: settings.taskQueue,
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
    maxCachedWorkflows: settings.maxCachedWorkflows,
    auditLog: new JsonLinesAuditLog(process.stdout, (error) =>
      logger.error('could not write audit lines', { component: 'audit', error }),
    ),
    logger,
    deps: {
      ledger,
      pipelineRuns,
      remediations: new TemporalRemediations(client),
      policy,
      catalog,
      controlNamespace: settings.controlNamespace,
      executionNamespace: settings.executionNamespace,
    },
  });
  if (policy.allowUncataloguedActions) {
    logger.warn(
      'allowUncataloguedActions is on: actions without a RemediationAction run with the ' +
        "caller's pipeline, params and ServiceAccount (turn it off outside development)",
    );
  }
  // Up once the worker is created (workflows bundled, Temporal connected): readiness means that.
  const health =
    settings.healthPort > 0
      ? await startHealthServer({ port: settings.healthPort, state: () => worker.getState() })
      : null;
  const kube = describeKubeConfig(kubeConfig);
  logger.info(WORKER_READY_MESSAGE, {
    taskQueue: settings.taskQueue,
    temporal: temporal.summary,
    kubernetes: { server: kube.server ?? null, context: kube.context },
    executionNamespace: settings.executionNamespace,
    controlNamespace: settings.controlNamespace,
    metrics: settings.metricsPort > 0 ? `:${settings.metricsPort}/metrics` : null,
    health: settings.healthPort > 0 ? `:${settings.healthPort}/healthz` : null,
    logLevel: logger.level,
  });
  // Gauges read from visibility and the ledger (src/metrics/gauges.ts), only where metrics are served.
  const gaugeLog = logger.child({ component: 'gauges' });
  const gauges: GaugeLoop | null =
    settings.metricsPort > 0
      ? startGaugeLoop({
          meter: runtime.metricMeter,
          sources: workerGaugeSources({ workflows: client.workflow, ledger }),
          log: (line, level) => gaugeLog.log(level, line),
        })
      : null;
  // The SDK shuts down on SIGINT/SIGTERM by default: in-flight activities get the grace time.
  try {
    await worker.run();
  } finally {
    await gauges?.stop();
    await health?.close();
  }
  pipelineRuns.close();
  await catalog.close();
  await clientConnection.close();
  await connection.close();
}

if (require.main === module) {
  runWorker().catch((error: unknown) => {
    // LOG_LEVEL itself may be what is wrong: a failure to start is written whatever the level.
    createLogger({ name: 'worker' }).error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
