/**
 * Everything a command needs beyond ./run.ts: the commands, the Temporal client and, for the
 * commands that read the ledger, the Kubernetes side. The build bundles it apart from the entry
 * (dist/cli/heavy.cjs) and loads it through a V8 code cache (./code-cache.ts); see ./load-heavy.ts.
 */
import { Client, Connection } from '@temporalio/client';
import { RemediationClient } from '../client';
import type { Ledger } from '../ports/ledger';
import type { ConnectOptions } from './run';

export { classify, runCommand } from './commands';

/** How long the CLI waits for the server's connection before it gives up (the SDK's default). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connection.connect less its GetSystemInfo call: one round trip fewer on every command (the first
 * real call checks the server anyway). It still waits for the channel, so an unreachable server
 * fails here, within the timeout, rather than after the SDK's retries of the first call.
 */
class CliConnection extends Connection {
  ready(): Promise<void> {
    return this.untilReady(Date.now() + CONNECT_TIMEOUT_MS);
  }
}

export async function connectClient(options: ConnectOptions, ledger?: Ledger): Promise<RemediationClient> {
  // lazy() constructs `new this(…)`: a CliConnection.
  const connection = CliConnection.lazy(options.connection) as CliConnection;
  try {
    await connection.ready();
  } catch (error) {
    await connection.close();
    throw error;
  }
  return new RemediationClient(new Client({ connection, namespace: options.namespace }), {
    taskQueue: options.taskQueue,
    ledger,
  });
}

/** The Kubernetes client is the largest dependency: loaded only by `target` and `clear`. */
export async function ledgerModules() {
  const [{ loadKubeConfig }, { KubernetesLedger }] = await Promise.all([
    import('../k8s/kube.js'),
    import('../adapters/kubernetes-ledger.js'),
  ]);
  return { loadKubeConfig, KubernetesLedger };
}
