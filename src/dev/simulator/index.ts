/**
 * A stand-in for Tekton's controller on an API server that has Tekton's CRDs but no nodes
 *. Never install real Tekton next to it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { TektonSimulator } from './controller';

export { Outcome, SCRIPT_ANNOTATION, type Script } from './script';

export async function startTektonSimulator(opts: {
  kubeConfig: KubeConfig;
  /** All namespaces when omitted. */
  namespace?: string;
  log?: (line: string) => void;
}): Promise<{ stop(): Promise<void> }> {
  const simulator = new TektonSimulator(opts);
  await simulator.start();
  return { stop: () => simulator.stop() };
}
