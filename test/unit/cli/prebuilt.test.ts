/**
 * The prebuilt CLI as users run it (bin/remediate.js → dist/cli, built by `npm ci`; the unit
 * project's global setup rebuilds it when a source is newer): cheap commands answer without
 * loading the Temporal or Kubernetes clients, and `--version` says what was built.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '../../..');
const bin = join(root, 'bin/remediate.js');
const run = promisify(execFile);
const remediate = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd: root });

/** Every file the module at `path` imports statically, transitively (not its lazy `import()`s). */
function staticGraph(path: string, seen = new Set<string>()): Set<string> {
  if (seen.has(path)) return seen;
  seen.add(path);
  const code = readFileSync(path, 'utf8');
  for (const m of code.matchAll(
    /(?:^|[;\s}])(?:import|export)\s*(?:[\w${},*\s]+from\s*)?["'](\.[^"']+)["']/g,
  ))
    staticGraph(join(dirname(path), m[1]!), seen);
  return seen;
}

describe('the prebuilt CLI', () => {
  it('loads only a small entry graph before it knows the command (no Temporal, gRPC, zod or Kubernetes code)', () => {
    const graph = [...staticGraph(join(root, 'dist/cli/main.mjs'))];
    const bytes = graph.reduce((sum, file) => sum + statSync(file).size, 0);
    expect(bytes).toBeLessThan(100_000);
    const code = graph.map((file) => readFileSync(file, 'utf8')).join('\n');
    for (const heavy of [
      'grpc.max_receive_message_length',
      'temporal.api.workflowservice',
      'CustomObjectsApi',
    ])
      expect(code).not.toContain(heavy);
    // The commands chunk is there, reached lazily.
    expect(readFileSync(join(root, 'dist/cli/main.mjs'), 'utf8')).toMatch(
      /import\(["']\.\/chunks\/commands-/,
    );
  });

  it('--help prints the usage', async () => {
    const { stdout } = await remediate('--help');
    expect(stdout).toMatch(/^Usage: remediate <command> \[flags\]/);
  });

  it('--version prints the package version and the commit it was built from', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await remediate('--version', '--json');
    const info = JSON.parse(stdout) as { version: string; commit: string | null; node: string };
    expect(info).toEqual({
      version,
      commit: expect.stringMatching(/^[0-9a-f]{12}(-dirty)?$/),
      node: process.version,
    });
    expect((await remediate('--version')).stdout).toBe(
      `remediate ${version} (${info.commit}) node ${process.version}\n`,
    );
  });

  it('completion bash prints the script', async () => {
    const { stdout } = await remediate('completion', 'bash');
    expect(stdout).toContain('complete -o default -F _remediate remediate');
  });
});
