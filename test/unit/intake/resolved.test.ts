/**
 * S35: Alertmanager's resolved notifications tell the remediations of the fingerprint; the intake
 * answers 200 whether or not anyone was remediating it, and 503 (redeliver) when telling failed.
 */
import { processPayload } from '../../../src/intake/server';
import { fakeStart, fixture, fixtureRoutes } from './support';

describe('resolved notifications', () => {
  it('S35 a resolved alert is passed to resolve with its fingerprint; started nothing', async () => {
    const start = fakeStart();
    const resolve = jest.fn().mockResolvedValue(['r1']);
    const payload = fixture('resolved-crashloop');
    const result = await processPayload(payload, fixtureRoutes(), start, () => {}, resolve);
    expect(resolve).toHaveBeenCalledWith(payload.alerts[0]!.fingerprint);
    expect(start.calls).toEqual([]);
    expect(result.results).toEqual([expect.objectContaining({ outcome: 'resolved', remediationId: 'r1' })]);
    expect(result.summary.resolved).toBe(1);
  });

  it('S35 nobody remediating it: ignored (200); telling fails: error (503, Alertmanager redelivers)', async () => {
    const payload = fixture('resolved-crashloop');
    const none = await processPayload(
      payload,
      fixtureRoutes(),
      fakeStart(),
      () => {},
      jest.fn().mockResolvedValue([]),
    );
    expect(none.results).toEqual([expect.objectContaining({ outcome: 'ignored' })]);
    const failing = jest.fn().mockRejectedValue(new Error('temporal unavailable'));
    const failed = await processPayload(payload, fixtureRoutes(), fakeStart(), () => {}, failing);
    expect(failed.summary.error).toBe(1);
  });

  it('without a resolve function a resolved alert is ignored, as before', async () => {
    const result = await processPayload(fixture('resolved-crashloop'), fixtureRoutes(), fakeStart());
    expect(result.results).toEqual([
      expect.objectContaining({ outcome: 'ignored', reason: 'alert is resolved' }),
    ]);
  });
});
