import { CustomObjectsApi } from '@kubernetes/client-node';
import { emptyFingerprintState } from '../../../src/domain/model';
import { fingerprintKey, type RemediationRequestInput } from '../../../src/domain/request';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural, type PipelineRun } from '../../../src/domain/tekton';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const minutes = (n: number) => n * 60_000;

describe('fingerprint checks: ConsecutiveFailures and DuplicateInProgress', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker();
  });
  afterAll(() => h.close());

  async function seedFailures(
    request: RemediationRequestInput,
    count: number,
    lastFailureAt: number,
  ): Promise<void> {
    const key = fingerprintKey(request);
    const state = await h.ledger.getFingerprint(key, request.signal.fingerprint);
    await h.ledger.putFingerprint({
      ...emptyFingerprintState(key, request.signal.fingerprint),
      version: state.version,
      consecutiveFailedRemediations: count,
      lastFailureAt: new Date(lastFailureAt).toISOString(),
    });
  }

  it('S4: 3 failed remediations 10m ago → blocked until lastFailure+1h; a 30m deadline ends Skipped at once; another namespace is not blocked', async () => {
    const pipeline = await h.definePipeline('succeed');
    const fingerprint = uniqueName('fp');
    const lastFailureAt = Date.now() - minutes(10);
    const blocked = h.request({ pipeline, fingerprint });
    await seedFailures(blocked, 3, lastFailureAt);

    const waiting = await h.start(blocked);
    const status = await h.waitForPhase(waiting, 'Blocked');
    expect(status.blockReason).toBe('ConsecutiveFailures');
    expect(Date.parse(status.blockedUntil!)).toBe(lastFailureAt + minutes(60));
    expect(status.message).toMatch(/3/);

    const short = await h.start({
      ...h.request({ pipeline, fingerprint, namespace: blocked.target.namespace, name: 'other' }),
      deadline: '30m',
    });
    const skipped = await h.result(short);
    expect(skipped).toMatchObject({ phase: 'Skipped', reason: 'ConsecutiveFailures', attempts: 0 });
    expect(Date.parse(skipped.blockedUntil!)).toBe(lastFailureAt + minutes(60));

    const elsewhere = await h.start(h.request({ pipeline, fingerprint }));
    expect(await h.result(elsewhere)).toMatchObject({ phase: 'Completed' });
    await h.client.cancel(waiting);
    expect(await h.result(waiting)).toMatchObject({ phase: 'Cancelled' });
  });

  it('S6: B of the same fingerprint is Skipped DuplicateInProgress with duplicateOf = A; A counts 1 duplicate; C in another namespace is no duplicate', async () => {
    const hang = await h.definePipeline('hang');
    const quick = await h.definePipeline('succeed');
    const fingerprint = uniqueName('fp');
    const a = h.request({ pipeline: hang, fingerprint });
    const aId = await h.start(a);
    await h.waitFor(aId, (s) => s.pipelineRuns.length === 1, 30_000, 'A executing');

    const bId = await h.start(
      h.request({ pipeline: quick, fingerprint, namespace: a.target.namespace, name: 'other' }),
    );
    expect(await h.result(bId)).toMatchObject({
      phase: 'Skipped',
      reason: 'DuplicateInProgress',
      duplicateOf: aId,
      attempts: 0,
    });
    expect((await h.waitFor(aId, (s) => s.duplicates === 1, 10_000, 'duplicate count')).duplicates).toBe(1);
    expect((await h.ledger.getFingerprint(fingerprintKey(a), fingerprint)).active?.remediationId).toBe(aId);

    const cId = await h.start(h.request({ pipeline: quick, fingerprint }));
    expect(await h.result(cId)).toMatchObject({ phase: 'Completed', duplicateOf: null });

    await h.client.cancel(aId);
    expect(await h.result(aId)).toMatchObject({ phase: 'Cancelled' });
    // A persisted its duplicate count when it released the fingerprint.
    expect((await h.ledger.getFingerprint(fingerprintKey(a), fingerprint)).duplicates.count).toBe(1);
  });
});

describe('ConsecutiveFailures half-open trial (fingerprint cooldown 20s)', () => {
  const cooldown = 20_000;
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker({ fingerprintCooldown: '20s' });
  });
  afterAll(() => h.close());

  async function seedFailures(request: RemediationRequestInput, count: number, lastFailureAt: number) {
    const key = fingerprintKey(request);
    const state = await h.ledger.getFingerprint(key, request.signal.fingerprint);
    await h.ledger.putFingerprint({
      ...emptyFingerprintState(key, request.signal.fingerprint),
      version: state.version,
      consecutiveFailedRemediations: count,
      lastFailureAt: new Date(lastFailureAt).toISOString(),
    });
  }

  it('S5: after the cooldown one trial run is allowed; a failed trial re-blocks for another full cooldown, and a successful trial after it resets the counter', async () => {
    const failing = await h.definePipeline('fail-step');
    const succeeding = await h.definePipeline('succeed');
    const fingerprint = uniqueName('fp');
    const trial = h.request({ pipeline: failing, fingerprint });
    const key = fingerprintKey(trial);
    await seedFailures(trial, 3, Date.now() - cooldown - 1_000);

    // The cooldown has passed: the trial runs, and fails.
    const first = await h.result(await h.start(trial));
    expect(first).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed', attempts: 1 });
    const afterFailure = await h.ledger.getFingerprint(key, fingerprint);
    expect(afterFailure.consecutiveFailedRemediations).toBe(4);
    const lastFailureAt = Date.parse(afterFailure.lastFailureAt!);
    expect(Date.now() - lastFailureAt).toBeLessThan(cooldown / 2);

    // The next remediation of F (another target of the namespace: the trial's needs manual review)
    // is blocked again, for a whole new cooldown from the trial's failure.
    const nextRequest = {
      ...h.request({ pipeline: succeeding, fingerprint, namespace: trial.target.namespace, name: 'web' }),
      deadline: '5m',
    };
    const next = await h.start(nextRequest);
    const blocked = await h.waitForPhase(next, 'Blocked', 10_000);
    expect(blocked).toMatchObject({
      blockReason: 'ConsecutiveFailures',
      blockKind: 'temporary',
      attempts: 0,
    });
    expect(Date.parse(blocked.blockedUntil!)).toBe(lastFailureAt + cooldown);
    expect(blocked.message).toMatch(/4/);
    // A remediation whose deadline ends before that is Skipped at once, naming when the block lifts.
    const short = await h.start({
      ...h.request({ pipeline: succeeding, fingerprint, namespace: trial.target.namespace, name: 'db' }),
      deadline: '3s',
    });
    const skipped = await h.result(short, 10_000);
    expect(skipped).toMatchObject({ phase: 'Skipped', reason: 'ConsecutiveFailures', attempts: 0 });
    expect(Date.parse(skipped.blockedUntil!)).toBe(lastFailureAt + cooldown);

    // It waits the full cooldown, then gets the next trial run; that one succeeds: counter back to 0.
    const done = await h.result(next, cooldown + 30_000);
    expect(done).toMatchObject({ phase: 'Completed', attempts: 1 });
    const executing = done.timeline.find((t) => t.event === 'executing');
    expect(Date.parse(executing!.at)).toBeGreaterThanOrEqual(lastFailureAt + cooldown);
    const [runName] = await h.pipelineRunsOf(next);
    const pr = (await h.kube.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: TEKTON_GROUP,
      version: TEKTON_VERSION,
      plural: TektonPlural.PipelineRun,
      namespace: h.info.executionNamespace,
      name: runName!,
    })) as PipelineRun;
    expect(Date.parse(pr.metadata.creationTimestamp!)).toBeGreaterThanOrEqual(
      Math.floor((lastFailureAt + cooldown) / 1000) * 1000,
    );
    expect(await h.ledger.getFingerprint(key, fingerprint)).toMatchObject({
      consecutiveFailedRemediations: 0,
      active: null,
    });
  });
});
