/**
 * The activities over the in-memory fakes (the same fakes the contract suites hold to the real
 * adapters): the atomic routing step, exactly-once recording and release under races.
 */
import { createActivities, type RouteInput } from '../../../src/activities';
import { InMemoryLedger } from '../../../src/adapters/in-memory-ledger';
import { InMemoryPipelineRuns } from '../../../src/adapters/in-memory-pipeline-runs';
import { InMemoryRemediations } from '../../../src/adapters/in-memory-remediations';
import { defaultPolicyConfig } from '../../../src/domain/config';

const T0 = Date.parse('2026-11-27T12:00:00Z');

function setup() {
  const ledger = new InMemoryLedger();
  const remediations = new InMemoryRemediations();
  let clock = T0;
  const activities = createActivities({
    ledger,
    pipelineRuns: new InMemoryPipelineRuns(),
    remediations,
    policy: defaultPolicyConfig,
    executionNamespace: 'remediation-runs',
    clock: () => clock,
  });
  const input = (id: string, over: Partial<RouteInput> = {}): RouteInput => {
    remediations.running.set(`remediation-${id}`, { targetKey: over.targetKey ?? 'prod/Deployment/api' });
    return {
      remediationId: id,
      workflowId: `remediation-${id}`,
      runId: `run-${id}`,
      targetKey: 'prod/Deployment/api',
      fingerprintKey: 'prod/fp-1',
      fingerprint: 'fp-1',
      actionId: 'restart',
      deadline: T0 + 3_600_000,
      overrideActive: false,
      ...over,
    };
  };
  return { ledger, remediations, activities, input, advance: (ms: number) => (clock += ms) };
}

describe('route: passing the checks and taking the lock is one atomic step', () => {
  it('S22: when 20 remediations of one fingerprint race, exactly one runs and 19 end as duplicates of it', async () => {
    const { activities, input, ledger, remediations } = setup();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        activities.route(input(`r${i}`, { targetKey: `prod/Deployment/app-${i}` })),
      ),
    );
    const runs = results.filter((r) => r.verdict.kind === 'run');
    expect(runs).toHaveLength(1);
    const winner = `r${results.indexOf(runs[0]!)}`;
    for (const r of results.filter((x) => x.verdict.kind !== 'run')) {
      expect(r.verdict).toMatchObject({ kind: 'end', reason: 'DuplicateInProgress', duplicateOf: winner });
    }
    const fp = await ledger.getFingerprint('prod/fp-1', 'fp-1');
    expect(fp.active?.remediationId).toBe(winner);
    // The original is told about each duplicate; it persists the count when it releases its claim.
    expect(remediations.duplicates.filter((d) => d.workflowId === `remediation-${winner}`)).toHaveLength(19);
    await activities.finishRemediation({
      ...input(winner, { targetKey: `prod/Deployment/app-${winner.slice(1)}` }),
      phase: 'Completed',
      duplicates: { count: 19, lastAt: new Date(T0).toISOString() },
    });
    expect((await ledger.getFingerprint('prod/fp-1', 'fp-1')).duplicates).toEqual({
      count: 19,
      lastAt: new Date(T0).toISOString(),
    });
  });

  it('S23: when 10 remediations of different fingerprints race for one target, one holds the lock and the rest queue in order', async () => {
    const { activities, input, ledger } = setup();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        activities.route(input(`r${i}`, { fingerprintKey: `prod/fp-${i}`, fingerprint: `fp-${i}` })),
      ),
    );
    expect(results.filter((r) => r.verdict.kind === 'run')).toHaveLength(1);
    expect(
      results.filter((r) => r.verdict.kind === 'wait' && r.verdict.reason === 'ResourceBusy'),
    ).toHaveLength(9);
    const target = await ledger.getTarget('prod/Deployment/api');
    expect(target.lock?.fencingToken).toBe(1);
    expect(target.waiters).toHaveLength(9);
    expect(new Set(target.waiters.map((w) => w.remediationId)).size).toBe(9);
  });

  it('S24: when the lock holder is closed, the next remediation takes over with the next fencing token and the takeover is audited', async () => {
    const { activities, input, remediations, ledger } = setup();
    await activities.route(input('holder'));
    remediations.running.delete('remediation-holder');
    const next = await activities.route(input('next', { fingerprintKey: 'prod/fp-2', fingerprint: 'fp-2' }));
    expect(next).toMatchObject({ verdict: { kind: 'run' }, fencingToken: 2 });
    const target = await ledger.getTarget('prod/Deployment/api');
    expect(target.lock?.remediationId).toBe('next');
    expect(target.audit).toEqual([
      expect.objectContaining({
        action: 'lockTakeover',
        remediationId: 'next',
        details: expect.objectContaining({ previousHolder: 'holder' }),
      }),
    ]);
  });

  it('S11: when the holder releases, the head of the queue is woken', async () => {
    const { activities, input, remediations } = setup();
    const holder = await activities.route(input('holder'));
    await activities.route(
      input('w1', { fingerprintKey: 'prod/fp-2', fingerprint: 'fp-2', actionId: 'scale' }),
    );
    await activities.route(
      input('w2', { fingerprintKey: 'prod/fp-3', fingerprint: 'fp-3', actionId: 'scale' }),
    );
    await activities.recordOutcome({
      ...input('holder'),
      actionId: 'restart',
      pipelineRun: 'rem-holder-1',
      fencingToken: holder.fencingToken!,
      outcome: { succeeded: true },
      jitterSample: 0.5,
    });
    expect(remediations.wakes).toEqual([{ workflowId: 'remediation-w1', cause: 'lock released' }]);
    // w2 arrived later: it stays blocked even though the lock is free.
    const w2 = await activities.route(
      input('w2', { fingerprintKey: 'prod/fp-3', fingerprint: 'fp-3', actionId: 'scale' }),
    );
    expect(w2.verdict).toMatchObject({ kind: 'wait', reason: 'ResourceBusy' });
    const w1 = await activities.route(
      input('w1', { fingerprintKey: 'prod/fp-2', fingerprint: 'fp-2', actionId: 'scale' }),
    );
    expect(w1.verdict.kind).toBe('run');
  });
});

describe('recordOutcome and finishRemediation are exactly-once', () => {
  it('S19: when recordOutcome is retried for the same PipelineRun, the failure is counted once', async () => {
    const { activities, input, ledger } = setup();
    const routed = await activities.route(input('r1'));
    const record = {
      ...input('r1'),
      actionId: 'restart',
      pipelineRun: 'rem-r1-1',
      fencingToken: routed.fencingToken!,
      outcome: {
        succeeded: false as const,
        failure: {
          category: 'ImagePullFailed' as const,
          wasExecutionFailure: false,
          reason: 'TaskRunImagePullFailed',
          message: 'x',
        },
      },
      jitterSample: 0,
    };
    const first = await activities.recordOutcome(record);
    const again = await activities.recordOutcome(record);
    expect(first).toMatchObject({ recorded: true, consecutiveFailures: 1, backoffMs: 54_000 + 6_000 });
    expect(again).toMatchObject({ recorded: false, consecutiveFailures: 1 });
    const target = await ledger.getTarget('prod/Deployment/api');
    expect(target).toMatchObject({
      consecutiveFailures: 1,
      lock: null,
      nextAllowedExecution: new Date(T0 + 60_000).toISOString(),
    });
  });

  it('S5: when a Failed remediation is finished twice, the fingerprint counter moves once', async () => {
    const { activities, input, ledger } = setup();
    await activities.route(input('r1'));
    await activities.finishRemediation({ ...input('r1'), phase: 'Failed' });
    await activities.finishRemediation({ ...input('r1'), phase: 'Failed' });
    const fp = await ledger.getFingerprint('prod/fp-1', 'fp-1');
    expect(fp).toMatchObject({
      consecutiveFailedRemediations: 1,
      active: null,
      lastFailureAt: new Date(T0).toISOString(),
    });
  });

  it('S18: when a Cancelled remediation finishes, it releases the lock and the claim and counts nothing', async () => {
    const { activities, input, ledger } = setup();
    await activities.route(input('r1'));
    await activities.finishRemediation({ ...input('r1'), phase: 'Cancelled' });
    expect(await ledger.getTarget('prod/Deployment/api')).toMatchObject({
      lock: null,
      consecutiveFailures: 0,
    });
    expect(await ledger.getFingerprint('prod/fp-1', 'fp-1')).toMatchObject({
      active: null,
      consecutiveFailedRemediations: 0,
    });
  });
});
