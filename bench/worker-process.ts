/**
 * The real worker entrypoint (`src/worker.ts`, as `npm run worker` runs it) in its own OS process:
 * throughput then includes the worker's own CPU as in production, one-vs-two-worker ratios compare
 * processes, and the RSS figure is the worker's alone (not the bench's, which also hosts the
 * simulator and the client).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { StackInfo } from '../src/stack/stack';

const repoRoot = resolve(__dirname, '..');

export interface BenchWorker {
  pid: number;
  ready: Promise<void>;
  output(): string;
  /** Resident set size in bytes, from /proc/<pid>/status (Linux). */
  rssBytes(): number;
  stop(): Promise<void>;
}

export function spawnWorker(
  stack: StackInfo,
  taskQueue: string,
  policy: Record<string, unknown>,
): BenchWorker {
  const dir = mkdtempSync(join(tmpdir(), 'remediation-bench-worker-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      executionNamespace: stack.executionNamespace,
      controlNamespace: stack.controlNamespace,
      ...policy,
    }),
  );
  // `--import tsx` in this process (not tsx's CLI, which forks): the pid we read RSS from is the worker.
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/worker.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_NAMESPACE: stack.temporal.namespace,
      KUBECONFIG: stack.kubeconfig,
      REMEDIATION_TASK_QUEUE: taskQueue,
      REMEDIATION_CONFIG: configPath,
      METRICS_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolveReady, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000); // a noisy worker must not grow the bench
      if (output.includes('worker: task queue')) resolveReady();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`worker exited with ${code} before it was ready:\n${output}`)),
    );
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  return {
    pid: child.pid!,
    ready,
    output: () => output,
    rssBytes: () => readRss(child.pid!),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}
