import { InMemoryLedger } from '../../../src/dev/fakes/in-memory-ledger';
import { emptyFingerprintState, emptyTargetState } from '../../../src/domain/model';
import { LedgerConflictError, LedgerInvalidStateError, MAX_WAITERS } from '../../../src/ports/ledger';
import { ledgerContract, maximalTargetState } from '../../contract/ledger.contract';

ledgerContract('InMemoryLedger', async () => {
  const ledger = new InMemoryLedger();
  return {
    ledger,
    requestDeletion: async (kind, key) =>
      kind === 'target' ? ledger.deleteTarget(key) : ledger.deleteFingerprint(key),
    forceRemoval: async (_kind, key) => ledger.forceRemove(key),
  };
});

describe('InMemoryLedger', () => {
  it('when the caller mutates the state it wrote, the stored state does not change', async () => {
    const ledger = new InMemoryLedger();
    const input = maximalTargetState('prod/Deployment/api');
    const written = await ledger.putTarget(input);
    input.audit.length = 0;
    input.lock!.runId = 'changed';
    input.unsettled!.pipelineRun = 'changed';
    await expect(ledger.getTarget('prod/Deployment/api')).resolves.toEqual(written);
  });

  it('when records are written, versions are increasing strings shared by all records (like resourceVersion)', async () => {
    const ledger = new InMemoryLedger();
    const a = await ledger.putTarget(emptyTargetState('a/Deployment/x'));
    const b = await ledger.putTarget(emptyTargetState('b/Deployment/x'));
    const a2 = await ledger.putTarget(a);
    expect([a.version, b.version, a2.version]).toEqual(['1', '2', '3']);
  });

  it(`when more than ${MAX_WAITERS} remediations wait, refuses the write as the CRD does`, async () => {
    const ledger = new InMemoryLedger();
    const waiters = Array.from({ length: MAX_WAITERS + 1 }, (_, i) => ({
      remediationId: `r${i}`,
      workflowId: `remediation-r${i}`,
      since: '2026-01-01T00:00:00.000Z',
    }));
    await expect(ledger.putTarget({ ...emptyTargetState('a/Deployment/x'), waiters })).rejects.toBeInstanceOf(
      LedgerInvalidStateError,
    );
  });

  describe('deletion (test-only, as the API server does with the finalizer)', () => {
    it('when a record is deleted, deletionRequested names it until it is removed outright', async () => {
      const ledger = new InMemoryLedger();
      await ledger.putTarget(emptyTargetState('a/Deployment/x'));
      await ledger.putFingerprint(emptyFingerprintState('a/fp', 'fp'));
      expect([...ledger.deletionRequested]).toEqual([]);

      ledger.deleteTarget('a/Deployment/x');
      ledger.deleteFingerprint('a/fp');
      expect([...ledger.deletionRequested].sort()).toEqual(['a/Deployment/x', 'a/fp']);

      // Still marked after a write (deletionTimestamp stays), gone once removed.
      await ledger.putTarget({ ...(await ledger.getTarget('a/Deployment/x')), consecutiveFailures: 1 });
      expect(ledger.deletionRequested.has('a/Deployment/x')).toBe(true);
      ledger.forceRemove('a/Deployment/x');
      expect([...ledger.deletionRequested]).toEqual(['a/fp']);
    });

    it('when a deleted record is deleted again, nothing changes (not even the version)', async () => {
      const ledger = new InMemoryLedger();
      await ledger.putTarget(emptyTargetState('a/Deployment/x'));
      ledger.deleteTarget('a/Deployment/x');
      const once = await ledger.getTarget('a/Deployment/x');
      ledger.deleteTarget('a/Deployment/x');
      await expect(ledger.getTarget('a/Deployment/x')).resolves.toEqual(once);
    });

    it('when the record to delete does not exist, says so', () => {
      expect(() => new InMemoryLedger().deleteTarget('a/Deployment/x')).toThrow(/no ledger record/);
      expect(() => new InMemoryLedger().deleteFingerprint('a/fp')).toThrow(/no ledger record/);
    });

    it('when removed outright, a create (version null) starts a new record; a stale create conflicts', async () => {
      const ledger = new InMemoryLedger();
      await ledger.putTarget({ ...emptyTargetState('a/Deployment/x'), fencingToken: 3 });
      ledger.forceRemove('a/Deployment/x');
      const created = await ledger.putTarget(emptyTargetState('a/Deployment/x'));
      expect(created.fencingToken).toBe(0);
      expect(ledger.deletionRequested.size).toBe(0);
      await expect(ledger.putTarget(emptyTargetState('a/Deployment/x'))).rejects.toBeInstanceOf(
        LedgerConflictError,
      );
    });
  });
});
