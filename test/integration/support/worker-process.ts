/**
 * Runs the real worker entrypoint (`src/worker.ts`, as `npm run worker` does) in a separate OS
 * process, so concurrency and crash tests exercise separate processes racing on shared state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { StackInfo } from '../../../src/settings';

const repoRoot = resolve(__dirname, '../../..');

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the worker printed its ready line. */
  ready: Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnWorker(
  stack: StackInfo,
  taskQueue: string,
  config: Record<string, unknown> = {},
): WorkerProcess {
  const dir = mkdtempSync(join(tmpdir(), 'remediation-worker-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      executionNamespace: stack.executionNamespace,
      controlNamespace: stack.controlNamespace,
      ...config,
    }),
  );
  const child = spawn(
    process.execPath,
    // `--import tsx` (as `npm run worker`), not tsx's CLI: the CLI runs the script in a child
    // process, so a SIGKILL would hit the wrapper and leave the real worker running.
    ['--import', 'tsx', join(repoRoot, 'src/worker.ts')],
    {
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
    },
  );
  let output = '';
  const ready = new Promise<void>((resolveReady, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker: task queue')) resolveReady();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`worker exited with ${code} before it was ready:\n${output}`)),
    );
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    child,
    output: () => output,
    ready,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
