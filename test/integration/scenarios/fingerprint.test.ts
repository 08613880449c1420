import { emptyFingerprintState } from '../../../src/domain/model';
import { fingerprintKey, type RemediationRequestInput } from '../../../src/domain/request';
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

  it('S5: after the 1h cooldown one trial run is allowed; a failed trial re-blocks for an hour, a successful one resets the counter', async () => {
    const failing = await h.definePipeline('fail-step');
    const fingerprint = uniqueName('fp');
    const trial = h.request({ pipeline: failing, fingerprint });
    await seedFailures(trial, 3, Date.now() - minutes(61));

    const first = await h.result(await h.start(trial));
    expect(first).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed', attempts: 1 });
    const afterFailure = await h.ledger.getFingerprint(fingerprintKey(trial), fingerprint);
    expect(afterFailure.consecutiveFailedRemediations).toBe(4);
    expect(Date.now() - Date.parse(afterFailure.lastFailureAt!)).toBeLessThan(minutes(1));

    const next = await h.start({
      ...h.request({ pipeline: failing, fingerprint, namespace: trial.target.namespace, name: 'web' }),
      deadline: '30m',
    });
    expect(await h.result(next)).toMatchObject({ phase: 'Skipped', reason: 'ConsecutiveFailures' });

    const succeeding = await h.definePipeline('succeed');
    const healthy = h.request({ pipeline: succeeding, fingerprint });
    await seedFailures(healthy, 3, Date.now() - minutes(61));
    expect(await h.result(await h.start(healthy))).toMatchObject({ phase: 'Completed' });
    expect(
      (await h.ledger.getFingerprint(fingerprintKey(healthy), fingerprint)).consecutiveFailedRemediations,
    ).toBe(0);
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
