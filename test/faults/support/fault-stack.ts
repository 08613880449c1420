/**
 * A private stack per fault-test file whose components can be stopped and restarted one by one on
 * the same ports and the same data (SQLite db or PostgreSQL, etcd data dir, certificates): what the
 * integration stack (one shared stack per run) cannot offer.
 *
 * The Temporal topology is the dev server, or with REMEDIATION_FAULT_TOPOLOGY=production (the
 * `faults-production` jest project) the real server's four services on PostgreSQL, over mTLS.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startTektonSimulator } from '../../../src/dev/simulator';
import { RemediationHarness } from '../../integration/support/remediation-harness';
import { DEFAULT_CRDS_DIR, startKubeApi, type KubeApi } from '../../../src/dev/stack/kube-api';
import { freePort } from '../../../src/dev/stack/proc';
import {
  CONTROL_NAMESPACE,
  EXECUTION_NAMESPACE,
  provision,
  provisionTemporalServer,
  type ProvisionResult,
  type StackInfo,
  type TemporalTopology,
} from '../../../src/dev/stack/stack';
import { startTemporalDevServer, type TemporalDevServer } from '../../../src/dev/stack/temporal';
import {
  startProductionTemporal,
  TASK_QUEUE_PARTITIONS,
  type ProductionTemporal,
  type TemporalServerTools,
} from '../../../src/dev/stack/temporal-production';

/** The Temporal topology fault tests run on (the `faults-production` project sets production). */
export function faultTopology(): TemporalTopology {
  const value = process.env.REMEDIATION_FAULT_TOPOLOGY || 'dev';
  if (value !== 'dev' && value !== 'production')
    throw new Error(`REMEDIATION_FAULT_TOPOLOGY must be dev or production, not ${JSON.stringify(value)}`);
  return value;
}

export class FaultStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'remediation-faults-'));
  readonly topology = faultTopology();
  private tools!: ProvisionResult;
  private serverTools: TemporalServerTools | undefined;
  private ports!: { temporal: number; etcd: number; api: number };
  private kubeApi: KubeApi | undefined;
  private temporal: TemporalDevServer | ProductionTemporal | undefined;
  private simulator: { stop(): Promise<void> } | undefined;
  info!: StackInfo;

  static async start(): Promise<FaultStack> {
    const stack = new FaultStack();
    try {
      [stack.tools, stack.serverTools] = await Promise.all([
        provision(),
        stack.topology === 'production' ? provisionTemporalServer() : undefined,
      ]);
      const taken = new Set<number>();
      const port = async (): Promise<number> => {
        for (;;) {
          const p = await freePort();
          if (taken.has(p)) continue;
          taken.add(p);
          return p;
        }
      };
      stack.ports = { temporal: await port(), etcd: await port(), api: await port() };
      await Promise.all([stack.startKubeApi(), stack.startTemporal()]);
      await stack.startSimulator();
      stack.info = {
        temporal: {
          address: stack.temporal!.address,
          namespace: stack.temporal!.namespace,
          uiUrl: '',
          cli: stack.tools.temporal.path,
          topology: stack.topology,
          ...('tls' in stack.temporal! && { tls: stack.temporal.tls }),
        },
        kubeconfig: stack.kubeApi!.kubeconfigPath,
        executionNamespace: EXECUTION_NAMESPACE,
        controlNamespace: CONTROL_NAMESPACE,
      };
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  /** etcd + API server; a restart reuses the data dir, certificates, kubeconfig and ports. */
  async startKubeApi(): Promise<void> {
    this.kubeApi = await startKubeApi({
      dir: join(this.dir, 'kube'),
      etcdPort: this.ports.etcd,
      apiPort: this.ports.api,
      etcdBin: this.tools.etcd.path,
      apiserverBin: this.tools.apiserver.path,
      crdsDir: DEFAULT_CRDS_DIR, // idempotent; also waits until the CRDs are served again
    });
  }

  /** API server, then etcd (SIGTERM: etcd's data is kept for the restart). */
  async stopKubeApi(): Promise<void> {
    await this.kubeApi?.stop();
    this.kubeApi = undefined;
  }

  /**
   * Temporal on the same port and data (the dev server's SQLite file, or PostgreSQL), so a restart
   * keeps every workflow and timer.
   */
  async startTemporal(): Promise<void> {
    if (this.serverTools) {
      // PostgreSQL runs as the postgres user when we are root: it must be able to traverse this 0700 folder.
      chmodSync(this.dir, 0o711);
      this.temporal = await startProductionTemporal({
        dir: join(this.dir, 'temporal-production'),
        tools: this.serverTools,
        cli: this.tools.temporal.path,
        port: this.ports.temporal,
        ui: false,
        unsafeNoFsync: true,
      });
      return;
    }
    this.temporal = await startTemporalDevServer({
      cli: this.tools.temporal.path,
      dbFile: join(this.dir, 'temporal.db'),
      port: this.ports.temporal,
      headless: true,
      logFile: join(this.dir, 'logs', 'temporal.log'),
      // As the production stack: task queues in several partitions (the server's default, stated).
      dynamicConfig: {
        'matching.numTaskqueueReadPartitions': TASK_QUEUE_PARTITIONS,
        'matching.numTaskqueueWritePartitions': TASK_QUEUE_PARTITIONS,
      },
    });
  }

  /** The production topology's services and PostgreSQL, one by one; fails on the dev server. */
  get production(): ProductionTemporal {
    if (!this.temporal || !('tls' in this.temporal))
      throw new Error(
        'this fault test needs the production topology (REMEDIATION_FAULT_TOPOLOGY=production)',
      );
    return this.temporal;
  }

  async stopTemporal(): Promise<void> {
    await this.temporal?.stop();
    this.temporal = undefined;
  }

  async startSimulator(): Promise<void> {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(this.kubeApi!.kubeconfigPath);
    this.simulator = await startTektonSimulator({ kubeConfig });
  }

  /** Stops everything, then fails if any process started for this stack is still alive. */
  async stop(): Promise<void> {
    await this.simulator?.stop();
    this.simulator = undefined;
    await Promise.allSettled([this.stopKubeApi(), this.stopTemporal()]);
    const left = processesMentioning(this.dir);
    if (process.env.REMEDIATION_KEEP_STACK !== '1') rmSync(this.dir, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`processes outlived the fault stack:\n${left.join('\n')}`);
  }
}

/** Servers get their data dir on the command line, so this finds every orphan of this stack. */
export function processesMentioning(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', text], { encoding: 'utf8' }).trim().split('\n');
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/**
 * Gives a fault test file its own stack and harness: started in beforeAll, stopped in afterAll
 * (after `cleanup`, e.g. killing worker processes). Read the fields inside tests.
 */
export function useFaultStack(cleanup?: () => Promise<unknown>): {
  stack: FaultStack;
  h: RemediationHarness;
} {
  const fault = {} as { stack: FaultStack; h: RemediationHarness };
  beforeAll(async () => {
    fault.stack = await FaultStack.start();
    fault.h = await new RemediationHarness(fault.stack.info).open();
  });
  afterAll(async () => {
    await cleanup?.();
    await fault.h?.close();
    await fault.stack?.stop();
  });
  return fault;
}
