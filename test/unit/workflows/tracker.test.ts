/**
 * The `status` query's shape: `verification` and `approval` are always named (null while undecided
 * or when the action has none), so `remediate status --json` and `temporal workflow query` readers
 * can rely on the keys.
 */
import { RemediationTracker } from '../../../src/workflows/tracker';

const init = { id: 'r1', target: 'shop/Deployment/api', fingerprint: 'shop/fp', action: 'restart', at: 0 };

describe('RemediationTracker.status', () => {
  it('names verification, its window end and approval as null for an action without them', () => {
    const status = new RemediationTracker(init).status();
    expect(status).toHaveProperty('verification', null);
    expect(status).toHaveProperty('verificationEndsAt', null);
    expect(status).toHaveProperty('approval', null);
  });

  it('reports the verdict once verification decided', () => {
    const tracker = new RemediationTracker(init);
    tracker.verifying(1_000, 61_000);
    expect(tracker.status()).toMatchObject({
      verification: null,
      verificationEndsAt: '1970-01-01T00:01:01.000Z',
    });
    tracker.verified(2_000, 'Effective', 'the signal resolved');
    expect(tracker.status()).toMatchObject({ verification: 'Effective' });
  });
});
