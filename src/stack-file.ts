/**
 * `.stack/stack.json`, written by the local stack (`npm run stack`): clients read their defaults
 * from it. Apart from ./settings.ts so that the CLI reads it without loading zod or yaml.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface StackInfo {
  temporal: { address: string; namespace: string; uiUrl: string; cli: string };
  kubeconfig: string;
  executionNamespace: string;
  controlNamespace: string;
}

export function readStackInfo(path = resolve('.stack/stack.json')): StackInfo | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as StackInfo) : null;
}
