/**
 * Temporal as it runs in production, on one machine: the real server (built from
 * go.temporal.io/server by `scripts/provision.sh --profile temporal-server`) on a private
 * PostgreSQL cluster, with SQL (advanced) visibility, the frontend, history, matching and worker
 * services as four processes, the frontend on TLS with client certificates required (mTLS), and
 * the Web UI server connected to it over mTLS.
 *
 * Everything lives in one folder (PostgreSQL data, certificates, config, logs), so a restart of
 * the stack, or of any one service, keeps every workflow and timer. Each service can be killed and
 * started on its own (fault tests).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { makePki } from './pki';
import { elapsed, freePort, noLog, portIsFree, spawnLogged, waitFor, type Child, type Log } from './proc';
import { ensureSearchAttributes, type Cli } from './temporal';

const run = promisify(execFile);

/** What `scripts/provision.sh --profile temporal-server` prints. */
export interface TemporalServerTools {
  temporalServer: { server: string; sql: string; schemaDir: string; version: string };
  temporalUi: { path: string; version: string };
  postgres: { binDir: string; version: string };
}

export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** The client side of the frontend's mTLS: what the worker, the CLI and the UI present. */
export interface TemporalClientTls {
  serverCaCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** The name the frontend's certificate is checked against. */
  serverName: string;
}

export interface ProductionTemporalOptions {
  /** State folder: postgres/, temporal/ (config, certificates), logs/. Reused across restarts. */
  dir: string;
  tools: TemporalServerTools;
  /** The `temporal` CLI (namespace and search attribute registration, readiness). */
  cli: string;
  /** Frontend gRPC port; default the last run's when free, else a free one. */
  port?: number;
  /** Web UI port; default as the frontend's. */
  uiPort?: number;
  /** Start the Web UI server (default true). */
  ui?: boolean;
  namespace?: string;
  /** PostgreSQL without fsync: throwaway stacks (tests, the bench) only. */
  unsafeNoFsync?: boolean;
  log?: Log;
}

export interface ProductionTemporal {
  address: string;
  namespace: string;
  uiUrl: string | null;
  cli: string;
  tls: TemporalClientTls;
  /** pid of each running service, of PostgreSQL's postmaster and of the UI server. */
  pids(): Record<string, number>;
  /** Sends `signal` (default SIGKILL) to one service and waits until the process is gone. */
  kill(service: TemporalService, signal?: NodeJS.Signals): Promise<void>;
  /** Starts one service again on its ports; resolves once the cluster answers through it. */
  start(service: TemporalService): Promise<void>;
  /** `pg_ctl stop` (`fast`: clean; `immediate`: as a crash, recovered from WAL at the next start). */
  stopPostgres(mode?: 'fast' | 'immediate'): Promise<void>;
  startPostgres(): Promise<void>;
  /** Waits until the frontend answers and history serves reads. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface Ports {
  postgres: number;
  ui: number;
  frontendHttp: number;
  grpc: Record<TemporalService, number>;
  membership: Record<TemporalService, number>;
  metrics: Record<TemporalService, number>;
}

const SERVER_NAME = 'localhost';
const HISTORY_SHARDS = 4; // fixed forever once the database is initialised
/**
 * Partitions of each task queue. Reads and writes stay equal; to change them on a running cluster,
 * raise reads before writes and lower writes before reads (a partition that is written and never
 * read strands its tasks).
 */
export const TASK_QUEUE_PARTITIONS = 4;

export async function startProductionTemporal(opts: ProductionTemporalOptions): Promise<ProductionTemporal> {
  const log = opts.log ?? noLog;
  const dir = resolve(opts.dir);
  const namespace = opts.namespace ?? 'default';
  const t0 = Date.now();
  mkdirSync(join(dir, 'temporal'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const ports = await choosePorts(join(dir, 'temporal', 'ports.json'), opts);
  const address = `127.0.0.1:${ports.grpc.frontend}`;

  const [pki, postgres] = await Promise.all([
    temporalPki(join(dir, 'temporal', 'pki')),
    preparePostgres(
      dir,
      join(dir, 'postgres'),
      opts.tools.postgres.binDir,
      ports.postgres,
      opts.unsafeNoFsync,
      log,
    ),
  ]);
  const tls: TemporalClientTls = {
    serverCaCertPath: pki.ca.cert,
    clientCertPath: pki.certs.client.cert,
    clientKeyPath: pki.certs.client.key,
    serverName: SERVER_NAME,
  };
  const configFile = join(dir, 'temporal', 'config.yaml');
  const dynamicConfigFile = join(dir, 'temporal', 'dynamicconfig.yaml');
  writeFileSync(
    dynamicConfigFile,
    stringify({
      'limit.maxIDLength': [{ value: 255 }],
      // Every task queue in TASK_QUEUE_PARTITIONS partitions (the server's default, stated so that
      // it is a setting here): workers' polls and new tasks are spread over them, as on a cluster.
      'matching.numTaskqueueReadPartitions': [{ value: TASK_QUEUE_PARTITIONS }],
      'matching.numTaskqueueWritePartitions': [{ value: TASK_QUEUE_PARTITIONS }],
    }),
  );
  writeFileSync(
    configFile,
    serverConfig({ ports, password: postgres.password, pki, dynamicConfigFile }),
    { mode: 0o600 }, // holds the database password
  );

  const services = new Map<TemporalService, Child>();
  let ui: Child | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await ui?.stop();
      // Frontend first (no new work), history last (it owns the shards).
      for (const s of ['frontend', 'worker', 'matching', 'history'] as const)
        await services.get(s)?.stop(15_000);
      await postgres.stop('fast').catch((err: unknown) => log(`stopping PostgreSQL failed: ${String(err)}`));
    })());

  const cliArgs = [`--address=${address}`, ...cliTlsArgs(tls), '--command-timeout=5s'];
  const cli: Cli = (...a) =>
    run(
      opts.cli,
      [...a, ...cliArgs, ...(a[0] === 'operator' && a[1] === 'cluster' ? [] : [`--namespace=${namespace}`])],
      {
        timeout: 15_000,
        env: withoutTemporalEnv(process.env),
      },
    );

  const startService = (service: TemporalService): Child => {
    const child = spawnLogged(
      `temporal ${service}`,
      opts.tools.temporalServer.server,
      ['--config-file', configFile, '--allow-no-auth', 'start', '--service', service],
      join(dir, 'logs', `temporal-${service}.log`),
      { ...withoutTemporalEnv(process.env), TEMPORAL_METRICS_PORT: String(ports.metrics[service]) },
    );
    services.set(service, child);
    return child;
  };

  const frontendServing = (timeoutMs: number): Promise<void> =>
    waitFor(
      'Temporal frontend health',
      async () => (await cli('operator', 'cluster', 'health')).stdout.includes('SERVING'),
      { timeoutMs, intervalMs: 250 },
    );
  /** "Workflow not found" comes from history: the frontend alone answers `cluster health`. */
  const ready = async (timeoutMs = 60_000): Promise<void> => {
    await frontendServing(timeoutMs);
    await waitFor(
      'Temporal history (a read of a missing workflow answers "not found")',
      async () => {
        try {
          await cli('workflow', 'describe', '--workflow-id=readiness-probe-that-never-exists');
          return false;
        } catch (err) {
          // Only the CLI's own words: the error message repeats the command line.
          const text = (err as { stderr?: string }).stderr ?? '';
          return /not found/i.test(text) && !/namespace[^\n]*not found/i.test(text);
        }
      },
      { timeoutMs, intervalMs: 250 },
    );
  };

  try {
    await postgres.start();
    log(`PostgreSQL ${opts.tools.postgres.version} ready on 127.0.0.1:${ports.postgres} (${elapsed(t0)})`);
    await setupSchemas(opts.tools, ports.postgres, postgres.password, dir, log);
    const t1 = Date.now();
    // History first, alone: on a new database the first process writes the cluster metadata, and
    // processes starting together race on it. It listens once that is done.
    const history = startService('history');
    await waitFor('history listening', async () => !(await portIsFree(ports.grpc.history)), {
      timeoutMs: 60_000,
      intervalMs: 100,
      child: history,
    });
    for (const s of TEMPORAL_SERVICES) if (s !== 'history') startService(s);
    await frontendServing(90_000);
    await ensureNamespace(cli, namespace, log);
    await ready(90_000);
    log(
      `Temporal ${opts.tools.temporalServer.version} services ready on ${address} over mTLS (${elapsed(t1)})`,
    );
    await ensureSearchAttributes(cli, log);
    // SQL visibility validates queries against the namespace's attributes: wait until one is accepted.
    await waitFor(
      'search attributes usable in list queries',
      async () => {
        await cli(
          'workflow',
          'count',
          `--query=RemediationPhase="readiness" AND BlockedUntil < "2000-01-01T00:00:00Z"`,
        );
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    if (opts.ui ?? true) {
      ui = await startUi(opts.tools.temporalUi.path, dir, ports.ui, address, namespace, pki, log);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log(`production Temporal ready in ${elapsed(t0)}`);

  return {
    address,
    namespace,
    uiUrl: ui ? `http://127.0.0.1:${ports.ui}` : null,
    cli: opts.cli,
    tls,
    pids() {
      const out: Record<string, number> = {};
      for (const [s, c] of services) if (c.isRunning()) out[s] = c.pid;
      const pg = postgres.pid();
      if (pg) out['postgres'] = pg;
      if (ui?.isRunning()) out['ui'] = ui.pid;
      return out;
    },
    async kill(service, signal = 'SIGKILL') {
      const child = services.get(service);
      if (!child?.isRunning()) throw new Error(`Temporal ${service} is not running`);
      process.kill(child.pid, signal);
      await child.exited;
      // The kernel may hold its ports a moment after the exit.
      await waitFor(`${service} ports released`, () => portIsFree(ports.grpc[service]), {
        timeoutMs: 10_000,
      });
    },
    async start(service) {
      if (services.get(service)?.isRunning()) throw new Error(`Temporal ${service} is already running`);
      const t = Date.now();
      const child = startService(service);
      await waitFor(`${service} listening`, async () => !(await portIsFree(ports.grpc[service])), {
        timeoutMs: 30_000,
        intervalMs: 100,
        child,
      });
      await ready();
      log(`Temporal ${service} restarted (${elapsed(t)})`);
    },
    stopPostgres: (mode = 'fast') => postgres.stop(mode),
    startPostgres: () => postgres.start(),
    ready,
    stop,
  };
}

// ------------------------------------------------------------------------------ PostgreSQL

interface Postgres {
  password: string;
  start(): Promise<void>;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  pid(): number | undefined;
}

/**
 * A private cluster (initdb on first use) that listens on 127.0.0.1 only. PostgreSQL refuses to
 * run as root, so as root (CI containers) its commands run as the `postgres` user of Debian's package.
 */
async function preparePostgres(
  stackDir: string,
  pgDir: string,
  binDir: string,
  port: number,
  unsafeNoFsync: boolean | undefined,
  log: Log,
): Promise<Postgres> {
  const data = join(pgDir, 'data');
  const socketDir = join(pgDir, 'run');
  const logFile = join(pgDir, 'postgres.log');
  const asRoot = process.getuid?.() === 0;
  const pg = (tool: string, args: string[], timeout = 120_000): Promise<{ stdout: string }> =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(binDir, tool), ...args], { timeout, cwd: '/' })
      : run(join(binDir, tool), args, { timeout });

  mkdirSync(socketDir, { recursive: true });
  const passwordFile = join(pgDir, 'temporal-password');
  if (!existsSync(passwordFile))
    writeFileSync(passwordFile, randomBytes(18).toString('hex'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  if (!existsSync(join(data, 'PG_VERSION'))) {
    const t0 = Date.now();
    mkdirSync(data, { recursive: true, mode: 0o700 });
    if (asRoot) {
      await run('chown', ['postgres:postgres', pgDir, data, socketDir]);
      // The postgres user must be able to reach its folder: the stack's own folders (a temporary
      // folder is 0700) are opened for traversal; any folder above the stack's must already be.
      const ancestors: string[] = [];
      for (let d = resolve(pgDir, '..'); d !== dirname(d); d = dirname(d)) ancestors.unshift(d);
      for (const d of ancestors) {
        const mode = statSync(d).mode;
        if (mode & 0o001) continue;
        if (!(d + '/').startsWith(stackDir + '/'))
          throw new Error(
            `the postgres user cannot enter ${d}; give it search permission (chmod o+x) or use another --dir`,
          );
        chmodSync(d, mode | 0o001);
      }
    }
    await pg('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
    ]);
    log(`PostgreSQL cluster initialised in ${data} (${elapsed(t0)})`);
  }

  const settings = [
    'listen_addresses=127.0.0.1',
    `port=${port}`,
    `unix_socket_directories=${socketDir}`,
    'max_connections=200',
    ...(unsafeNoFsync ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
  ];
  const pidFile = join(data, 'postmaster.pid');
  let created = false;
  return {
    password,
    async start() {
      await pg('pg_ctl', [
        '-D',
        data,
        '-l',
        logFile,
        '-w',
        '-t',
        '60',
        'start',
        '-o',
        settings.map((s) => `-c ${s}`).join(' '),
      ]);
      if (created) return;
      const psql = (sql: string): Promise<{ stdout: string }> =>
        pg('psql', [
          '-h',
          socketDir,
          '-p',
          String(port),
          '-U',
          'postgres',
          '-v',
          'ON_ERROR_STOP=1',
          '-tAc',
          sql,
        ]);
      if (!(await psql(`SELECT 1 FROM pg_roles WHERE rolname = 'temporal'`)).stdout.trim())
        await psql(`CREATE USER temporal`);
      await psql(`ALTER USER temporal WITH PASSWORD '${password}'`);
      for (const db of ['temporal', 'temporal_visibility']) {
        if (!(await psql(`SELECT 1 FROM pg_database WHERE datname = '${db}'`)).stdout.trim())
          await psql(`CREATE DATABASE ${db} OWNER temporal`);
      }
      created = true;
    },
    async stop(mode) {
      if (!existsSync(pidFile)) return;
      await pg('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    },
    pid() {
      try {
        return Number(readFileSync(pidFile, 'utf8').split('\n')[0]) || undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Temporal's own SQL tool; `setup-schema -v 0.0` and `update-schema` are no-ops on an up-to-date database. */
async function setupSchemas(
  tools: TemporalServerTools,
  port: number,
  password: string,
  dir: string,
  log: Log,
): Promise<void> {
  const t0 = Date.now();
  const env = { ...process.env, SQL_PASSWORD: password };
  const sql = (db: string, ...args: string[]): Promise<unknown> =>
    run(
      tools.temporalServer.sql,
      [
        '--plugin',
        'postgres12',
        '--ep',
        '127.0.0.1',
        '-p',
        String(port),
        '-u',
        'temporal',
        '--db',
        db,
        ...args,
      ],
      { env, timeout: 120_000, cwd: dir },
    );
  await Promise.all(
    (
      [
        ['temporal', 'temporal'],
        ['temporal_visibility', 'visibility'],
      ] as const
    ).map(async ([db, schema]) => {
      await sql(db, 'setup-schema', '-v', '0.0');
      await sql(db, 'update-schema', '-d', join(tools.temporalServer.schemaDir, schema, 'versioned'));
    }),
  );
  log(`Temporal schemas up to date (${elapsed(t0)})`);
}

// ------------------------------------------------------------------------------ Temporal

type TemporalPki = Awaited<ReturnType<typeof temporalPki>>;

/** The frontend's server certificate, and the client certificate of the system worker, our workers and the UI. */
function temporalPki(dir: string) {
  return makePki(dir, {
    caSubject: '/CN=remediation-temporal-ca',
    reuse: true,
    certs: [
      {
        name: 'frontend',
        subject: `/CN=${SERVER_NAME}`,
        subjectAltNames: ['IP:127.0.0.1', `DNS:${SERVER_NAME}`],
        extendedKeyUsage: ['serverAuth', 'clientAuth'],
      },
      { name: 'client', subject: '/CN=remediation-stack-client', extendedKeyUsage: ['clientAuth'] },
    ],
  });
}

/**
 * One file for the four processes; each binds only its own service's ports. The metrics listener is
 * the one setting they would share, so it is a template (`# enable-template`) on TEMPORAL_METRICS_PORT.
 */
function serverConfig(c: {
  ports: Ports;
  password: string;
  pki: TemporalPki;
  dynamicConfigFile: string;
}): string {
  const sqlStore = (databaseName: string, maxConns: number): unknown => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${c.ports.postgres}`,
      connectProtocol: 'tcp',
      user: 'temporal',
      password: c.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (s: TemporalService): Record<string, unknown> => ({
    grpcPort: c.ports.grpc[s],
    membershipPort: c.ports.membership[s],
    bindOnLocalHost: true,
    ...(s === 'frontend' && { httpPort: c.ports.frontendHttp }),
  });
  const client = { serverName: SERVER_NAME, rootCaFiles: [c.pki.ca.cert] };
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: HISTORY_SHARDS,
      datastores: {
        'postgres-default': sqlStore('temporal', 20),
        'postgres-visibility': sqlStore('temporal_visibility', 10),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      pprof: { port: 0 },
      metrics: {
        prometheus: {
          framework: 'tally',
          timerType: 'histogram',
          listenAddress: '127.0.0.1:{{ env "TEMPORAL_METRICS_PORT" }}',
        },
      },
      tls: {
        frontend: {
          server: {
            certFile: c.pki.certs.frontend.cert,
            keyFile: c.pki.certs.frontend.key,
            requireClientAuth: true,
            clientCaFiles: [c.pki.ca.cert],
          },
          client,
        },
        // Without it the worker service presents no certificate to the mTLS frontend.
        systemWorker: { certFile: c.pki.certs.client.cert, keyFile: c.pki.certs.client.key, client },
      },
    },
    services: Object.fromEntries(TEMPORAL_SERVICES.map((s) => [s, { rpc: rpc(s) }])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${c.ports.grpc.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: c.dynamicConfigFile, pollInterval: '10s' },
  };
  return `# enable-template\n${stringify(config)}`;
}

async function ensureNamespace(cli: Cli, namespace: string, log: Log): Promise<void> {
  const exists = await cli('operator', 'namespace', 'describe').then(
    () => true,
    () => false,
  );
  if (!exists) {
    await cli('operator', 'namespace', 'create', '--retention=72h');
    log(`registered namespace ${namespace}`);
  }
  // Every service learns of a new namespace from its cache refresh (every 2 s).
  await waitFor('namespace visible', async () => (await cli('operator', 'namespace', 'describe'), true), {
    timeoutMs: 30_000,
    intervalMs: 250,
  });
}

async function startUi(
  bin: string,
  dir: string,
  port: number,
  address: string,
  namespace: string,
  pki: TemporalPki,
  log: Log,
): Promise<Child> {
  const t0 = Date.now();
  const configDir = join(dir, 'temporal', 'ui');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'production.yaml'),
    stringify({
      temporalGrpcAddress: address,
      host: '127.0.0.1',
      port,
      enableUi: true,
      defaultNamespace: namespace,
      cors: { cookieInsecure: true },
      tls: {
        caFile: pki.ca.cert,
        certFile: pki.certs.client.cert,
        keyFile: pki.certs.client.key,
        enableHostVerification: true,
        serverName: SERVER_NAME,
      },
      auth: { enabled: false },
    }),
  );
  const child = spawnLogged(
    'temporal ui-server',
    bin,
    ['--root', join(dir, 'temporal'), '--config', 'ui', '--env', 'production', 'start'],
    join(dir, 'logs', 'temporal-ui.log'),
  );
  try {
    await waitFor(
      'Temporal Web UI (namespaces over mTLS)',
      async () => (await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/${namespace}`)).ok,
      { timeoutMs: 30_000, intervalMs: 200, child },
    );
  } catch (err) {
    await child.stop();
    throw err;
  }
  log(`Temporal Web UI on http://127.0.0.1:${port} (${elapsed(t0)})`);
  return child;
}

// ------------------------------------------------------------------------------ ports

/** Explicit ports win; else last run's (the cluster metadata keeps the frontend address) when free; else fresh. */
async function choosePorts(file: string, opts: ProductionTemporalOptions): Promise<Ports> {
  let prev: Ports | undefined;
  try {
    prev = JSON.parse(readFileSync(file, 'utf8')) as Ports;
  } catch {
    prev = undefined;
  }
  const taken = new Set<number>();
  const pick = async (
    wanted: number | undefined,
    previous: number | undefined,
    below32768 = false,
  ): Promise<number> => {
    for (const p of [wanted, previous]) {
      if (p !== undefined && !taken.has(p) && (!below32768 || p < 32768) && (await portIsFree(p))) {
        taken.add(p);
        return p;
      }
      if (p !== undefined && p === wanted) throw new Error(`port ${p} is already in use; choose another`);
    }
    for (;;) {
      // The membership table stores ports as a SQL smallint; the kernel's ephemeral range is above it.
      const p = below32768 ? 20_000 + Math.floor(Math.random() * 12_000) : await freePort();
      if (!taken.has(p) && (await portIsFree(p))) {
        taken.add(p);
        return p;
      }
    }
  };
  const perService = async (
    key: 'grpc' | 'membership' | 'metrics',
    frontend?: number,
  ): Promise<Record<TemporalService, number>> => {
    const out = {} as Record<TemporalService, number>;
    for (const s of TEMPORAL_SERVICES)
      out[s] = await pick(s === 'frontend' ? frontend : undefined, prev?.[key][s], key === 'membership');
    return out;
  };
  const ports: Ports = {
    grpc: await perService('grpc', opts.port),
    postgres: await pick(undefined, prev?.postgres),
    ui: await pick(opts.uiPort, prev?.ui),
    frontendHttp: await pick(undefined, prev?.frontendHttp),
    membership: await perService('membership'),
    metrics: await perService('metrics'),
  };
  writeFileSync(file, JSON.stringify(ports, null, 2) + '\n');
  return ports;
}

/** The server and the CLI read TEMPORAL_* variables; the user's must not redirect the stack's. */
function withoutTemporalEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('TEMPORAL_')));
}

// ------------------------------------------------------------------------------ clients

/** The stack's client TLS as `Connection.connect`/`NativeConnection.connect` take it. */
export function clientTlsConfig(tls: TemporalClientTls): {
  serverRootCACertificate: Buffer;
  clientCertPair: { crt: Buffer; key: Buffer };
  serverNameOverride: string;
} {
  return {
    serverRootCACertificate: readFileSync(tls.serverCaCertPath),
    clientCertPair: { crt: readFileSync(tls.clientCertPath), key: readFileSync(tls.clientKeyPath) },
    serverNameOverride: tls.serverName,
  };
}

/** The same as the standard TEMPORAL_TLS_* variables (worker, our CLI, the SDKs' environment configuration). */
export function clientTlsEnv(tls: TemporalClientTls): Record<string, string> {
  return {
    TEMPORAL_TLS_CLIENT_CERT_PATH: tls.clientCertPath,
    TEMPORAL_TLS_CLIENT_KEY_PATH: tls.clientKeyPath,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: tls.serverCaCertPath,
    TEMPORAL_TLS_SERVER_NAME: tls.serverName,
  };
}

/** The `temporal` CLI's flags for it. */
export function cliTlsArgs(tls: TemporalClientTls): string[] {
  return [
    `--tls-ca-path=${tls.serverCaCertPath}`,
    `--tls-cert-path=${tls.clientCertPath}`,
    `--tls-key-path=${tls.clientKeyPath}`,
    `--tls-server-name=${tls.serverName}`,
  ];
}
