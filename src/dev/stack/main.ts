/**
 * `npm run stack`: the local stack in the foreground. Progress on stderr; exactly one line
 * `stack ready` on stdout once `.stack/stack.json` is written. SIGINT/SIGTERM stop every child.
 *
 * Flags (env): --dir (STACK_DIR), --temporal-port (STACK_TEMPORAL_PORT, default 7233),
 * --temporal-ui-port (STACK_TEMPORAL_UI_PORT, default port+1000), --etcd-port (STACK_ETCD_PORT),
 * --api-port (STACK_API_PORT), --no-simulator (STACK_NO_SIMULATOR=1).
 *
 * --temporal production (STACK_TEMPORAL) runs the real Temporal server instead of the dev server:
 * its four services as separate processes on a private PostgreSQL, the frontend over mTLS, and the
 * Web UI server (src/dev/stack/temporal-production.ts; tools from `provision.sh --profile temporal-server`).
 *
 * --profile conformance (STACK_PROFILE) starts the conformance stack instead (src/dev/stack/conformance.ts:
 * kube-apiserver, scheduler, controller manager, kwok, Tekton, Alertmanager, Temporal) in
 * .stack-conformance/, building its tools on first use.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFORMANCE_DIR, startConformanceStack } from './conformance';
import { startStack, type Stack, type StackOptions, type TemporalTopology } from './stack';

const log = (line: string): void => {
  process.stderr.write(`[stack] ${line}\n`);
};

function port(flag: string | undefined, env: string): number | undefined {
  const raw = flag ?? process.env[env];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535)
    throw new Error(`invalid port ${JSON.stringify(raw)} (${env})`);
  return n;
}

type Profile = 'default' | 'conformance';

function options(argv: string[]): StackOptions & { profile: Profile } {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      'temporal-port': { type: 'string' },
      'temporal-ui-port': { type: 'string' },
      'etcd-port': { type: 'string' },
      'api-port': { type: 'string' },
      'no-simulator': { type: 'boolean' },
      profile: { type: 'string' },
      temporal: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stderr.write(
      'usage: npm run stack -- [--profile default|conformance] [--temporal dev|production] [--dir D] [--temporal-port P] [--temporal-ui-port P] [--etcd-port P] [--api-port P] [--no-simulator]\n',
    );
    process.exit(0);
  }
  const profile = values.profile ?? (process.env.STACK_PROFILE || 'default');
  if (profile !== 'default' && profile !== 'conformance')
    throw new Error(
      `invalid profile ${JSON.stringify(profile)} (--profile): expected default or conformance`,
    );
  const temporal = values.temporal ?? (process.env.STACK_TEMPORAL || 'dev');
  if (temporal !== 'dev' && temporal !== 'production')
    throw new Error(
      `invalid Temporal topology ${JSON.stringify(temporal)} (--temporal): expected dev or production`,
    );
  if (temporal === 'production' && profile === 'conformance')
    throw new Error('--temporal production is not available with --profile conformance');
  return {
    profile,
    temporal: temporal satisfies TemporalTopology,
    dir: values.dir ?? (process.env.STACK_DIR || undefined),
    temporalPort: port(values['temporal-port'], 'STACK_TEMPORAL_PORT'),
    temporalUiPort: port(values['temporal-ui-port'], 'STACK_TEMPORAL_UI_PORT'),
    etcdPort: port(values['etcd-port'], 'STACK_ETCD_PORT'),
    apiPort: port(values['api-port'], 'STACK_API_PORT'),
    withSimulator: !(values['no-simulator'] || process.env.STACK_NO_SIMULATOR === '1'),
    log,
  };
}

async function main(): Promise<void> {
  let opts: StackOptions & { profile: Profile };
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }

  let stack: Stack | undefined;
  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) {
      // Second Ctrl-C: the synchronous exit hook in proc.ts SIGKILLs every child.
      log(`${signal} again: killing now`);
      process.exit(130);
    }
    shuttingDown = true;
    log(`${signal}: stopping…`);
    // Before `stack` exists startStack is still running; it is stopped once it returns below.
    if (stack) void stack.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  // `kill <npm pid>` does not reach us (npm's `sh -c` dies without forwarding): when our parent
  // goes away we are re-parented, so stop rather than leave servers behind.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent && !shuttingDown) shutdown('parent exited');
  }, 1000).unref();

  try {
    stack = opts.profile === 'conformance' ? await conformance(opts) : await startStack(opts);
  } catch (err) {
    log(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  if (shuttingDown) {
    await stack.stop();
    process.exit(0);
  }
  const { info } = stack;
  log(`Temporal:   ${info.temporal.address} (namespace ${info.temporal.namespace})`);
  log(`Web UI:     ${info.temporal.uiUrl}`);
  log(`KUBECONFIG: ${info.kubeconfig}`);
  if (info.temporal.configFile) {
    log(`Temporal over mTLS: client certificate ${info.temporal.tls?.clientCertPath}`);
    log(`try: TEMPORAL_CONFIG_FILE=${info.temporal.configFile} ${info.temporal.cli} workflow list`);
    const pids = Object.entries(stack.productionTemporal?.pids() ?? {})
      .map(([name, pid]) => `${name} ${pid}`)
      .join(', ');
    log(`processes: ${pids}`);
  } else {
    log(`try: ${info.temporal.cli} workflow list --address ${info.temporal.address}`);
  }
  process.stdout.write('stack ready\n');
}

/** The conformance stack, with its stack.json (same shape, plus the profile and versions) in its folder. */
async function conformance(opts: StackOptions): Promise<Stack> {
  const dir = opts.dir ?? DEFAULT_CONFORMANCE_DIR;
  const stack = await startConformanceStack({
    dir,
    temporalPort: opts.temporalPort,
    temporalUiPort: opts.temporalUiPort,
    log,
  });
  const file = join(dir, 'stack.json');
  writeFileSync(file, JSON.stringify(stack.info, null, 2) + '\n');
  log(
    `wrote ${file}; use it with: export KUBECONFIG=${stack.info.kubeconfig} TEMPORAL_ADDRESS=${stack.info.temporal.address}`,
  );
  log(`Alertmanager: ${stack.info.alertmanagerUrl ?? 'not started'}`);
  return stack;
}

void main();
