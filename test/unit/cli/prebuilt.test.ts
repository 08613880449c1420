/**
 * The prebuilt CLI as users run it (bin/remediate.js → dist/cli, built by `npm ci`; the unit
 * project's global setup rebuilds it when a source is newer): cheap commands answer without
 * loading the Temporal or Kubernetes clients, and `--version` says what was built.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '../../..');
const bin = join(root, 'bin/remediate.js');
const run = promisify(execFile);
const remediate = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd: root });

describe('the prebuilt CLI', () => {
  it('has a small entry (no Temporal, gRPC or Kubernetes code) and the commands in a bundle apart', () => {
    const entry = readFileSync(join(root, 'dist/cli/main.js'), 'utf8');
    const commands = readFileSync(join(root, 'dist/cli/heavy.cjs'), 'utf8');
    expect(entry.length).toBeLessThan(100_000);
    for (const heavy of [
      'grpc.max_receive_message_length',
      'temporal.api.workflowservice',
      'CustomObjectsApi',
    ]) {
      expect(entry).not.toContain(heavy);
      expect(commands).toContain(heavy);
    }
    expect(entry).toContain('heavy.cjs');
    // Left out of the commands bundle: the CLI never calls the Temporal Cloud operations API.
    expect(commands).not.toContain('CloudService');
  });

  it('answers `status ID` from a bundle with the query alone: no commands, zod or Kubernetes, a tenth of the protos', () => {
    const entry = readFileSync(join(root, 'dist/cli/main.js'), 'utf8');
    const commands = readFileSync(join(root, 'dist/cli/heavy.cjs'), 'utf8');
    const query = readFileSync(join(root, 'dist/cli/status-query.cjs'), 'utf8');
    expect(entry).toContain('status-query.cjs');
    expect(query).toContain('grpc.max_receive_message_length');
    expect(query).toContain('QueryWorkflowRequest:{fields:');
    // Messages of calls `status` never makes are in the commands bundle only.
    expect(commands).toContain('StartWorkflowExecutionRequest:{fields:');
    expect(query).not.toContain('StartWorkflowExecutionRequest:{fields:');
    expect(query).not.toContain('HistoryEvent:{');
    for (const heavy of ['CustomObjectsApi', 'ZodError', 'runCommand']) expect(query).not.toContain(heavy);
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
