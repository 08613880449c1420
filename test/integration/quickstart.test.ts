/**
 * The README's first quickstart command, `npm start`, as a user runs it: with no TEMPORAL_ADDRESS
 * or KUBECONFIG it brings up its own local stack, adds the demo Pipelines, prints the Web UI URL and
 * example commands, and runs the worker; a printed example works; Ctrl-C stops everything.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/dev/stack/proc';
import type { StackInfo } from '../../src/dev/stack/stack';

const repoRoot = join(__dirname, '../..');

describe('npm start (quickstart)', () => {
  it('S1: starts the embedded stack and the worker; the printed example runs to Completed; SIGINT leaves no process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remediation-quickstart-'));
    const temporalPort = await freePort();
    const uiPort = await freePort();
    const metricsPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STACK_DIR: dir,
      STACK_TEMPORAL_PORT: String(temporalPort),
      STACK_TEMPORAL_UI_PORT: String(uiPort),
      METRICS_PORT: String(metricsPort),
    };
    delete env.TEMPORAL_ADDRESS;
    delete env.KUBECONFIG;
    delete env.REMEDIATION_STACK_JSON;
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/dev/start.ts')], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 120_000;
      while (!out.includes('"msg":"worker started"') && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(out).toContain(`Temporal Web UI: http://127.0.0.1:${uiPort}`);
      expect(out).toContain('npx remediate start');
      expect(out).toMatch(/"msg":"worker started","taskQueue":"remediation"/);

      const info = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as StackInfo;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          join(repoRoot, 'bin/remediate.js'),
          'start',
          '--fingerprint',
          'demo-1',
          '--target',
          'prod/Deployment/api',
          '--action',
          'restart-deployment',
          '--pipeline',
          'restart-deployment',
          '--wait',
          '--json',
        ],
        {
          cwd: repoRoot,
          env: { ...env, TEMPORAL_ADDRESS: info.temporal.address, KUBECONFIG: info.kubeconfig },
          timeout: 90_000,
        },
      );
      // JSON lines; the last is the final status.
      const final = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as unknown;
      expect(final).toMatchObject({ phase: 'Completed', target: 'prod/Deployment/api' });

      // Prometheus: the SDK's runtime metrics and the product's own counters.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/temporal_workflow_completed_total/);
      expect(metrics).toMatch(/remediation_routing_decisions_total\{[^}]*check="AllPassed"[^}]*result="run"/);
      expect(metrics).toMatch(/remediation_pipelinerun_outcomes_total\{[^}]*category="Succeeded"/);
      expect(metrics).toMatch(/remediation_finished_total\{[^}]*phase="Completed"/);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    const { stdout: ps } = await promisify(execFile)('ps', ['-eo', 'args']);
    expect(ps.split('\n').filter((line) => line.includes(dir))).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
