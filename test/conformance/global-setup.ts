/**
 * One conformance stack (src/dev/stack/conformance.ts) for the whole conformance run, in a fresh
 * temp folder; tests find it through CONFORMANCE_STACK_JSON (see stack-env.ts). The first run builds
 * the tools (scripts/provision.sh --profile conformance). STACK_VERBOSE=1 prints the progress.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConformanceStack, type ConformanceStack } from '../../src/dev/stack/conformance';
import { CONFORMANCE_STACK_JSON } from './stack-env';

const KEY = Symbol.for('remediation-orchestrator.conformance-stack');
const holder = globalThis as unknown as Record<symbol, { stack: ConformanceStack; dir: string } | undefined>;

export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'conformance-'));
  const lines: string[] = [];
  const log = (line: string): void => {
    lines.push(line);
    if (process.env.STACK_VERBOSE === '1') process.stderr.write(`[conformance] ${line}\n`);
  };
  const t0 = Date.now();
  try {
    // The Tekton outcome suite needs neither Temporal nor Alertmanager.
    const stack = await startConformanceStack({
      dir: join(dir, 'stack'),
      withTemporal: false,
      withAlertmanager: false,
      log,
    });
    holder[KEY] = { stack, dir };
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
    ] as const) {
      process.once(signal, () => process.exit(code));
    }
    const file = join(dir, 'stack.json');
    writeFileSync(file, JSON.stringify({ ...stack.info, caCert: stack.pki.caCert }, null, 2));
    process.env[CONFORMANCE_STACK_JSON] = file;
  } catch (err) {
    process.stderr.write(lines.map((l) => `[conformance] ${l}\n`).join(''));
    throw err;
  }
  process.stderr.write(
    `\n[conformance] stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (logs ${join(dir, 'stack', 'logs')})\n`,
  );
}

export function takeConformanceStack(): { stack: ConformanceStack; dir: string } | undefined {
  const running = holder[KEY];
  holder[KEY] = undefined;
  return running;
}
