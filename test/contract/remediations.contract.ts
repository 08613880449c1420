/**
 * The Remediations port's contract, run against the in-memory fake (unit) and the Temporal adapter
 * (integration), so the fake the activity tests rely on behaves like the real thing.
 */
import type { Remediations } from '../../src/ports/remediations';

export interface RemediationsUnderTest {
  remediations: Remediations;
  /** Starts a running remediation on `targetKey`; returns its workflow id. */
  startRunning(targetKey: string): Promise<string>;
  /** Closes it (terminate). */
  close(workflowId: string): Promise<void>;
  /** Signals of the kind `wake` the workflow received so far. */
  wakesOf(workflowId: string): Promise<number>;
  /** Duplicates the workflow was told about. */
  duplicatesOf(workflowId: string): Promise<number>;
  /** Visibility is eventually consistent in the real adapter: poll until `check` passes. */
  eventually<T>(read: () => Promise<T>, check: (value: T) => boolean): Promise<T>;
  teardown?(): Promise<void>;
}

export function remediationsContract(name: string, setup: () => Promise<RemediationsUnderTest>): void {
  describe(`Remediations contract: ${name}`, () => {
    let t: RemediationsUnderTest;
    beforeAll(async () => {
      t = await setup();
    });
    afterAll(async () => {
      await t.teardown?.();
    });

    const key = (): string => `contract-${Math.random().toString(36).slice(2, 10)}/Deployment/api`;

    it('when a remediation runs, isRunning is true; once closed, false; unknown ids are false', async () => {
      const id = await t.startRunning(key());
      expect(await t.remediations.isRunning(id)).toBe(true);
      await t.close(id);
      expect(await t.remediations.isRunning(id)).toBe(false);
      expect(await t.remediations.isRunning('remediation-does-not-exist')).toBe(false);
    });

    it('when woken or told of a duplicate, the running workflow hears it; a closed or unknown one is ignored', async () => {
      const id = await t.startRunning(key());
      await t.remediations.wake(id, 'contract');
      await t.remediations.notifyDuplicate(id, { remediationId: 'dup-1', at: new Date().toISOString() });
      expect(
        await t.eventually(
          () => t.wakesOf(id),
          (n) => n === 1,
        ),
      ).toBe(1);
      expect(
        await t.eventually(
          () => t.duplicatesOf(id),
          (n) => n === 1,
        ),
      ).toBe(1);
      await t.close(id);
      await expect(t.remediations.wake(id, 'too late')).resolves.toBeUndefined();
      await expect(t.remediations.wake('remediation-does-not-exist', 'x')).resolves.toBeUndefined();
    });

    it('when asked for a target, lists exactly its running remediations', async () => {
      const target = key();
      const a = await t.startRunning(target);
      const b = await t.startRunning(target);
      const other = await t.startRunning(key());
      const ids = await t.eventually(
        () => t.remediations.runningOnTarget(target),
        (list) => list.length === 2,
      );
      expect([...ids].sort()).toEqual([a, b].sort());
      await t.close(a);
      expect(
        await t.eventually(
          () => t.remediations.runningOnTarget(target),
          (list) => list.length === 1,
        ),
      ).toEqual([b]);
      await Promise.all([t.close(b), t.close(other)]);
    });
  });
}
