import { InMemoryLedger } from '../../../src/adapters/in-memory-ledger';
import { emptyTargetState } from '../../../src/domain/model';
import { LedgerInvalidStateError, MAX_WAITERS } from '../../../src/k8s/ledger-types';
import { ledgerContract, maximalTargetState } from '../../contract/ledger.contract';

ledgerContract('InMemoryLedger', async () => ({ ledger: new InMemoryLedger() }));

describe('InMemoryLedger', () => {
  it('when the caller mutates the state it wrote, the stored state does not change', async () => {
    const ledger = new InMemoryLedger();
    const input = maximalTargetState('prod/Deployment/api');
    const written = await ledger.putTarget(input);
    input.audit.length = 0;
    input.lock!.runId = 'changed';
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
});
