import { rmSync } from 'node:fs';
import { takeConformanceStack } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const running = takeConformanceStack();
  if (!running) return;
  await running.stack.stop();
  if (process.env.REMEDIATION_KEEP_STACK !== '1') rmSync(running.dir, { recursive: true, force: true });
}
