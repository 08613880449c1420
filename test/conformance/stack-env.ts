/** How conformance tests reach the stack global-setup.ts started. */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { ConformanceStackInfo } from '../../src/dev/stack/conformance';

export const CONFORMANCE_STACK_JSON = 'CONFORMANCE_STACK_JSON';

export type ConformanceTestStack = ConformanceStackInfo & {
  caCert: string;
};

export function conformanceStack(): ConformanceTestStack {
  const file = process.env[CONFORMANCE_STACK_JSON];
  if (!file)
    throw new Error(
      `${CONFORMANCE_STACK_JSON} is not set: run these tests through Jest's conformance project`,
    );
  return JSON.parse(readFileSync(file, 'utf8')) as ConformanceTestStack;
}

/** The stack's admin KubeConfig (client certificate in system:masters). */
export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(conformanceStack().kubeconfig);
  return kc;
}
