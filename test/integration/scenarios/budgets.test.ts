import { budgetObjectName, BUDGET_PLURAL, LEDGER_GROUP, LEDGER_VERSION } from '../../../src/k8s/ledger-types';
import { targetKey } from '../../../src/domain/request';
import { getTable } from '../support/kube-table';
import { RemediationHarness, sleep, uniqueName } from '../support/remediation-harness';

/**
 * S38 on the real stack: budgets cap how much runs at once (woken on release), how much starts per
 * window, and a killed holder's slot comes back once its run has stopped.
 */
describe('budgets: BudgetExceeded (check 8)', () => {
  const h = new RemediationHarness();
  const perNamespace = uniqueName('per-ns');
  const perWindow = uniqueName('rate');
  beforeAll(async () => {
    await h.open();
    await h.startWorker({
      // Short safety-net re-checks so the killed-holder case is quick; wake-ups must not depend on them.
      lockRecheckInterval: '20s',
      orphanRecheckInterval: '1s',
      budgets: [
        { name: perNamespace, scope: 'namespace', match: { namespaces: ['s38-conc-*'] }, maxConcurrent: 1 },
        {
          name: perWindow,
          scope: 'namespace',
          match: { namespaces: ['s38-rate-*'] },
          maxPerWindow: { count: 2, window: '15s' },
        },
      ],
    });
  });
  afterAll(() => h.close());

  async function createdAt(id: string): Promise<number> {
    const [object] = await h.pipelineRunObjectsOf(id);
    return Date.parse(object!.metadata.creationTimestamp!);
  }

  it('S38: maxConcurrent 1 per namespace — two remediations on different targets of one namespace run one after the other, the second woken on release', async () => {
    const namespace = uniqueName('s38-conc');
    const slow = await h.definePipeline('succeed', 4_000);
    const quick = await h.definePipeline('succeed');
    const aId = await h.start(h.request({ pipeline: slow, namespace, name: 'api' }));
    await h.waitFor(aId, (s) => s.pipelineRuns.length === 1, 30_000, 'A executing');
    const bId = await h.start(h.request({ pipeline: quick, namespace, name: 'web' }));

    const blocked = await h.waitFor(bId, (s) => s.phase === 'Blocked', 30_000, 'B blocked');
    expect(blocked).toMatchObject({
      blockReason: 'BudgetExceeded',
      blockKind: 'lock',
      blockedUntil: null,
      budget: { budget: perNamespace, scope: 'namespace', key: namespace, limit: 1, used: 1, until: null },
    });
    expect(blocked.message).toContain(
      `budget ${perNamespace} (namespace ${namespace}): 1 of 1 concurrent slot(s) in use (by ${aId})`,
    );
    expect(await h.pipelineRunsOf(bId)).toEqual([]);

    // The budget object as `kubectl get rbudget` prints it: A holds the slot, B waits for it.
    const table = await getTable(
      h.kube,
      `/apis/${LEDGER_GROUP}/${LEDGER_VERSION}/namespaces/${h.info.controlNamespace}/${BUDGET_PLURAL}/${budgetObjectName(`${perNamespace}:${namespace}`)}`,
    );
    expect(table.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Budget',
      'Scope',
      'Key',
      'Holders',
      'Waiting',
      'Age',
    ]);
    expect(table.rows[0]?.cells.slice(1, 6)).toEqual([perNamespace, 'namespace', namespace, aId, bId]);

    const aEnd = await h.result(aId);
    expect(aEnd.phase).toBe('Completed');
    expect(await h.result(bId)).toMatchObject({ phase: 'Completed', budget: null });
    // Woken when A gave its slot back, not by the 20 s safety-net re-check.
    const released = Date.parse(aEnd.timeline.at(-1)!.at);
    expect((await createdAt(bId)) - released).toBeLessThan(5_000);
    await h.replayAndMaybeRecord('budget-concurrent', bId);
  });

  it('S38: maxPerWindow 2 per 15 s — the third remediation waits until the first start ages out', async () => {
    const namespace = uniqueName('s38-rate');
    const quick = await h.definePipeline('succeed');
    const ids: string[] = [];
    for (const name of ['a', 'b']) {
      const id = await h.start(h.request({ pipeline: quick, namespace, name }));
      expect(await h.result(id)).toMatchObject({ phase: 'Completed' });
      ids.push(id);
    }
    const cId = await h.start(h.request({ pipeline: quick, namespace, name: 'c' }));
    const blocked = await h.waitFor(cId, (s) => s.phase === 'Blocked', 30_000, 'C blocked');
    expect(blocked).toMatchObject({
      blockReason: 'BudgetExceeded',
      blockKind: 'temporary',
      budget: { budget: perWindow, key: namespace, limit: 2, used: 2 },
    });
    const until = Date.parse(blocked.budget!.until!);
    expect(blocked.blockedUntil).toBe(blocked.budget!.until);
    // An override never skips a budget.
    const refused = await h.client.override(cId, 'try', 'alice').then(
      () => null,
      (error: Error & { cause?: Error }) => error.cause?.message ?? error.message,
    );
    expect(refused).toMatch(/override refused: BudgetExceeded is never overridable/);

    expect(await h.result(cId, 60_000)).toMatchObject({ phase: 'Completed' });
    const firstCreated = await createdAt(ids[0]!);
    const cCreated = await createdAt(cId);
    expect(cCreated).toBeGreaterThanOrEqual(until - 1_000);
    expect(cCreated - firstCreated).toBeGreaterThanOrEqual(15_000 - 1_000);
  });

  it("S38: a killed holder's slot is reclaimed once its run has stopped, and the waiter then runs", async () => {
    const namespace = uniqueName('s38-conc');
    const slow = await h.definePipeline('succeed', 6_000);
    const quick = await h.definePipeline('succeed');
    const a = h.request({ pipeline: slow, namespace, name: 'api' });
    const aId = await h.start(a);
    await h.waitFor(aId, (s) => s.pipelineRuns.length === 1, 30_000, 'A executing');
    const bId = await h.start(h.request({ pipeline: quick, namespace, name: 'web' }));
    await h.waitFor(bId, (s) => s.blockReason === 'BudgetExceeded', 30_000, 'B blocked by the budget');
    await h.client.handle(aId).terminate('simulated crash of the holder');
    await sleep(500);

    expect(await h.result(bId, 90_000)).toMatchObject({ phase: 'Completed' });
    const [aRun] = await h.pipelineRunObjectsOf(aId);
    // B's run started only after the killed holder's run had finished (the slot covered it till then).
    expect(await createdAt(bId)).toBeGreaterThanOrEqual(Date.parse(aRun!.status!.completionTime!));
    const aTarget = await h.client.target(targetKey(a.target));
    expect(aTarget.lock).toBeNull();
    expect(aTarget.audit).toContainEqual(
      expect.objectContaining({
        action: 'lockTakeover',
        remediationId: bId,
        details: expect.objectContaining({ previousHolder: aId }),
      }),
    );
    const budget = await h.ledger.getBudget({
      key: `${perNamespace}:${namespace}`,
      version: null,
      budget: perNamespace,
      scope: 'namespace',
      scopeKey: namespace,
      holders: [],
      starts: [],
      waiters: [],
    });
    expect(budget.holders).toEqual([]);
  });
});
