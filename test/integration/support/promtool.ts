/**
 * Prometheus's promtool, built from its Go module and cached by `scripts/provision.sh promtool`
 * (a lock of its own: it never waits for the stack's tools). The first run builds it (minutes).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const repoRoot = join(__dirname, '../../..');

export interface Promtool {
  path: string;
  version: string;
}

let provisioned: Promise<Promtool> | undefined;

export function provisionPromtool(): Promise<Promtool> {
  provisioned ??= promisify(execFile)('bash', [join(repoRoot, 'scripts/provision.sh'), 'promtool'], {
    cwd: repoRoot,
    maxBuffer: 16 * 1024 * 1024,
  }).then(({ stdout }) => {
    const last = stdout.trim().split('\n').pop() ?? '';
    return (JSON.parse(last) as { promtool: Promtool }).promtool;
  });
  return provisioned;
}

export interface PromtoolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs promtool with `args` (and `input` on stdin); resolves with its exit code and output, never rejects on a non-zero exit. */
export async function promtool(args: string[], input?: string): Promise<PromtoolRun> {
  const { path } = await provisionPromtool();
  return new Promise((resolve, reject) => {
    const child = execFile(
      path,
      args,
      { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}
