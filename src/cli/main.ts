/**
 * Entry point of `remediate` (bin/remediate.js): wires {@link run} to the process and to a real
 * RemediationClient.
 */
import { KubernetesLedger } from '../adapters/kubernetes-ledger';
import { RemediationClient } from '../client';
import { loadKubeConfig } from '../k8s/kube';
import { UnreachableError } from './errors';
import { run, type ConnectOptions } from './run';

async function connect(options: ConnectOptions): Promise<RemediationClient> {
  const ledger = options.ledger
    ? new KubernetesLedger(loadKubeConfig(options.ledger.kubeconfig), options.ledger.namespace)
    : undefined;
  try {
    return await RemediationClient.connect({ ...options, ledger });
  } catch (error) {
    throw new UnreachableError(options.address, options.namespace, error);
  }
}

async function main(): Promise<number> {
  return run(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() },
    { connect },
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
