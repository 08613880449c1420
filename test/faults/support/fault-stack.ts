/**
 * A private stack per fault-test file whose components can be stopped and restarted one by one on
 * the same ports and the same data (SQLite db, etcd data dir, certificates): what the integration
 * stack (one shared stack per run) cannot offer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  type ProvisionResult,
  type StackInfo,
} from '../../../src/dev/stack/stack';
import { startTemporalDevServer, type TemporalDevServer } from '../../../src/dev/stack/temporal';

export class FaultStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'remediation-faults-'));
  private tools!: ProvisionResult;
  private ports!: { temporal: number; etcd: number; api: number };
  private kubeApi: KubeApi | undefined;
  private temporal: TemporalDevServer | undefined;
  private simulator: { stop(): Promise<void> } | undefined;
  info!: StackInfo;

  static async start(): Promise<FaultStack> {
    const stack = new FaultStack();
    try {
      stack.tools = await provision();
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

  /** Dev server on the same port and SQLite file, so a restart keeps every workflow and timer. */
  async startTemporal(): Promise<void> {
    this.temporal = await startTemporalDevServer({
      cli: this.tools.temporal.path,
      dbFile: join(this.dir, 'temporal.db'),
      port: this.ports.temporal,
      headless: true,
      logFile: join(this.dir, 'logs', 'temporal.log'),
    });
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
