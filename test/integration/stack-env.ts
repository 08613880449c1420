/**
 * How integration tests reach the stack started by global-setup.ts (or an already running one):
 * REMEDIATION_STACK_JSON names a stack.json in the shape `npm run stack` writes (README).
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { StackInfo } from '../../src/dev/stack/stack';

export const STACK_JSON_ENV = 'REMEDIATION_STACK_JSON';

let cached: StackInfo | undefined;

export function stackInfo(): StackInfo {
  if (cached) return cached;
  const file = process.env[STACK_JSON_ENV];
  if (!file) {
    throw new Error(`${STACK_JSON_ENV} is not set: run integration tests through Jest's integration project`);
  }
  cached = JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
  return cached;
}

/** A fresh KubeConfig for the stack's API server (client-certificate auth). */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(stackInfo().kubeconfig);
  return kc;
}
