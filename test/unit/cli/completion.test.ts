/**
 * `remediate completion bash` sourced into a real bash, its function called as bash's programmable
 * completion calls it (COMP_WORDS / COMP_CWORD), and COMPREPLY read back.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completionScript } from '../../../src/cli/completion';
import { run } from '../../../src/cli/run';

const dir = mkdtempSync(join(tmpdir(), 'remediate-completion-'));
const bashScript = join(dir, 'remediate.bash');
writeFileSync(bashScript, completionScript('bash'));

/** What bash offers for the command line `words` (the last one is the word being completed). */
function complete(...words: string[]): string[] {
  const out = execFileSync(
    'bash',
    [
      '--norc',
      '--noprofile',
      '-c',
      'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _remediate; printf "%s\\n" "${COMPREPLY[@]}"',
      'bash',
      bashScript,
      'remediate',
      ...words,
    ],
    { encoding: 'utf8', cwd: dir },
  );
  return out.split('\n').filter(Boolean).sort();
}

describe('bash completion', () => {
  it('registers _remediate for remediate', () => {
    const out = execFileSync(
      'bash',
      ['--norc', '-c', 'source "$1"; complete -p remediate', 'bash', bashScript],
      {
        encoding: 'utf8',
      },
    );
    expect(out.trim()).toBe('complete -o default -F _remediate remediate');
  });

  it('completes the commands', () => {
    expect(complete('')).toEqual(
      [
        'actions',
        'approve',
        'cancel',
        'clear',
        'completion',
        'help',
        'list',
        'override',
        'reject',
        'resolve',
        'start',
        'status',
        'target',
      ].sort(),
    );
    expect(complete('sta')).toEqual(['start', 'status']);
  });

  it('skips global flags and their values before the command', () => {
    expect(complete('--address', 'localhost:7233', '--json', 'li')).toEqual(['list']);
  });

  it("completes a command's own flags and the global ones", () => {
    expect(complete('start', '--wa')).toEqual(['--wait']);
    expect(complete('list', '--ph')).toEqual(['--phase']);
    expect(complete('status', 'r1', '--')).toEqual(expect.arrayContaining(['--wait', '--json', '--address']));
    expect(complete('status', 'r1', '--')).not.toContain('--phase');
  });

  it('completes the values of enum flags', () => {
    expect(complete('list', '--phase', 'Bl')).toEqual(['Blocked']);
    expect(complete('list', '-o', '')).toEqual(['json', 'wide']);
    expect(complete('start', '--severity', '')).toEqual(['critical', 'info', 'warning']);
    expect(complete('completion', '')).toEqual(['bash', 'zsh']);
  });

  it('completes block and end reasons for list --reason only, not the free text of an operator --reason', () => {
    expect(complete('list', '--reason', 'AwaitingAp')).toEqual(['AwaitingApproval']);
    expect(complete('clear', 'prod/Deployment/api', '--reason', 'AwaitingAp')).toEqual([]);
  });

  it('offers nothing after a flag that takes a free value', () => {
    expect(complete('start', '--fingerprint', '')).toEqual([]);
  });

  it('completes file names for --kubeconfig', () => {
    writeFileSync(join(dir, 'kubeconfig.yaml'), '');
    expect(complete('target', '--kubeconfig', 'kubeconf')).toEqual(['kubeconfig.yaml']);
  });
});

describe('zsh completion', () => {
  it('defines _remediate and registers it with compdef, listing every command', () => {
    const script = completionScript('zsh');
    expect(script.startsWith('#compdef remediate\n')).toBe(true);
    expect(script).toContain('compdef _remediate remediate');
    for (const command of ['start', 'status', 'list', 'completion'])
      expect(script).toContain(`(${command}) flags=(`);
  });
});

describe('remediate completion', () => {
  async function completion(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await run(
      ['completion', ...args],
      {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        env: {},
        cwd: dir,
      },
      { connect: () => Promise.reject(new Error('completion must not connect')) },
    );
    return { code, stdout, stderr };
  }

  it('prints the script of the shell asked for', async () => {
    expect(await completion('bash')).toEqual({ code: 0, stdout: completionScript('bash'), stderr: '' });
    expect((await completion('zsh')).stdout).toBe(completionScript('zsh'));
  });

  it.each([[[]], [['fish']], [['bash', 'zsh']]])('when the shell is %j then exits 2', async (args) => {
    const { code, stderr } = await completion(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^remediate: /);
  });
});
