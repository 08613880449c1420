/**
 * Hands the running stack from global-setup to global-teardown. Both run in Jest's main process
 * but as separately loaded modules, so the handle lives on globalThis.
 */
import type { Stack } from '../../../src/dev/stack/stack';

interface Running {
  stack: Stack;
  dir: string;
}

const KEY = Symbol.for('remediation-orchestrator.integration-stack');
const holder = globalThis as unknown as Record<symbol, Running | undefined>;

export function setRunningStack(stack: Stack, dir: string): void {
  holder[KEY] = { stack, dir };
}

export function takeRunningStack(): Running | undefined {
  const running = holder[KEY];
  holder[KEY] = undefined;
  return running;
}
