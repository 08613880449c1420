/**
 * The Temporal dev server (`temporal server start-dev`): SQLite persistence, Web UI, and the
 * product's search attributes registered (also on an existing db, where --search-attribute is ignored).
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { elapsed, noLog, portIsFree, spawnLogged, waitFor, type Log } from './proc';

const run = promisify(execFile);

/** The Temporal-level contract (README). */
export const SEARCH_ATTRIBUTES = {
  RemediationPhase: 'Keyword',
  BlockReason: 'Keyword',
  TargetResource: 'Keyword',
  SignalFingerprint: 'Keyword',
  RemediationAction: 'Keyword',
  BlockedUntil: 'Datetime',
  RemediationVerification: 'Keyword',
} as const;

export interface TemporalDevServerOptions {
  /** Path of the `temporal` CLI binary. */
  cli: string;
  /** SQLite file; kept across restarts. */
  dbFile: string;
  port?: number;
  uiPort?: number;
  headless?: boolean;
  namespace?: string;
  /** Extra `--dynamic-config-value K=JSON`. */
  dynamicConfig?: Record<string, unknown>;
  /** Server log file; default next to the db file. */
  logFile?: string;
  log?: Log;
}

export interface TemporalDevServer {
  address: string;
  namespace: string;
  /** null when headless. */
  uiUrl: string | null;
  cli: string;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const log = opts.log ?? noLog;
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? port + 1000;
  const namespace = opts.namespace ?? 'default';
  const dbFile = resolve(opts.dbFile);
  const address = `127.0.0.1:${port}`;
  const t0 = Date.now();
  mkdirSync(dirname(dbFile), { recursive: true });

  // Fail fast and clearly instead of timing out against somebody else's server.
  const wanted: [string, number][] = opts.headless
    ? [['gRPC', port]]
    : [
        ['gRPC', port],
        ['UI', uiPort],
      ];
  for (const [what, p] of wanted) {
    if (!(await portIsFree(p))) {
      throw new Error(
        `Temporal ${what} port ${p} is already in use (another Temporal server?); choose another port`,
      );
    }
  }

  const args = [
    'server',
    'start-dev',
    `--db-filename=${dbFile}`,
    '--ip=127.0.0.1',
    `--port=${port}`,
    `--namespace=${namespace}`,
    '--log-level=warn',
    ...Object.entries(SEARCH_ATTRIBUTES).map(([k, t]) => `--search-attribute=${k}=${t}`),
    ...Object.entries(opts.dynamicConfig ?? {}).map(
      ([k, v]) => `--dynamic-config-value=${k}=${JSON.stringify(v)}`,
    ),
    ...(opts.headless
      ? ['--headless']
      : ['--ui-ip=127.0.0.1', `--ui-port=${uiPort}`, '--ui-disable-news-fetch']),
  ];
  const child = spawnLogged(
    'temporal',
    opts.cli,
    args,
    opts.logFile ?? join(dirname(dbFile), 'logs', 'temporal.log'),
  );
  const stop = (): Promise<void> => child.stop();
  try {
    const cli = (...a: string[]): Promise<{ stdout: string }> =>
      run(opts.cli, [...a, `--address=${address}`, `--namespace=${namespace}`, '--command-timeout=5s'], {
        timeout: 15_000,
      });
    await waitFor(
      'Temporal frontend health',
      async () => (await cli('operator', 'cluster', 'health')).stdout.includes('SERVING'),
      { timeoutMs: 60_000, intervalMs: 250, child },
    );
    log(`temporal dev server ready on ${address} (${elapsed(t0)})`);
    await ensureSearchAttributes(cli, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    namespace,
    uiUrl: opts.headless ? null : `http://127.0.0.1:${uiPort}`,
    cli: opts.cli,
    stop,
  };
}

export type Cli = (...args: string[]) => Promise<{ stdout: string }>;

/** Idempotent: creates what `list` lacks, then checks every attribute is there with its type. */
export async function ensureSearchAttributes(cli: Cli, log: Log): Promise<void> {
  const existing = await listSearchAttributes(cli);
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([k]) => !existing.has(k));
  for (const [name, type] of missing) {
    await cli('operator', 'search-attribute', 'create', `--name=${name}`, `--type=${type}`);
    log(`registered search attribute ${name} (${type})`);
  }
  await waitFor(
    'search attributes registered',
    async () => {
      const now = await listSearchAttributes(cli);
      return Object.entries(SEARCH_ATTRIBUTES).every(
        ([k, t]) => now.get(k)?.toLowerCase() === t.toLowerCase(),
      );
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  );
}

/** name → type of the custom search attributes. */
export async function listSearchAttributes(cli: Cli): Promise<Map<string, string>> {
  const { stdout } = await cli('operator', 'search-attribute', 'list', '--output=json');
  const parsed = JSON.parse(stdout) as unknown;
  const out = new Map<string, string>();
  // Shape: { customAttributes: { Name: "INDEXED_VALUE_TYPE_KEYWORD" }, systemAttributes: … } or a list.
  const custom = (parsed as { customAttributes?: Record<string, string> }).customAttributes;
  if (custom) {
    for (const [k, v] of Object.entries(custom)) out.set(k, normalizeType(v));
  } else if (Array.isArray(parsed)) {
    for (const e of parsed as { name?: string; type?: string }[])
      if (e.name) out.set(e.name, normalizeType(e.type ?? ''));
  }
  return out;
}

const normalizeType = (t: string): string => t.replace(/^INDEXED_VALUE_TYPE_/, '').replace(/_/g, '');
