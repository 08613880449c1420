/**
 * The README's operator walk-through with the real `remediate` CLI (bin/remediate.js) against the
 * real stack: fire a remediation that gets blocked, read why, clear the target, watch it run;
 * override a temporary block; cancel. Exit codes and JSON shapes as the README's CLI section says.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RemediationHarness, uniqueName } from './support/remediation-harness';

const run = promisify(execFile);
const bin = join(__dirname, '../../bin/remediate.js');

describe('remediate CLI on the real stack', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker();
  });
  afterAll(() => h.close());

  async function remediate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: h.info.temporal.address,
      TEMPORAL_NAMESPACE: h.info.temporal.namespace,
      REMEDIATION_TASK_QUEUE: h.taskQueue,
      KUBECONFIG: h.info.kubeconfig,
    };
    try {
      const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env, timeout: 90_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  it('S1/S7: start --wait, a blocked remediation explained by status and target, clear, and it runs', async () => {
    const ok = await h.definePipeline('succeed', 300);
    const broken = await h.definePipeline('fail-step', 300);
    const target = `${uniqueName('prod')}/Deployment/web`;
    // Each step uses its own action: the same action within 5m would wait RecentlyRemediated (S12).
    const common = (action: string) => ['--target', target, '--action', action, '--param', 'name=web'];

    const first = await remediate(
      'start',
      '--fingerprint',
      uniqueName('fp'),
      ...common('restart-deployment'),
      '--pipeline',
      ok,
      '--wait',
    );
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/Completed/);

    const failed = await remediate(
      'start',
      '--fingerprint',
      uniqueName('fp'),
      ...common('scale-deployment'),
      '--pipeline',
      broken,
      '--wait',
      '--json',
    );
    expect(failed.code).toBe(1);
    // JSON lines: the start, one status per phase change, the final status last.
    const stream = failed.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; started?: boolean; phase?: string });
    expect(stream[0]).toMatchObject({ started: true });
    expect(stream.slice(1).map((s) => s.id)).toEqual(stream.slice(1).map(() => stream[0]!.id));
    expect(stream.map((s) => s.phase)).toContain('Executing');
    expect(stream.at(-1)).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed', target });
    // status --wait of an ended remediation: its final status, once.
    const followed = await remediate('status', stream[0]!.id, '--wait', '--json');
    expect(followed.code).toBe(1);
    expect(
      followed.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([stream.at(-1)]);

    const started = await remediate(
      'start',
      '--fingerprint',
      uniqueName('fp'),
      ...common('delete-pod'),
      '--pipeline',
      ok,
      '--json',
    );
    expect(started.code).toBe(0);
    const { id } = JSON.parse(started.stdout) as { id: string };
    await h.waitForPhase(id, 'Blocked');
    const status = await remediate('status', id, '--json');
    expect(JSON.parse(status.stdout)).toMatchObject({
      id,
      phase: 'Blocked',
      blockReason: 'PreviousExecutionFailed',
      blockedUntil: null,
    });
    const blocked = await remediate('list', '--phase', 'Blocked', '--target', target, '--json');
    expect((JSON.parse(blocked.stdout) as { id: string }[]).map((r) => r.id)).toEqual([id]);
    const state = await remediate('target', target, '--json');
    expect(JSON.parse(state.stdout)).toMatchObject({ key: target, manualReviewRequired: true, lock: null });

    const cleared = await remediate('clear', target, '--reason', 'rolled back by hand', '--by', 'alice');
    expect(cleared.code).toBe(0);
    expect((await h.result(id)).phase).toBe('Completed');
    const after = JSON.parse((await remediate('target', target, '--json')).stdout) as { audit: unknown[] };
    expect(after).toMatchObject({ manualReviewRequired: false, consecutiveFailures: 0 });
    expect(after.audit).toContainEqual(expect.objectContaining({ action: 'clear', by: 'alice' }));
  });

  it('S17/S18: override a RecentlyRemediated block; override on ResourceBusy exits 1 with the reason; cancel', async () => {
    const ok = await h.definePipeline('succeed', 300);
    const hang = await h.definePipeline('hang');
    const target = `${uniqueName('prod')}/Deployment/api`;
    /** `remediate start … --json` on this target with a fresh fingerprint; returns the id. */
    const start = async (action: string, pipeline: string): Promise<string> => {
      const out = await remediate(
        'start',
        '--fingerprint',
        uniqueName('fp'),
        '--target',
        target,
        '--action',
        action,
        '--pipeline',
        pipeline,
        '--json',
      );
      expect(out.code).toBe(0);
      return (JSON.parse(out.stdout) as { id: string }).id;
    };

    expect((await h.result(await start('restart', ok))).phase).toBe('Completed');
    const again = await start('restart', ok);
    await h.waitFor(again, (s) => s.blockReason === 'RecentlyRemediated', 30_000, 'RecentlyRemediated');
    expect((await remediate('override', again, '--reason', 'run now', '--by', 'bob')).code).toBe(0);
    expect((await h.result(again)).phase).toBe('Completed');

    const holder = await start('hold', hang);
    await h.waitFor(holder, (s) => s.pipelineRuns.length === 1, 30_000, 'holder executing');
    const waiter = await start('scale', ok);
    await h.waitFor(waiter, (s) => s.blockReason === 'ResourceBusy', 30_000, 'ResourceBusy');
    const refused = await remediate('override', waiter, '--reason', 'please');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ResourceBusy/);

    expect((await remediate('cancel', holder, '--reason', 'wrong action')).code).toBe(0);
    expect((await h.result(holder)).phase).toBe('Cancelled');
    expect((await h.result(waiter)).phase).toBe('Completed');
  });

  it('start --wait on a remediation terminated with the plain temporal CLI exits 1 saying so (text and --json)', async () => {
    const ok = await h.definePipeline('succeed', 300);
    const target = `${uniqueName('prod')}/Deployment/api`;
    const flags = (id: string) => [
      'start',
      '--id',
      id,
      '--fingerprint',
      uniqueName('fp'),
      '--target',
      target,
      '--action',
      'restart',
      '--pipeline',
      ok,
    ];
    // A first run, so that the second waits RecentlyRemediated (5m): a remediation that is waiting.
    const first = await remediate(...flags(uniqueName('first')), '--wait');
    expect(first.code).toBe(0);

    const id = uniqueName('terminated');
    const waiting = remediate(...flags(id), '--wait');
    await h.waitFor(id, (s) => s.blockReason === 'RecentlyRemediated', 30_000, 'RecentlyRemediated');
    // A second follower of the same id (started: false), in --json mode.
    const waitingJson = remediate(...flags(id), '--wait', '--json');
    await new Promise((resolve) => setTimeout(resolve, 3000));

    const { cli, address, namespace } = h.info.temporal;
    const reason = 'stuck, cleaning up by hand';
    const terminated = await run(
      cli,
      [
        'workflow',
        'terminate',
        '--workflow-id',
        `remediation-${id}`,
        '--reason',
        reason,
        '--address',
        address,
        '--namespace',
        namespace,
      ],
      { timeout: 60_000 },
    );
    expect(terminated.stderr).toBe('');

    const text = await waiting;
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`remediation ${id} was terminated (Temporal status TERMINATED): ${reason}`);
    expect(text.stdout).toMatch(/last status: Blocked RecentlyRemediated/);

    const json = await waitingJson;
    expect(json.code).toBe(1);
    // JSON lines: {started: false}, the statuses it saw, and last how the workflow closed.
    const lines = json.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(lines[0]).toMatchObject({ id, started: false });
    const closed = lines.at(-1) as { lastStatus: unknown };
    expect(closed).toMatchObject({
      id,
      workflowId: `remediation-${id}`,
      closed: true,
      temporalStatus: 'TERMINATED',
      reason,
      message: `remediation ${id} was terminated (Temporal status TERMINATED): ${reason}`,
    });
    // Null when this follower's first poll came after the termination (its start-up is not observable).
    if (closed.lastStatus !== null) {
      expect(closed.lastStatus).toMatchObject({ phase: 'Blocked', blockReason: 'RecentlyRemediated' });
    }
  });

  it('clear of a target that was never remediated exits 1 and writes nothing', async () => {
    const target = `${uniqueName('prod')}/Deployment/never`;
    const cleared = await remediate('clear', target, '--reason', 'typo', '--by', 'alice');
    expect(cleared.code).toBe(1);
    expect(cleared.stderr).toContain(`target ${target} has no ledger record: nothing to clear`);
    expect((await h.ledger.getTarget(target)).version).toBeNull();

    const json = await remediate('clear', target, '--reason', 'typo', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'not_found' } });
    expect((await h.ledger.getTarget(target)).version).toBeNull();
  });

  it('S2: invalid input exits 2 naming the field and starts nothing', async () => {
    const bad = await remediate(
      'start',
      '--fingerprint',
      'x',
      '--target',
      'prod/deployment/api',
      '--action',
      'a',
      '--pipeline',
      'p',
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/target\.kind/);
    expect(await h.client.list({ target: 'prod/Deployment/api', fingerprint: 'x' })).toEqual([]);

    for (const [flag, value, field] of [
      ['--deadline', '0s', 'deadline'],
      ['--deadline', '9999h', 'deadline'],
      ['--timeout', '0s', 'action.timeout'],
    ] as const) {
      const out = await remediate(
        'start',
        '--fingerprint',
        'x',
        '--target',
        'prod/Deployment/api',
        '--action',
        'a',
        '--pipeline',
        'p',
        flag,
        value,
      );
      expect(out.code).toBe(2);
      expect(out.stderr).toContain(`${field}: `);
    }
    expect(await h.client.list({ target: 'prod/Deployment/api', fingerprint: 'x' })).toEqual([]);
  });
});
