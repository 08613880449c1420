/**
 * What every Ledger must do (src/ports/ledger.ts), run against the in-memory fake (unit) and the
 * Kubernetes adapter on a real API server (integration). Each test uses fresh keys, so the suite
 * also runs against a store that other tests share.
 */
import { randomBytes } from 'node:crypto';

import {
  emptyBudgetState,
  emptyFingerprintState,
  emptyTargetState,
  type AuditEntry,
  type BudgetState,
  type FingerprintState,
  type TargetState,
} from '../../src/domain/model';
import {
  type Ledger,
  LedgerConflictError,
  LedgerInvalidStateError,
  LedgerRecordDeletedError,
  MAX_AUDIT_BY_LENGTH,
  MAX_AUDIT_ENTRIES,
  MAX_AUDIT_REASON_LENGTH,
  MAX_BUDGET_ENTRIES,
} from '../../src/ports/ledger';

export type LedgerRecordKind = 'target' | 'fingerprint';

export interface LedgerUnderTest {
  ledger: Ledger;
  /** Deletes the record as `kubectl delete` would (the store's finalizer keeps it). */
  requestDeletion(kind: LedgerRecordKind, key: string): Promise<void>;
  /** Removes the record outright, as if someone took its finalizer off; resolves once it is gone. */
  forceRemoval(kind: LedgerRecordKind, key: string): Promise<void>;
  teardown?(): Promise<void>;
}

/** Every field set, every nullable field non-null, optional audit fields both present and absent. */
export function maximalTargetState(key: string): TargetState {
  return {
    key,
    version: null,
    consecutiveFailures: 3,
    nextAllowedExecution: '2026-01-02T03:08:05.678Z',
    lastFailure: {
      category: 'ImagePullFailed',
      wasExecutionFailure: false,
      reason: 'TaskRunImagePullFailed',
      message: 'back-off pulling image "registry.invalid/fix:1"',
      pipelineRun: 'rem-abc-3',
      remediationId: 'abc',
      at: '2026-01-02T03:04:05.678Z',
    },
    lastSuccess: {
      actionId: 'restart-deployment',
      remediationId: 'xyz',
      pipelineRun: 'rem-xyz-1',
      at: '2026-01-01T00:00:00Z',
    },
    lastDryRun: {
      actionId: 'restart-deployment',
      remediationId: 'dry',
      at: '2026-01-01T00:01:00Z',
      wouldRun: {
        pipelineRun: 'rem-dry-1-1',
        pipeline: 'restart-deployment',
        params: { namespace: 'prod', name: 'api' },
        serviceAccountName: 'remediation-runner',
      },
      pipelineExists: true,
      accepted: false,
      rejection: 'spec.timeouts.pipeline: invalid duration',
    },
    manualReview: {
      required: true,
      reason: 'step failed',
      since: '2026-01-02T03:04:05.678Z',
      remediationId: 'def',
    },
    lock: {
      remediationId: 'ghi',
      workflowId: 'remediation-ghi',
      runId: '0f7c9a1e-3b1d-4c55-9a8e-2f1f4f7d9b10',
      acquiredAt: '2026-01-02T03:05:00.000Z',
      fencingToken: 7,
      run: { pipelineRun: 'rem-ghi-1', notAfter: '2026-01-02T04:10:00.000Z' },
    },
    fencingToken: 7,
    waiters: [
      {
        remediationId: 'w1',
        workflowId: 'remediation-w1',
        since: '2026-01-02T03:05:01.000Z',
        parked: { reason: 'ExponentialBackoff', until: '2026-01-02T03:09:00.000Z' },
      },
      {
        remediationId: 'w2',
        workflowId: 'remediation-w2',
        since: '2026-01-02T03:05:02.000Z',
        parked: { reason: 'RecentlyRemediated', until: '2026-01-02T03:20:00.000Z' },
      },
    ],
    unsettled: {
      remediationId: 'old',
      workflowId: 'remediation-old',
      pipelineRun: 'rem-old-2',
      fencingToken: 6,
      notAfter: '2026-01-02T04:00:00.000Z',
      since: '2026-01-02T03:04:59.000Z',
    },
    recordedThrough: 5,
    auditDropped: 12,
    audit: [
      {
        action: 'lockTakeover',
        by: 'system',
        reason: 'holder workflow closed',
        at: '2026-01-02T03:05:00.000Z',
        remediationId: 'ghi',
        details: { previousHolder: 'old', previousFencingToken: 6, terminated: true, note: null },
      },
      { action: 'clear', by: 'alice', reason: 'fixed the image by hand', at: '2026-01-02T03:06:00.000Z' },
      {
        action: 'orphanSettled',
        by: 'system',
        reason: 'PipelineRun of a closed remediation finished',
        at: '2026-01-02T03:07:00.000Z',
        remediationId: 'old',
        details: { pipelineRun: 'rem-old-2', fencingToken: 6 },
      },
    ],
  };
}

export function maximalFingerprintState(key: string, fingerprint: string): FingerprintState {
  return {
    key,
    version: null,
    fingerprint,
    consecutiveFailedRemediations: 2,
    lastFailureAt: '2026-01-02T03:04:05.678Z',
    active: { remediationId: 'abc', workflowId: 'remediation-abc', since: '2026-01-02T03:00:00.000Z' },
    duplicates: { count: 4, lastAt: '2026-01-02T03:01:00.000Z' },
  };
}

function withoutVersion<S extends { version: string | null }>(state: S): Omit<S, 'version'> {
  const { version: _version, ...rest } = state;
  return rest;
}

function auditEntries(n: number, from = 0): AuditEntry[] {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j;
    return {
      action: 'override' as const,
      by: 'bob',
      reason: `override #${i}`,
      at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    };
  });
}

export function ledgerContract(name: string, setup: () => Promise<LedgerUnderTest>): void {
  describe(`Ledger contract: ${name}`, () => {
    let subject: LedgerUnderTest;
    let ledger: Ledger;
    let run: string;
    // Keys as they really look: namespaced, cluster-prefixed, upper-case Kinds.
    const targetKey = (n = 0) => `cluster-a::ns-${run}/Deployment/api-${n}`;
    const fingerprintKey = (n = 0) => `cluster-a::ns-${run}/HighErrorRate-${n}`;

    beforeEach(async () => {
      subject = await setup();
      ledger = subject.ledger;
      run = randomBytes(4).toString('hex');
    });
    afterEach(async () => {
      await subject.teardown?.();
    });

    describe('targets', () => {
      it('when the record is missing, returns the empty state with version null', async () => {
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(emptyTargetState(targetKey()));
      });

      it('when created, returns the state with a version and reads it back', async () => {
        const written = await ledger.putTarget({ ...emptyTargetState(targetKey()), consecutiveFailures: 1 });
        expect(written.version).toEqual(expect.any(String));
        expect(written).toEqual({
          ...emptyTargetState(targetKey()),
          consecutiveFailures: 1,
          version: written.version,
        });
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(written);
      });

      it('when created twice, the second create conflicts and changes nothing', async () => {
        const first = await ledger.putTarget({ ...emptyTargetState(targetKey()), consecutiveFailures: 1 });
        await expect(
          ledger.putTarget({ ...emptyTargetState(targetKey()), consecutiveFailures: 2 }),
        ).rejects.toBeInstanceOf(LedgerConflictError);
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(first);
      });

      it('when updated with the current version, stores it under a new version', async () => {
        const created = await ledger.putTarget(emptyTargetState(targetKey()));
        const updated = await ledger.putTarget({ ...created, consecutiveFailures: 2, fencingToken: 1 });
        expect(updated.version).not.toEqual(created.version);
        expect(updated).toEqual({
          ...created,
          consecutiveFailures: 2,
          fencingToken: 1,
          version: updated.version,
        });
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(updated);
      });

      it('when two writers read the same version, the second write conflicts and the first one stays', async () => {
        await ledger.putTarget(emptyTargetState(targetKey()));
        const a = await ledger.getTarget(targetKey());
        const b = await ledger.getTarget(targetKey());
        const aWrote = await ledger.putTarget({ ...a, consecutiveFailures: 1 });
        const error = await ledger
          .putTarget({ ...b, manualReview: null, fencingToken: 9 })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LedgerConflictError);
        expect((error as LedgerConflictError).key).toBe(targetKey());
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(aWrote);
      });

      it('when updated with a version of a record that does not exist, refuses as deleted and creates nothing', async () => {
        const created = await ledger.putTarget(emptyTargetState(targetKey(1)));
        const error = await ledger
          .putTarget({ ...emptyTargetState(targetKey(2)), version: created.version })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LedgerRecordDeletedError);
        expect(error).not.toBeInstanceOf(LedgerConflictError);
        expect((error as LedgerRecordDeletedError).key).toBe(targetKey(2));
        await expect(ledger.getTarget(targetKey(2))).resolves.toEqual(emptyTargetState(targetKey(2)));
      });

      it('when every field is set, a round trip deep-equals the input', async () => {
        const maximal = maximalTargetState(targetKey());
        const written = await ledger.putTarget(maximal);
        expect(withoutVersion(written)).toEqual(withoutVersion(maximal));
        const read = await ledger.getTarget(targetKey());
        expect(read).toEqual(written);
        // toEqual ignores undefined properties; absent optional audit fields must stay absent.
        expect(read.audit[1]).toStrictEqual(maximal.audit[1]);
        expect(read.audit[0]?.details).toStrictEqual(maximal.audit[0]?.details);
      });

      it('when nullable fields go back to null, the nulls are stored (not pruned, not kept from before)', async () => {
        const written = await ledger.putTarget(maximalTargetState(targetKey()));
        const cleared: TargetState = {
          ...written,
          nextAllowedExecution: null,
          lastFailure: { ...maximalTargetState(targetKey()).lastFailure!, pipelineRun: null },
          lastSuccess: null,
          manualReview: null,
          lock: null,
          waiters: [],
          unsettled: null,
          recordedThrough: 0,
          audit: [],
          auditDropped: 0,
        };
        const stored = await ledger.putTarget(cleared);
        expect(stored).toStrictEqual({ ...cleared, version: stored.version });
        await expect(ledger.getTarget(targetKey())).resolves.toStrictEqual(stored);
      });

      it('when nested nullable fields (lock.run, waiters[].parked) go back to null, the nulls are stored', async () => {
        const written = await ledger.putTarget(maximalTargetState(targetKey()));
        const cleared: TargetState = {
          ...written,
          lock: { ...written.lock!, run: null },
          waiters: written.waiters.map((w) => ({ ...w, parked: null })),
        };
        const stored = await ledger.putTarget(cleared);
        expect(stored).toStrictEqual({ ...cleared, version: stored.version });
        await expect(ledger.getTarget(targetKey())).resolves.toStrictEqual(stored);
      });

      it('when optional nested fields are left out, they read back as null', async () => {
        const { run: _run, ...lock } = maximalTargetState(targetKey()).lock!;
        const written = await ledger.putTarget({
          ...emptyTargetState(targetKey()),
          lock,
          waiters: [{ remediationId: 'w1', workflowId: 'remediation-w1', since: '2026-01-02T03:05:01.000Z' }],
        });
        const expected = {
          lock: { ...lock, run: null },
          waiters: [
            {
              remediationId: 'w1',
              workflowId: 'remediation-w1',
              since: '2026-01-02T03:05:01.000Z',
              parked: null,
            },
          ],
        };
        expect(written).toMatchObject(expected);
        expect((await ledger.getTarget(targetKey())).lock).toStrictEqual(expected.lock);
        expect((await ledger.getTarget(targetKey())).waiters).toStrictEqual(expected.waiters);
      });

      it(`when the audit trail grows past ${MAX_AUDIT_ENTRIES}, keeps the newest ${MAX_AUDIT_ENTRIES} and counts the dropped ones`, async () => {
        const audit = auditEntries(MAX_AUDIT_ENTRIES + 10);
        const written = await ledger.putTarget({ ...emptyTargetState(targetKey()), audit });
        expect(written.audit).toEqual(audit.slice(10));
        expect(written.auditDropped).toBe(10);
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(written);

        // The count accumulates over writes; a write within the bound drops (and adds) nothing.
        const more = await ledger.putTarget({
          ...written,
          audit: [...written.audit, ...auditEntries(3, 60)],
        });
        expect(more.audit).toEqual([...audit.slice(13), ...auditEntries(3, 60)]);
        expect(more.auditDropped).toBe(13);
        const same = await ledger.putTarget({ ...more, consecutiveFailures: 1 });
        expect(same.auditDropped).toBe(13);
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(same);
      });

      it(`when an audit entry's by or reason is too long, refuses the write`, async () => {
        const created = await ledger.putTarget(emptyTargetState(targetKey()));
        const [entry] = auditEntries(1);
        for (const tooLong of [
          { ...entry!, by: 'b'.repeat(MAX_AUDIT_BY_LENGTH + 1) },
          { ...entry!, reason: 'r'.repeat(MAX_AUDIT_REASON_LENGTH + 1) },
        ]) {
          await expect(ledger.putTarget({ ...created, audit: [tooLong] })).rejects.toBeInstanceOf(
            LedgerInvalidStateError,
          );
        }
        // At the bound exactly, counted in characters: astral characters are one each.
        const atBound = {
          ...entry!,
          by: '🔧'.repeat(MAX_AUDIT_BY_LENGTH),
          reason: 'é'.repeat(MAX_AUDIT_REASON_LENGTH),
        };
        const written = await ledger.putTarget({ ...created, audit: [atBound] });
        expect(written.audit).toEqual([atBound]);
      });

      it.each([['consecutiveFailures'], ['fencingToken'], ['recordedThrough'], ['auditDropped']] as const)(
        'when %s is negative, refuses the write and keeps the stored state',
        async (counter) => {
          const created = await ledger.putTarget(emptyTargetState(targetKey()));
          await expect(ledger.putTarget({ ...created, [counter]: -1 })).rejects.toBeInstanceOf(
            LedgerInvalidStateError,
          );
          await expect(ledger.getTarget(targetKey())).resolves.toEqual(created);
        },
      );

      it('when keys differ only in case, they are different records', async () => {
        const upper = `ns-${run}/Deployment/api`;
        const lower = `ns-${run}/deployment/api`;
        await ledger.putTarget({ ...emptyTargetState(upper), consecutiveFailures: 1 });
        await expect(ledger.getTarget(lower)).resolves.toEqual(emptyTargetState(lower));
        await ledger.putTarget({ ...emptyTargetState(lower), consecutiveFailures: 2 });
        expect((await ledger.getTarget(upper)).consecutiveFailures).toBe(1);
        expect((await ledger.getTarget(lower)).consecutiveFailures).toBe(2);
      });

      it('when a returned state is mutated by the caller, the stored state does not change', async () => {
        const written = await ledger.putTarget(maximalTargetState(targetKey()));
        const snapshot = structuredClone(written);
        written.waiters.push({ remediationId: 'intruder', workflowId: 'x', since: '2026-01-01T00:00:00Z' });
        written.lock!.fencingToken = 99;
        written.lock!.run!.pipelineRun = 'changed';
        written.unsettled!.fencingToken = 99;
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(snapshot);
      });

      it('lists every stored target with its version', async () => {
        const a = await ledger.putTarget(maximalTargetState(targetKey(1)));
        const b = await ledger.putTarget({ ...emptyTargetState(targetKey(2)), consecutiveFailures: 4 });
        const listed = await ledger.listTargets();
        expect(listed).toEqual(expect.arrayContaining([a, b]));
        expect(listed.every((t) => t.version !== null)).toBe(true);
      });
    });

    describe('fingerprints', () => {
      const fp = 'HighErrorRate';

      it('when the record is missing, returns the empty state with version null', async () => {
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toEqual(
          emptyFingerprintState(fingerprintKey(), fp),
        );
      });

      it('when created, reads it back; creating again conflicts', async () => {
        const written = await ledger.putFingerprint({
          ...emptyFingerprintState(fingerprintKey(), fp),
          consecutiveFailedRemediations: 1,
        });
        expect(written.version).toEqual(expect.any(String));
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toEqual(written);
        await expect(
          ledger.putFingerprint(emptyFingerprintState(fingerprintKey(), fp)),
        ).rejects.toBeInstanceOf(LedgerConflictError);
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toEqual(written);
      });

      it('when two writers read the same version, the second write conflicts and the first one stays', async () => {
        await ledger.putFingerprint(emptyFingerprintState(fingerprintKey(), fp));
        const a = await ledger.getFingerprint(fingerprintKey(), fp);
        const b = await ledger.getFingerprint(fingerprintKey(), fp);
        const aWrote = await ledger.putFingerprint({
          ...a,
          active: { remediationId: 'a', workflowId: 'remediation-a', since: '2026-01-01T00:00:00.000Z' },
        });
        await expect(
          ledger.putFingerprint({
            ...b,
            active: { remediationId: 'b', workflowId: 'remediation-b', since: '2026-01-01T00:00:00.000Z' },
          }),
        ).rejects.toBeInstanceOf(LedgerConflictError);
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toEqual(aWrote);
      });

      it('when every field is set and then cleared, both round trips deep-equal', async () => {
        const maximal = maximalFingerprintState(fingerprintKey(), fp);
        const written = await ledger.putFingerprint(maximal);
        expect(withoutVersion(written)).toStrictEqual(withoutVersion(maximal));
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toStrictEqual(written);

        const cleared: FingerprintState = {
          ...written,
          consecutiveFailedRemediations: 0,
          lastFailureAt: null,
          active: null,
          duplicates: { count: 0, lastAt: null },
        };
        const stored = await ledger.putFingerprint(cleared);
        expect(stored).toStrictEqual({ ...cleared, version: stored.version });
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toStrictEqual(stored);
      });

      it('when a counter is negative, refuses the write', async () => {
        await expect(
          ledger.putFingerprint({
            ...emptyFingerprintState(fingerprintKey(), fp),
            duplicates: { count: -1, lastAt: null },
          }),
        ).rejects.toBeInstanceOf(LedgerInvalidStateError);
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toEqual(
          emptyFingerprintState(fingerprintKey(), fp),
        );
      });

      it('keeps the same fingerprint in two namespaces apart', async () => {
        const here = `ns-${run}-a/${fp}`;
        const there = `ns-${run}-b/${fp}`;
        await ledger.putFingerprint({ ...emptyFingerprintState(here, fp), consecutiveFailedRemediations: 3 });
        await expect(ledger.getFingerprint(there, fp)).resolves.toEqual(emptyFingerprintState(there, fp));
      });
    });

    describe('budgets', () => {
      const budgetKey = () => `ns-${run}:prod-${run}`;
      const empty = () => emptyBudgetState(budgetKey(), `ns-${run}`, 'namespace', `prod-${run}`);
      const maximal = (): BudgetState => ({
        ...empty(),
        holders: [
          {
            remediationId: 'r1',
            workflowId: 'remediation-r1',
            runId: 'run-1',
            targetKey: targetKey(1),
            fencingToken: 7,
            since: '2026-01-01T00:00:00.000Z',
          },
        ],
        starts: [{ remediationId: 'r1', at: '2026-01-01T00:00:00.000Z' }],
        waiters: [{ remediationId: 'r2', workflowId: 'remediation-r2', since: '2026-01-01T00:00:01.000Z' }],
      });

      it('when the record is missing, returns the empty state it was asked with, version null', async () => {
        await expect(ledger.getBudget(empty())).resolves.toEqual(empty());
      });

      it('when every field is set, a round trip deep-equals it; emptied lists are stored empty', async () => {
        const written = await ledger.putBudget(maximal());
        expect(withoutVersion(written)).toStrictEqual(withoutVersion(maximal()));
        await expect(ledger.getBudget(empty())).resolves.toStrictEqual(written);
        const emptied = await ledger.putBudget({ ...written, holders: [], starts: [], waiters: [] });
        await expect(ledger.getBudget(empty())).resolves.toStrictEqual(emptied);
        expect(emptied.holders).toEqual([]);
      });

      it('when two writers read the same version, the second write conflicts and the first one stays', async () => {
        await ledger.putBudget(empty());
        const a = await ledger.getBudget(empty());
        const b = await ledger.getBudget(empty());
        const aWrote = await ledger.putBudget({
          ...a,
          starts: [{ remediationId: 'a', at: '2026-01-01T00:00:00.000Z' }],
        });
        await expect(
          ledger.putBudget({ ...b, starts: [{ remediationId: 'b', at: '2026-01-01T00:00:00.000Z' }] }),
        ).rejects.toBeInstanceOf(LedgerConflictError);
        await expect(ledger.getBudget(empty())).resolves.toEqual(aWrote);
        await expect(ledger.putBudget(empty())).rejects.toBeInstanceOf(LedgerConflictError);
      });

      it(`when a list has more than ${MAX_BUDGET_ENTRIES} entries, refuses the write naming it`, async () => {
        const waiters = Array.from({ length: MAX_BUDGET_ENTRIES + 1 }, (_, i) => ({
          remediationId: `r${i}`,
          workflowId: `remediation-r${i}`,
          since: '2026-01-01T00:00:00.000Z',
        }));
        await expect(ledger.putBudget({ ...empty(), waiters })).rejects.toThrow(/waiters/);
        await expect(ledger.getBudget(empty())).resolves.toEqual(empty());
      });

      it('lists every stored budget with its version', async () => {
        const written = await ledger.putBudget(maximal());
        const listed = await ledger.listBudgets();
        expect(listed).toContainEqual(written);
      });
    });

    describe('deletion: a record in use is never lost nor recreated empty', () => {
      const fp = 'HighErrorRate';

      it('when an in-use target is deleted, it still reads back whole: lock, manual review, counters, token', async () => {
        const written = await ledger.putTarget(maximalTargetState(targetKey()));
        await subject.requestDeletion('target', targetKey());
        const read = await ledger.getTarget(targetKey());
        expect(read.version).toEqual(expect.any(String));
        expect(withoutVersion(read)).toStrictEqual(withoutVersion(written));
        expect(await ledger.listTargets()).toContainEqual(read);
      });

      it('when a deleted target is written, the write lands and the fencing token keeps growing', async () => {
        const written = await ledger.putTarget(maximalTargetState(targetKey()));
        await subject.requestDeletion('target', targetKey());
        // The deletion was itself a change: a write from before it conflicts, a re-read one lands.
        await expect(ledger.putTarget({ ...written, consecutiveFailures: 0 })).rejects.toBeInstanceOf(
          LedgerConflictError,
        );
        const read = await ledger.getTarget(targetKey());
        const released = await ledger.putTarget({ ...read, lock: null, recordedThrough: 7 });
        const next = read.fencingToken + 1;
        const reacquired = await ledger.putTarget({
          ...released,
          lock: { ...read.lock!, remediationId: 'next', fencingToken: next, run: null },
          fencingToken: next,
        });
        expect(reacquired.fencingToken).toBe(8);
        const again = await ledger.getTarget(targetKey());
        expect(again).toStrictEqual(reacquired);
        expect(again.manualReview).toStrictEqual(written.manualReview);
        expect(again.consecutiveFailures).toBe(written.consecutiveFailures);
      });

      it('when a target is removed outright, a write of what was read refuses as deleted and recreates nothing', async () => {
        await ledger.putTarget(maximalTargetState(targetKey()));
        await subject.requestDeletion('target', targetKey());
        const read = await ledger.getTarget(targetKey());
        await subject.forceRemoval('target', targetKey());

        const error = await ledger
          .putTarget({ ...read, fencingToken: read.fencingToken + 1 })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LedgerRecordDeletedError);
        expect(error).not.toBeInstanceOf(LedgerConflictError);
        expect((error as LedgerRecordDeletedError).key).toBe(targetKey());
        expect((error as Error).message).toContain(targetKey());
        await expect(ledger.getTarget(targetKey())).resolves.toEqual(emptyTargetState(targetKey()));
        expect((await ledger.listTargets()).map((t) => t.key)).not.toContain(targetKey());
      });

      it('when an in-use fingerprint is deleted, its claim and counters stay and it stays writable', async () => {
        const written = await ledger.putFingerprint(maximalFingerprintState(fingerprintKey(), fp));
        await subject.requestDeletion('fingerprint', fingerprintKey());
        const read = await ledger.getFingerprint(fingerprintKey(), fp);
        expect(withoutVersion(read)).toStrictEqual(withoutVersion(written));
        const updated = await ledger.putFingerprint({
          ...read,
          duplicates: { count: 5, lastAt: '2026-01-02T03:02:00.000Z' },
        });
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toStrictEqual(updated);
      });

      it('when a fingerprint is removed outright, a write of what was read refuses as deleted and recreates nothing', async () => {
        await ledger.putFingerprint(maximalFingerprintState(fingerprintKey(), fp));
        await subject.requestDeletion('fingerprint', fingerprintKey());
        const read = await ledger.getFingerprint(fingerprintKey(), fp);
        await subject.forceRemoval('fingerprint', fingerprintKey());

        await expect(ledger.putFingerprint({ ...read, active: null })).rejects.toBeInstanceOf(
          LedgerRecordDeletedError,
        );
        await expect(ledger.getFingerprint(fingerprintKey(), fp)).resolves.toEqual(
          emptyFingerprintState(fingerprintKey(), fp),
        );
      });
    });
  });
}
