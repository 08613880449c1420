/**
 * The activities over the in-memory fakes (the same fakes the contract suites hold to the real
 * adapters): the atomic routing step, exactly-once recording and release under races.
 */
import { createActivities, type RouteInput, type RouteResult } from '../../../src/activities';
import { InMemoryLedger } from '../../../src/dev/fakes/in-memory-ledger';
import { InMemoryPipelineRuns, VirtualTimer } from '../../../src/dev/fakes/in-memory-pipeline-runs';
import { InMemoryRemediations } from '../../../src/dev/fakes/in-memory-remediations';
import { InMemoryActionCatalog } from '../../../src/dev/fakes/in-memory-action-catalog';
import { defaultPolicyConfig } from '../../../src/domain/config';
import { parseRemediationRequest } from '../../../src/domain/request';

const T0 = Date.parse('2026-11-27T12:00:00Z');

function setup() {
  const ledger = new InMemoryLedger();
  const remediations = new InMemoryRemediations();
  let clock = T0;
  const activities = createActivities({
    ledger,
    pipelineRuns: new InMemoryPipelineRuns(),
    remediations,
    policy: { ...defaultPolicyConfig, allowUncataloguedActions: true },
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

  it('S23: when 10 remediations of different fingerprints race for one target, they queue in order and their PipelineRuns never overlap', async () => {
    // The workflow loop of src/workflows/remediation.ts over these activities, in virtual time:
    // route → (wait for a wake or the re-check) → create → watch → record → finish.
    const timer = new VirtualTimer(T0);
    const ledger = new InMemoryLedger();
    const remediations = new InMemoryRemediations();
    const pipelineRuns = new InMemoryPipelineRuns(timer);
    const namespace = 'remediation-runs';
    pipelineRuns.definePipeline(namespace, 'restart', { outcome: 'succeed', durationMs: 10_000 });
    const activities = createActivities({
      ledger,
      pipelineRuns,
      remediations,
      policy: { ...defaultPolicyConfig, allowUncataloguedActions: true },
      executionNamespace: namespace,
      clock: () => timer.now(),
    });
    const wakes = new Map<string, number>();
    const listeners = new Map<string, () => void>();
    const wake = remediations.wake.bind(remediations);
    remediations.wake = async (workflowId, cause) => {
      await wake(workflowId, cause);
      wakes.set(workflowId, (wakes.get(workflowId) ?? 0) + 1);
      listeners.get(workflowId)?.();
    };
    // At the moment each PipelineRun is created, no other one may still be running (exact, not
    // subject to the second resolution of Tekton's timestamps).
    const created: string[] = [];
    const runningAtCreate: string[][] = [];
    const create = pipelineRuns.create.bind(pipelineRuns);
    pipelineRuns.create = async (request) => {
      const states = await Promise.all(created.map((n) => pipelineRuns.observe(namespace, n)));
      runningAtCreate.push(created.filter((_, i) => states[i]?.state === 'running'));
      created.push(request.name);
      return create(request);
    };
    const acquisitions: { remediationId: string; fencingToken: number; at: number }[] = [];
    const releases: { remediationId: string; at: number }[] = [];

    const refs = Array.from({ length: 10 }, (_, i) => {
      const id = `r${i}`;
      remediations.running.set(`remediation-${id}`, { targetKey: 'prod/Deployment/api' });
      return {
        remediationId: id,
        workflowId: `remediation-${id}`,
        runId: `run-${id}`,
        targetKey: 'prod/Deployment/api',
        fingerprintKey: `prod/fp-${i}`,
        fingerprint: `fp-${i}`,
        // Different actions, so RecentlyRemediated never applies: only the lock orders them.
        actionId: `action-${i}`,
        deadline: T0 + 3_600_000,
        overrideActive: false,
      } satisfies RouteInput;
    });
    const requestOf = (ref: RouteInput) =>
      parseRemediationRequest({
        signal: {
          fingerprint: ref.fingerprint,
          name: 'KubePodCrashLooping',
          severity: 'warning',
          labels: {},
        },
        target: { kind: 'Deployment', name: 'api', namespace: 'prod' },
        action: { id: ref.actionId, pipeline: 'restart', params: {} },
      });
    const wakeOrRecheck = (workflowId: string, seen: number) =>
      new Promise<void>((resolve) => {
        if ((wakes.get(workflowId) ?? 0) !== seen) return resolve();
        const cancel = timer.setTimeout(done, defaultPolicyConfig.lockRecheckIntervalMs);
        function done() {
          cancel();
          listeners.delete(workflowId);
          resolve();
        }
        listeners.set(workflowId, done);
      });

    async function remediate(ref: RouteInput, first: RouteResult, seenFirst: number): Promise<void> {
      let routed = first;
      let seen = seenFirst;
      for (let pass = 1; routed.verdict.kind !== 'run'; pass++) {
        expect(routed.verdict).toMatchObject({ kind: 'wait', reason: 'ResourceBusy' });
        if (pass > 100) throw new Error(`${ref.remediationId} never got the lock`);
        await wakeOrRecheck(ref.workflowId, seen);
        seen = wakes.get(ref.workflowId) ?? 0;
        routed = await activities.route(ref);
      }
      const fencingToken = routed.fencingToken!;
      acquisitions.push({ remediationId: ref.remediationId, fencingToken, at: timer.now() });
      const start = await activities.startPipelineRun({
        ref,
        request: requestOf(ref),
        attempt: 1,
        fencingToken,
      });
      expect(start).toMatchObject({ kind: 'started', created: true });
      const outcome = await pipelineRuns.waitForCompletion(namespace, start.name, {});
      expect(outcome.state).toBe('succeeded');
      await activities.recordOutcome({
        ...ref,
        pipelineRun: start.name,
        fencingToken,
        outcome: { succeeded: true },
        jitterSample: 0.5,
      });
      releases.push({ remediationId: ref.remediationId, at: timer.now() });
      await activities.finishRemediation({ ...ref, phase: 'Completed' });
      remediations.running.delete(ref.workflowId);
    }

    // The race: every remediation routes at once. One takes the lock, nine queue.
    const results = await Promise.all(refs.map((ref) => activities.route(ref)));
    expect(results.filter((r) => r.verdict.kind === 'run')).toHaveLength(1);
    expect(
      results.filter((r) => r.verdict.kind === 'wait' && r.verdict.reason === 'ResourceBusy'),
    ).toHaveLength(9);
    const queued = await ledger.getTarget('prod/Deployment/api');
    expect(queued.lock?.fencingToken).toBe(1);
    expect(queued.waiters).toHaveLength(9);
    expect(new Set(queued.waiters.map((w) => w.remediationId)).size).toBe(9);
    const holder = queued.lock!.remediationId;

    await Promise.all(refs.map((ref, i) => remediate(ref, results[i]!, 0)));

    // Lock acquisitions: in queue order, fencing tokens 1..10, each after the previous release.
    expect(acquisitions.map((a) => a.remediationId)).toEqual([
      holder,
      ...queued.waiters.map((w) => w.remediationId),
    ]);
    expect(acquisitions.map((a) => a.fencingToken)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 1; i < acquisitions.length; i++) {
      expect(releases[i - 1]!.remediationId).toBe(acquisitions[i - 1]!.remediationId);
      expect(acquisitions[i]!.at).toBeGreaterThanOrEqual(releases[i - 1]!.at);
    }
    expect(runningAtCreate).toEqual(Array.from({ length: 10 }, () => []));

    // The PipelineRuns' own times, in fencing-token order: each starts when the previous one has
    // completed or later (Tekton writes whole seconds, so equality is allowed).
    const runs = created
      .map((name) => pipelineRuns.snapshot(namespace, name)!.pipelineRun)
      .map((pr) => ({
        token: Number(pr.metadata.labels!['remediation.dev/fencing-token']),
        start: Date.parse(pr.status!.startTime!),
        end: Date.parse(pr.status!.completionTime!),
      }))
      .sort((a, b) => a.token - b.token);
    expect(runs.map((r) => r.token)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const r of runs) expect(r.end - r.start).toBeGreaterThanOrEqual(10_000);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
    expect(await ledger.getTarget('prod/Deployment/api')).toMatchObject({
      lock: null,
      waiters: [],
      fencingToken: 10,
    });
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

describe('startPipelineRun: the create obeys the catalog as it is now, not as it was at admission', () => {
  function withCatalog() {
    const ledger = new InMemoryLedger();
    const remediations = new InMemoryRemediations();
    const pipelineRuns = new InMemoryPipelineRuns();
    const catalog = new InMemoryActionCatalog();
    catalog.put('restart', { pipeline: 'restart' });
    const activities = createActivities({
      ledger,
      pipelineRuns,
      remediations,
      catalog,
      policy: defaultPolicyConfig,
      executionNamespace: 'remediation-runs',
      clock: () => T0,
    });
    const request = parseRemediationRequest({
      signal: { fingerprint: 'fp-1', name: 'Alert', severity: 'warning' },
      target: { kind: 'Deployment', namespace: 'prod', name: 'api' },
      action: { id: 'restart', params: {} },
    });
    const ref = {
      remediationId: 'r1',
      workflowId: 'remediation-r1',
      targetKey: 'prod/Deployment/api',
      fingerprintKey: 'prod/fp-1',
      fingerprint: 'fp-1',
    };
    remediations.running.set('remediation-r1', { targetKey: ref.targetKey });
    /** Admitted and routed under the plain action: it holds the lock with this token. */
    const admittedAndLocked = async () => {
      expect(await activities.admitAction({ request })).toMatchObject({
        kind: 'allowed',
        action: { mode: 'Enforce', approval: { required: false } },
      });
      const routed = await activities.route({
        ...ref,
        runId: 'run-r1',
        actionId: 'restart',
        deadline: T0 + 3_600_000,
        overrideActive: false,
      });
      expect(routed.verdict.kind).toBe('run');
      return routed.fencingToken!;
    };
    const created: string[] = [];
    const create = pipelineRuns.create.bind(pipelineRuns);
    pipelineRuns.create = async (run) => {
      created.push(run.name);
      return create(run);
    };
    return { ledger, catalog, activities, request, ref, admittedAndLocked, created };
  }

  it('S33: when the operator turns the action into a dry run after admission, nothing is created and the target records no run', async () => {
    const { ledger, catalog, activities, request, ref, admittedAndLocked, created } = withCatalog();
    const fencingToken = await admittedAndLocked();
    catalog.put('restart', { pipeline: 'restart', mode: 'DryRun' });
    const start = await activities.startPipelineRun({
      ref,
      request,
      attempt: 1,
      fencingToken,
      deadline: T0 + 3_600_000,
    });
    expect(start).toMatchObject({
      kind: 'refused',
      reason: 'ActionNotAllowed',
      message: expect.stringContaining('action restart is now a dry run'),
    });
    expect(created).toEqual([]);
    expect((await ledger.getTarget(ref.targetKey)).lock?.run ?? null).toBeNull();
  });

  it('S33: when the action needs an approval after admission, the create is refused unless the remediation holds one', async () => {
    const { catalog, activities, request, ref, admittedAndLocked, created } = withCatalog();
    const fencingToken = await admittedAndLocked();
    catalog.put('restart', { pipeline: 'restart', approval: { required: true } });
    const input = { ref, request, attempt: 1, fencingToken, deadline: T0 + 3_600_000 };
    expect(await activities.startPipelineRun(input)).toMatchObject({
      kind: 'refused',
      reason: 'ActionNotAllowed',
      message: expect.stringContaining('now requires an approval'),
    });
    expect(created).toEqual([]);
    expect(await activities.startPipelineRun({ ...input, approved: true })).toMatchObject({
      kind: 'started',
    });
    expect(created).toHaveLength(1);
  });
});
