import { rmSync } from 'node:fs';
import { takeRunningStack } from './support/stack-handle';

export default async function globalTeardown(): Promise<void> {
  const running = takeRunningStack();
  if (!running) return;
  await running.stack.stop();
  if (process.env.REMEDIATION_KEEP_STACK !== '1') rmSync(running.dir, { recursive: true, force: true });
}
