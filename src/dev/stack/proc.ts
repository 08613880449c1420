/**
 * Child-process plumbing shared by the stack's servers: spawn with output to a log file, stop with
 * SIGTERM then SIGKILL, and a last-resort synchronous kill on exit so no server outlives us.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';

export type Log = (line: string) => void;

export const noLog: Log = () => undefined;

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// 'exit' handlers must be synchronous: process.kill is, so a crash or process.exit() still reaps.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const cp of live) {
      try {
        cp.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export function spawnLogged(
  name: string,
  cmd: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): Child {
  installExitHook();
  mkdirSync(dirname(logFile), { recursive: true });
  // A file descriptor (not a pipe) so a chatty server can never block on a full pipe buffer.
  const fd = openSync(logFile, 'a');
  let cp: ChildProcess;
  try {
    cp = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
  } finally {
    closeSync(fd);
  }
  live.add(cp);
  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    cp.once('error', () => {
      running = false;
      live.delete(cp);
      resolve('spawn-error');
    });
    cp.once('exit', (code, signal) => {
      running = false;
      live.delete(cp);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: cp.pid ?? -1,
    logFile,
    exited,
    isRunning: () => running,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (!running) return;
        cp.kill('SIGTERM');
        const timer = setTimeout(() => cp.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** A TCP port free on 127.0.0.1 right now (racy by nature; good enough for local servers). */
export async function freePort(): Promise<number> {
  // Below the kernel's ephemeral range: a port taken from inside it (listen on 0) can be handed to
  // some process's outgoing connection (the API server's to etcd, say) before our server binds it,
  // which once failed a whole test run with "address already in use". Only listeners live below it.
  const [low] = ephemeralPortRange();
  for (let i = 0; i < 50 && low > LOWEST_PORT + 1; i++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (low - LOWEST_PORT));
    if (await portIsFree(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Well above the ports of well-known services and of what people usually run by hand. */
const LOWEST_PORT = 20_000;

/** The kernel's range for outgoing connections' local ports (Linux; the usual default elsewhere). */
export function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // not Linux
  }
  return [32_768, 60_999];
}

/** True when nothing listens on 127.0.0.1:port (we can bind it). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns true; fails early when `child` dies (with its log path, which is
 * where the reason is) or after `timeoutMs`.
 */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; child?: Child },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (opts.child && !opts.child.isRunning()) {
      throw new Error(`${opts.child.name} exited while waiting for ${what}; see ${opts.child.logFile}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

export const elapsed = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
