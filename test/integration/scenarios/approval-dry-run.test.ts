/**
 * S36 and S37 on the real stack: catalogued actions that need an approval, and actions that only
 * dry-run (action mode DryRun, policy mode Shadow). Approvals go through the real `remediate`
 * CLI; dry runs are submitted to the real API server; nothing may be left running or created.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RemediationActionSpecInput } from '../../../src/domain/catalog';
import { targetKey, type RemediationRequestInput } from '../../../src/domain/request';
import type { RemediationStatus } from '../../../src/temporal-contract';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const exec = promisify(execFile);
const bin = join(__dirname, '../../../bin/remediate.js');

describe('S36/S37: approval and dry runs', () => {
  const h = new RemediationHarness();
  const shadow = new RemediationHarness();
  let pipeline: string;
  const approved = uniqueName('approved');
  const selfless = uniqueName('selfless');
  const dry = uniqueName('dry');
  const dryMissing = uniqueName('dry-missing');
  const plain = uniqueName('plain');
  /** Remediations whose histories are replayed (and recorded with RECORD_HISTORIES=<tag>) at the end. */
  const histories: Record<string, [RemediationHarness, string]> = {};

  beforeAll(async () => {
    await Promise.all([h.open(), shadow.open()]);
    await h.startWorker({ allowUncataloguedActions: false, lockRecheckInterval: '1s' });
    await shadow.startWorker({ allowUncataloguedActions: false, mode: 'Shadow' });
    pipeline = await h.definePipeline('succeed', 300);
    const base: RemediationActionSpecInput = {
      pipeline,
      targetParams: { namespace: '{{ target.namespace }}', name: '{{ target.name }}' },
      params: [{ name: 'reason', pattern: '[a-z ]*', default: 'alert' }],
    };
    await h.defineAction(approved, { ...base, approval: { required: true } });
    await h.defineAction(selfless, { ...base, approval: { required: true, forbidSelfApproval: true } });
    await h.defineAction(dry, { ...base, mode: 'DryRun', serviceAccountName: 'remediation-runner' });
    await h.defineAction(dryMissing, { ...base, pipeline: uniqueName('no-such-pipeline'), mode: 'DryRun' });
    await h.defineAction(plain, base);
    // The shadow worker's catalog cache must see the action too.
    await shadow.defineAction(plain, base);
  });
  afterAll(() => Promise.all([h.close(), shadow.close()]));

  function request(
    harness: RemediationHarness,
    action: string,
    overrides: Partial<RemediationRequestInput> = {},
  ) {
    const base = harness.request({ action, pipeline });
    const { pipeline: _omitted, ...rest } = base.action;
    return { ...base, action: rest, ...overrides } as RemediationRequestInput;
  }

  async function remediate(harness: RemediationHarness, ...args: string[]) {
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: harness.info.temporal.address,
      TEMPORAL_NAMESPACE: harness.info.temporal.namespace,
      REMEDIATION_TASK_QUEUE: harness.taskQueue,
    };
    return exec(process.execPath, [bin, ...args], { env, timeout: 60_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  }

  const awaiting = (s: RemediationStatus) => s.phase === 'Blocked' && s.blockReason === 'AwaitingApproval';

  it('S36 AwaitingApproval holds no lock; approve through the CLI → it runs and Completes; audited', async () => {
    const req = request(h, approved, { requestedBy: 'bob' });
    const id = await h.start(req);
    const blocked = await h.waitFor(id, awaiting, 30_000, 'AwaitingApproval');
    expect(blocked.approval).toMatchObject({ required: true, state: 'Pending', requestedBy: 'bob' });
    expect(blocked.blockKind).toBe('manual');
    const key = targetKey(req.target);
    expect((await h.ledger.getTarget(key)).lock).toBeNull();
    expect(await h.pipelineRunsOf(id)).toEqual([]);
    // Found by search attribute, as the Web UI and `remediate list` do.
    const listed = await remediate(h, 'list', '--reason', 'AwaitingApproval', '--target', key, '--json');
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((r) => r.id)).toEqual([id]);

    histories['approved'] = [h, id];
    const out = await remediate(h, 'approve', id, '--reason', 'looked at the dashboards', '--by', 'alice');
    expect(out.code).toBe(0);
    const final = await h.result(id);
    expect(final).toMatchObject({ phase: 'Completed', approval: { state: 'Approved', by: 'alice' } });
    expect(await h.pipelineRunsOf(id)).toHaveLength(1);
    const audit = (await h.ledger.getTarget(key)).audit;
    expect(audit.find((e) => e.action === 'approve')).toMatchObject({
      by: 'alice',
      reason: 'looked at the dashboards',
      remediationId: id,
    });
  });

  it('S36 reject → Skipped Rejected, nothing ran; a second decision is refused', async () => {
    const id = await h.start(request(h, approved));
    histories['rejected'] = [h, id];
    await h.waitFor(id, awaiting, 30_000, 'AwaitingApproval');
    expect((await remediate(h, 'reject', id, '--reason', 'not during the sale', '--by', 'carol')).code).toBe(
      0,
    );
    const final = await h.result(id);
    expect(final).toMatchObject({ phase: 'Skipped', reason: 'Rejected', pipelineRuns: [] });
    expect(final.message).toBe('rejected by carol: not during the sale');
    const again = await remediate(h, 'approve', id, '--reason', 'changed my mind', '--by', 'carol');
    expect(again.code).toBe(1);
  });

  it('S36 self-approval is refused when the action forbids it; another approver may', async () => {
    const id = await h.start(request(h, selfless, { requestedBy: 'dave' }));
    await h.waitFor(id, awaiting, 30_000, 'AwaitingApproval');
    const self = await remediate(h, 'approve', id, '--reason', 'mine', '--by', 'dave');
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('self-approval refused: dave requested this remediation');
    expect((await h.client.status(id)).approval?.state).toBe('Pending');
    await h.client.approve(id, 'second pair of eyes', 'erin');
    expect(await h.result(id)).toMatchObject({ phase: 'Completed' });
  });

  it('S36 approving an action that needs none is refused; the deadline ends a pending approval Skipped', async () => {
    const id = await h.start(request(h, approved, { deadline: '3s' }));
    await h.waitFor(id, awaiting, 30_000, 'AwaitingApproval');
    const final = await h.result(id, 60_000);
    expect(final).toMatchObject({ phase: 'Skipped', reason: 'DeadlineExceeded', pipelineRuns: [] });

    const runs = await h.start(request(h, plain));
    await h.result(runs);
    await expect(h.client.approve(runs, 'why not', 'frank')).rejects.toThrow();
  });

  it('S37 an action in mode DryRun: wouldRun shows the exact PipelineRun, nothing is created, counters untouched', async () => {
    const req = request(h, dry, { action: { id: dry, params: { reason: 'crash loop' } } });
    const id = await h.start(req);
    histories['dry-run'] = [h, id];
    const final = await h.result(id);
    expect(final).toMatchObject({ phase: 'Skipped', reason: 'DryRun', pipelineRuns: [] });
    expect(final.wouldRun).toMatchObject({
      pipeline,
      params: { namespace: req.target.namespace, name: 'api', reason: 'crash loop' },
      serviceAccountName: 'remediation-runner',
      pipelineExists: true,
      accepted: true,
    });
    expect(await h.pipelineRunNames()).not.toContain(final.wouldRun!.pipelineRun);
    const target = await h.ledger.getTarget(targetKey(req.target));
    expect(target).toMatchObject({
      consecutiveFailures: 0,
      nextAllowedExecution: null,
      lock: null,
      lastSuccess: null,
      lastFailure: null,
    });
    expect(target.lastDryRun).toMatchObject({
      remediationId: id,
      wouldRun: final.wouldRun && { pipelineRun: final.wouldRun.pipelineRun },
    });
  });

  it('S37 a dry run of a missing Pipeline reports it', async () => {
    const final = await h.result(await h.start(request(h, dryMissing)));
    expect(final).toMatchObject({ phase: 'Skipped', reason: 'DryRun', wouldRun: { pipelineExists: false } });
    expect(final.message).toMatch(/does not exist/);
  });

  it('S37 policy mode Shadow makes every action a dry run; list --reason DryRun finds it', async () => {
    const req = request(shadow, plain);
    const id = await shadow.start(req);
    const final = await shadow.result(id);
    expect(final).toMatchObject({
      phase: 'Skipped',
      reason: 'DryRun',
      pipelineRuns: [],
      wouldRun: { pipeline, accepted: true },
    });
    expect(await shadow.pipelineRunsOf(id)).toEqual([]);
    const listed = await remediate(
      shadow,
      'list',
      '--reason',
      'DryRun',
      '--target',
      targetKey(req.target),
      '--json',
    );
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((r) => r.id)).toEqual([id]);
  });

  it('S25: the approved, rejected and dry-run histories replay against the current workflow code', async () => {
    expect(Object.keys(histories).sort()).toEqual(['approved', 'dry-run', 'rejected']);
    for (const [name, [harness, id]] of Object.entries(histories))
      await harness.replayAndMaybeRecord(name, id);
  });
});
