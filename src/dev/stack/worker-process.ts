/**
 * The real worker entrypoint (`src/worker.ts`, as `npm run worker` runs it) in its own OS process,
 * for tests and benchmarks that need separate processes: racing workers, a SIGKILLed worker, or the
 * worker's own memory. `--import tsx` in the child itself (not tsx's CLI, which forks), so the pid
 * is the worker's: a SIGKILL kills it, and its RSS is its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './kube-api';
import type { StackInfo } from './stack';
import { clientTlsEnv } from './temporal-production';

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves when the worker printed its ready line. */
  ready: Promise<void>;
  output(): string;
  /** Resident set size in bytes, from /proc/<pid>/status (Linux). */
  rssBytes(): number;
  /** Sends `signal` (SIGKILL after 10 s if it does not exit) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `config` is the REMEDIATION_CONFIG file's content (policy keys and worker settings). `compiled`
 * runs `dist/worker.js` as the container does (built by `npm ci` / `npm run build`); otherwise the
 * TypeScript source runs through tsx. `node` is the Node binary (default the one running this).
 */
export function spawnWorker(
  stack: StackInfo,
  taskQueue: string,
  config: Record<string, unknown> = {},
  {
    compiled = false,
    env = {},
    node = process.execPath,
  }: {
    compiled?: boolean;
    /** Variables set last (e.g. METRICS_PORT, off by default, or LOG_LEVEL). */
    env?: NodeJS.ProcessEnv;
    /** The Node binary to run it with (a different LTS, say). */
    node?: string;
  } = {},
): WorkerProcess {
  const workDir = mkdtempSync(join(tmpdir(), 'remediation-worker-'));
  const configPath = join(workDir, 'config.json');
  // A config file with one empty profile: no profile of the user's applies to the stack's dev
  // server (an empty file does not parse: envconfig fails on a file without any table).
  const temporalConfig = join(workDir, 'temporal.toml');
  writeFileSync(temporalConfig, '[profile.default]\n');
  writeFileSync(
    configPath,
    JSON.stringify({
      executionNamespace: stack.executionNamespace,
      controlNamespace: stack.controlNamespace,
      // The local stack lets free-form demo actions run beside its catalog, and the worker says so.
      allowUncataloguedActions: true,
      ...config,
    }),
  );
  const entry = compiled
    ? [join(REPO_ROOT, 'dist/worker.js')]
    : ['--import', 'tsx', join(REPO_ROOT, 'src/worker.ts')];
  const child = spawn(node, entry, {
    cwd: REPO_ROOT,
    env: {
      ...stackOnly(process.env),
      TEMPORAL_CONFIG_FILE: temporalConfig,
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_NAMESPACE: stack.temporal.namespace,
      ...(stack.temporal.tls && clientTlsEnv(stack.temporal.tls)),
      KUBECONFIG: stack.kubeconfig,
      REMEDIATION_TASK_QUEUE: taskQueue,
      REMEDIATION_CONFIG: configPath,
      METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolveReady, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000); // a noisy worker must not grow its parent
      // WORKER_READY_MESSAGE of src/worker.ts, as its JSON log line writes it.
      if (output.includes('"msg":"worker started"')) resolveReady();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`worker exited with ${code} before it was ready:\n${output}`)),
    );
  });
  ready.catch(() => {}); // observed by callers that await it; an early exit must not be an unhandled rejection
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    child,
    pid: child.pid!,
    ready,
    output: () => output,
    rssBytes: () => readRss(child.pid!),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * The environment without what would point the worker elsewhere than the stack: Temporal's
 * profile, API key, TLS and metadata variables, and a kube context.
 */
function stackOnly(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.startsWith('TEMPORAL_') && name !== 'KUBE_CONTEXT'),
  );
}

function readRss(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}
