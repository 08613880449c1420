/**
 * One real stack for the whole integration run: fresh temp folder, free ports (never 7233, so a
 * developer's `npm run stack` does not collide), with the Tekton simulator. Tests find it through
 * REMEDIATION_STACK_JSON (see stack-env.ts).
 *
 * Set REMEDIATION_STACK_JSON yourself (e.g. to .stack/stack.json) to reuse a running stack instead;
 * STACK_VERBOSE=1 prints the stack's progress; REMEDIATION_KEEP_STACK=1 keeps the temp folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/dev/stack/proc';
import { startStack } from '../../src/dev/stack/stack';
import buildIfStale from '../support/build-if-stale';
import { STACK_JSON_ENV } from './stack-env';
import { setRunningStack } from './support/stack-handle';

export default async function globalSetup(): Promise<void> {
  // The CLI tests run bin/remediate.js, i.e. the prebuilt dist/.
  buildIfStale();
  if (process.env[STACK_JSON_ENV]) {
    process.stderr.write(`\n[integration] using the existing stack in ${process.env[STACK_JSON_ENV]}\n`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'remediation-stack-'));
  const lines: string[] = [];
  const verbose = process.env.STACK_VERBOSE === '1';
  const log = (line: string): void => {
    lines.push(line);
    if (verbose) process.stderr.write(`[stack] ${line}\n`);
  };
  const t0 = Date.now();
  const temporalPort = await freePort();
  let temporalUiPort = await freePort();
  while (temporalUiPort === temporalPort) temporalUiPort = await freePort();
  try {
    const stack = await startStack({
      dir,
      temporalPort,
      temporalUiPort,
      withSimulator: true,
      ephemeral: true,
      log,
    });
    setRunningStack(stack, dir);
    // Node dies on SIGTERM/SIGHUP without 'exit' handlers; exiting instead lets proc.ts kill the servers.
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
    ] as const) {
      process.once(signal, () => process.exit(code));
    }
  } catch (err) {
    // The progress tells why (e.g. a provisioning failure); it is quiet otherwise.
    process.stderr.write(lines.map((l) => `[stack] ${l}\n`).join(''));
    throw err;
  }
  process.env[STACK_JSON_ENV] = join(dir, 'stack.json');
  // Always show which real binaries (and versions) the run used.
  const tools = lines.filter((l) => /^\[provision\] (temporal|etcd|apiserver): /.test(l));
  process.stderr.write(`\n${tools.map((l) => `[integration] ${l}`).join('\n')}`);
  process.stderr.write(
    `\n[integration] stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (temporal 127.0.0.1:${temporalPort}, logs ${join(dir, 'logs')})\n`,
  );
}
