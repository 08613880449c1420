/**
 * Everything a command needs beyond ./run.ts: the commands, the Temporal client and, for the
 * commands that read the ledger, the Kubernetes side. The build bundles it apart from the entry
 * (dist/cli/heavy.cjs) and loads it through a V8 code cache (./code-cache.ts); see ./load-heavy.ts.
 */
import { Client } from '@temporalio/client';
import { RemediationClient } from '../client';
import type { Ledger } from '../ports/ledger';
import type { ConnectOptions } from './run';
import { connectTemporal } from './temporal-connect';

export { classify, runCommand } from './commands';

export async function connectClient(options: ConnectOptions, ledger?: Ledger): Promise<RemediationClient> {
  const connection = await connectTemporal(options.connection);
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
