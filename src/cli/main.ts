/**
 * Entry point of `remediate` (bin/remediate.js runs its bundle, dist/cli/main.js): wires
 * {@link run} to the process and to a real RemediationClient. The client, and the Kubernetes
 * client for the commands that read the ledger, are loaded only when a command connects, so
 * `--help`, `--version` and `completion` load neither; `status ID` loads only its query.
 */
import type { RemediationClient } from '../client';
import type { Ledger } from '../ports/ledger';
import type { RemediationStatus } from '../temporal-contract';
import { UnreachableError } from './errors';
import { loadHeavy } from './load-heavy';
import { loadStatusQuery } from './load-status-query';
import { run, type ConnectOptions } from './run';

/**
 * The ledger, built on first use: a kubeconfig that cannot be loaded fails the call that needs it
 * (reported as such), not the connection, so `clear` can still leave its check to the worker.
 */
function lazyLedger(make: () => Ledger): Ledger {
  let ledger: Ledger | undefined;
  return new Proxy({} as Ledger, {
    get(_target, property) {
      ledger ??= make();
      const value: unknown = Reflect.get(ledger, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(ledger) : value;
    },
  });
}

async function ledgerFor(where: NonNullable<ConnectOptions['ledger']>): Promise<Ledger> {
  const { loadKubeConfig, KubernetesLedger } = await (await loadHeavy()).ledgerModules();
  const load = () => loadKubeConfig(where.kubeconfig, { context: where.context });
  // A context asked for by name is checked now: an unknown one is a usage mistake, not a reason to
  // leave the check to the worker.
  if (where.context !== undefined) load();
  return lazyLedger(() => new KubernetesLedger(load(), where.namespace));
}

async function connect(options: ConnectOptions): Promise<RemediationClient> {
  const { connectClient } = await loadHeavy();
  const ledger = options.ledger ? await ledgerFor(options.ledger) : undefined;
  try {
    return await connectClient(options, ledger);
  } catch (error) {
    throw new UnreachableError(options.address, options.namespace, error);
  }
}

/** `status ID`: only the query's bundle, not the commands' (the SDK client all the same). */
async function queryStatus(options: ConnectOptions, id: string): Promise<RemediationStatus> {
  const { connectStatusQuery } = await loadStatusQuery();
  let query: Awaited<ReturnType<typeof connectStatusQuery>>;
  try {
    query = await connectStatusQuery(options.connection, options.namespace);
  } catch (error) {
    throw new UnreachableError(options.address, options.namespace, error);
  }
  try {
    return await query.status(id);
  } finally {
    await query.close();
  }
}

async function main(): Promise<number> {
  return run(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() },
    { connect, queryStatus },
  );
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    // run() reports every error itself; reaching here is a bug in the CLI.
    console.error(error);
    process.exitCode = 1;
  });
