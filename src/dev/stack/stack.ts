/**
 * The whole local stack: provisioned binaries, etcd +
 * apiextensions-apiserver with the CRDs, Temporal (the dev server, or with `temporal: 'production'`
 * the real server's services on PostgreSQL over mTLS), and the Tekton simulator.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_CRDS_DIR, REPO_ROOT, startKubeApi } from './kube-api';
import { elapsed, noLog, type Log } from './proc';
import { startTemporalDevServer } from './temporal';
import {
  startProductionTemporal,
  type ProductionTemporal,
  type TemporalServerTools,
} from './temporal-production';

/** Exactly the `.stack/stack.json` shape the CLI reads (see settings). */
import type { StackInfo } from '../../settings';
import { reuseConnections } from '../../k8s/connection-reuse';

export type { StackInfo };

export const EXECUTION_NAMESPACE = 'remediation-runs';
export const CONTROL_NAMESPACE = 'remediation-system';
export const DEFAULT_STACK_DIR = join(REPO_ROOT, '.stack');

export interface StackOptions {
  /** State folder (SQLite db, etcd data, certificates, kubeconfig, logs); default <repo>/.stack. */
  dir?: string;
  temporalPort?: number;
  temporalUiPort?: number;
  etcdPort?: number;
  apiPort?: number;
  /** Start the Tekton simulator (src/dev/simulator); default true. */
  withSimulator?: boolean;
  /** Throwaway stacks (tests): etcd (and PostgreSQL) without fsync. */
  ephemeral?: boolean;
  /**
   * `dev` (default): `temporal server start-dev` on SQLite. `production`: the Temporal server's
   * frontend, history, matching and worker services as separate processes on PostgreSQL, frontend
   * over mTLS, and its Web UI server (tools from `scripts/provision.sh --profile temporal-server`).
   */
  temporal?: TemporalTopology;
  log?: Log;
}

export type TemporalTopology = 'dev' | 'production';

export interface Stack {
  info: StackInfo;
  /** The production topology's services, to kill and restart one by one (fault tests); absent on the dev server. */
  productionTemporal?: ProductionTemporal;
  stop(): Promise<void>;
}

export interface ProvisionResult {
  temporal: { path: string; version: string };
  etcd: { path: string; version: string };
  apiserver: { path: string; version: string };
}

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? noLog;
  const dir = resolve(opts.dir ?? DEFAULT_STACK_DIR);
  const t0 = Date.now();
  mkdirSync(dir, { recursive: true });
  claimDir(dir);
  const stackJson = join(dir, 'stack.json');
  rmSync(stackJson, { force: true }); // never leave a stale file readable while starting

  const started: Stoppable[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const t1 = Date.now();
      // Reverse start order: the simulator before the API server, the API server before etcd.
      for (const s of [...started].reverse()) {
        try {
          await s.stop();
        } catch (err) {
          log(`stopping ${s.name} failed: ${String(err)}`);
        }
      }
      rmSync(stackJson, { force: true });
      rmSync(join(dir, 'stack.pid'), { force: true });
      log(`stack stopped (${elapsed(t1)})`);
    })());

  try {
    const topology = opts.temporal ?? 'dev';
    const [tools, serverTools] = await Promise.all([
      provision(log),
      topology === 'production' ? provisionTemporalServer(log) : undefined,
    ]);
    log(`tools ready (${elapsed(t0)})`);

    // In parallel; allSettled so that whatever did start is known and can be stopped on failure.
    const [kubeR, temporalR] = await Promise.allSettled([
      startKubeApi({
        dir,
        etcdPort: opts.etcdPort,
        apiPort: opts.apiPort,
        etcdBin: tools.etcd.path,
        apiserverBin: tools.apiserver.path,
        crdsDir: DEFAULT_CRDS_DIR,
        unsafeNoFsync: opts.ephemeral,
        log,
      }),
      serverTools
        ? startProductionTemporal({
            dir,
            tools: serverTools,
            cli: tools.temporal.path,
            port: opts.temporalPort,
            uiPort: opts.temporalUiPort,
            unsafeNoFsync: opts.ephemeral,
            log,
          })
        : startTemporalDevServer({
            cli: tools.temporal.path,
            dbFile: join(dir, 'temporal.db'),
            port: opts.temporalPort,
            uiPort: opts.temporalUiPort,
            logFile: join(dir, 'logs', 'temporal.log'),
            log,
          }),
    ]);
    if (kubeR.status === 'fulfilled') started.push({ name: 'kube-api', stop: kubeR.value.stop });
    if (temporalR.status === 'fulfilled') started.push({ name: 'temporal', stop: temporalR.value.stop });
    if (kubeR.status === 'rejected') throw kubeR.reason;
    if (temporalR.status === 'rejected') throw temporalR.reason;
    const kube = kubeR.value;
    const temporal = temporalR.value;

    const production = serverTools ? (temporal as ProductionTemporal) : undefined;
    const info: StackInfo = {
      temporal: {
        address: temporal.address,
        namespace: temporal.namespace,
        uiUrl: temporal.uiUrl ?? '',
        cli: tools.temporal.path,
        topology,
        ...(production && {
          tls: production.tls,
          configFile: writeTemporalProfile(
            join(dir, 'temporal.toml'),
            temporal.address,
            temporal.namespace,
            production,
          ),
        }),
      },
      kubeconfig: kube.kubeconfigPath,
      executionNamespace: EXECUTION_NAMESPACE,
      controlNamespace: CONTROL_NAMESPACE,
    };

    if (opts.withSimulator ?? true) {
      const sim = await startSimulator(kube.kubeconfigPath, log);
      if (sim) started.push({ name: 'tekton-simulator', stop: () => sim.stop() });
    }

    writeFileSync(stackJson, JSON.stringify(info, null, 2) + '\n');
    log(`stack ready in ${elapsed(t0)}; wrote ${stackJson}`);
    return { info, ...(production && { productionTemporal: production }), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Runs scripts/provision.sh (cached binaries; may build on a cold cache), progress to `log`.
 * Retries exit 141: the script's `--version | head -1` pipelines die of SIGPIPE now and then
 * under `pipefail` (~1 run in 6 here); a retry is cheap once the cache is warm.
 */
export async function provision(log: Log = noLog, args: string[] = []): Promise<ProvisionResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await provisionOnce(log, args);
    } catch (err) {
      if (!(err instanceof ProvisionSigpipe) || attempt >= 5) throw err;
      log(`provision.sh died of SIGPIPE (exit 141); retrying (${attempt}/4)`);
    }
  }
}

class ProvisionSigpipe extends Error {}

/** `scripts/provision.sh --profile temporal-server`: the Temporal server, its SQL tool, the UI server, PostgreSQL. */
export async function provisionTemporalServer(log: Log = noLog): Promise<TemporalServerTools> {
  return (await provision(log, ['--profile', 'temporal-server'])) as unknown as TemporalServerTools;
}

/**
 * A Temporal client profile (the TOML file of the SDKs' environment configuration) for the
 * production topology, so the worker and the `temporal` CLI reach it with TEMPORAL_CONFIG_FILE alone.
 */
function writeTemporalProfile(
  file: string,
  address: string,
  namespace: string,
  temporal: ProductionTemporal,
): string {
  const q = JSON.stringify;
  writeFileSync(
    file,
    [
      '# Written by the local stack (production topology); TEMPORAL_CONFIG_FILE=<this file>.',
      '[profile.default]',
      `address = ${q(address)}`,
      `namespace = ${q(namespace)}`,
      '',
      '[profile.default.tls]',
      `client_cert_path = ${q(temporal.tls.clientCertPath)}`,
      `client_key_path = ${q(temporal.tls.clientKeyPath)}`,
      `server_ca_cert_path = ${q(temporal.tls.serverCaCertPath)}`,
      `server_name = ${q(temporal.tls.serverName)}`,
      '',
    ].join('\n'),
  );
  return file;
}

function provisionOnce(log: Log, args: string[]): Promise<ProvisionResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'provision.sh'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let errBuf = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      errBuf += d.toString();
      const lines = errBuf.split('\n');
      errBuf = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) log(l);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (errBuf.trim()) log(errBuf);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 141) return reject(new ProvisionSigpipe('scripts/provision.sh exited 141 (SIGPIPE)'));
      if (code !== 0) return reject(new Error(`scripts/provision.sh failed with exit code ${String(code)}`));
      try {
        resolvePromise(JSON.parse(last) as ProvisionResult);
      } catch {
        reject(new Error(`scripts/provision.sh printed no JSON result: ${last}`));
      }
    });
  });
}

interface SimulatorModule {
  startTektonSimulator(opts: {
    kubeConfig: KubeConfig;
    log?: (line: string) => void;
  }): Promise<{ stop(): Promise<void> }>;
}

/**
 * The simulator is written in parallel with the stack: skip it (with a warning) while
 * src/dev/simulator/index is absent, but let a present-and-broken simulator fail the start.
 */
async function startSimulator(
  kubeconfigPath: string,
  log: Log,
): Promise<{ stop(): Promise<void> } | undefined> {
  const base = join(__dirname, '..', 'simulator', 'index');
  if (!['.ts', '.js'].some((ext) => existsSync(base + ext))) {
    log('WARNING: src/dev/simulator/index.ts not found; starting without the Tekton simulator');
    return undefined;
  }
  // Variable specifier: the module may not exist at type-check time.
  const mod = (await import(base)) as Partial<SimulatorModule>;
  if (typeof mod.startTektonSimulator !== 'function') {
    throw new Error(`${base} does not export startTektonSimulator`);
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  // Keep-alive, as Tekton's own controller (a Go client) talks to the API server.
  reuseConnections(kubeConfig);
  const t0 = Date.now();
  const sim = await mod.startTektonSimulator({ kubeConfig, log: (l) => log(`[simulator] ${l}`) });
  log(`tekton simulator started (${elapsed(t0)})`);
  return sim;
}

/** One stack per folder: a second one would fight over ports, the SQLite file and etcd data. */
function claimDir(dir: string): void {
  const pidFile = join(dir, 'stack.pid');
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `a stack is already running in ${dir} (pid ${pid}); stop it first or use another --dir`,
      );
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  writeFileSync(pidFile, `${process.pid}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
