import {
  applicableBudgets,
  checkBudgets,
  emptyBudgetFor,
  hasRoom,
  leave,
  namespaceOfTargetKey,
  slotIsDead,
  takeSlot,
  type ApplicableBudget,
} from '../../../src/domain/budget';
import { parsePolicyConfig, type PolicyConfig } from '../../../src/domain/config';
import * as core from '../../../src/domain/ledger';
import { emptyFingerprintState, emptyTargetState, type BudgetState } from '../../../src/domain/model';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const caller = (id: string) => ({ remediationId: id, workflowId: `remediation-${id}`, runId: `run-${id}` });

function policyWith(budgets: unknown): PolicyConfig {
  return parsePolicyConfig({ lockRecheckInterval: '30s', budgets });
}

function one(budget: unknown, namespace = 'prod', action = 'restart'): ApplicableBudget {
  const [applicable] = applicableBudgets(policyWith([budget]).budgets, namespace, action);
  return applicable!;
}

function withHolders(applicable: ApplicableBudget, ids: string[], at = T0): BudgetState {
  return ids.reduce(
    (state, id, i) =>
      takeSlot(
        state,
        caller(id),
        {
          targetKey: `prod/Deployment/t${i}`,
          fencingToken: 1,
          windowMs: applicable.policy.maxPerWindow?.windowMs ?? null,
        },
        at,
      ),
    emptyBudgetFor(applicable),
  );
}

describe('which budgets apply', () => {
  const budgets = policyWith([
    { name: 'all', scope: 'cluster', maxConcurrent: 5 },
    { name: 'per-ns', scope: 'namespace', match: { namespaces: ['prod*'] }, maxConcurrent: 1 },
    {
      name: 'restarts',
      scope: 'action',
      match: { actions: ['restart'] },
      maxPerWindow: { count: 3, window: '1h' },
    },
    { name: 'pair', scope: 'namespace+action', maxConcurrent: 1 },
  ]).budgets;

  it.each<[string, string, string, string[]]>([
    ['prod', 'restart', 'every budget', ['all:*', 'per-ns:prod', 'restarts:restart', 'pair:prod/restart']],
    [
      'staging',
      'restart',
      'not the prod* namespace budget',
      ['all:*', 'restarts:restart', 'pair:staging/restart'],
    ],
    ['prod-eu', 'scale', 'not the restart budget', ['all:*', 'per-ns:prod-eu', 'pair:prod-eu/scale']],
    ['', 'scale', 'a cluster-scoped target: its own namespace key', ['all:*', 'pair:(cluster-scoped)/scale']],
  ])('namespace %j, action %j: %s', (namespace, action, _, keys) => {
    expect(applicableBudgets(budgets, namespace, action).map((b) => b.key)).toEqual(keys);
  });

  it('reads the namespace from a target key, with or without a cluster', () => {
    expect(namespaceOfTargetKey('prod/Deployment/api')).toBe('prod');
    expect(namespaceOfTargetKey('east::prod/Deployment/api')).toBe('prod');
    expect(namespaceOfTargetKey('Node/worker-1')).toBe('');
  });
});

describe('check 8: BudgetExceeded', () => {
  it('when every concurrent slot is held by others then it blocks like a lock, naming the budget and its numbers', () => {
    const budget = one({ name: 'per-ns', scope: 'namespace', maxConcurrent: 1 });
    const verdict = checkBudgets([budget], [withHolders(budget, ['a'])], caller('b'), T0);
    expect(verdict).toMatchObject({
      blocked: true,
      kind: 'lock',
      until: null,
      blocking: ['per-ns:prod'],
      block: {
        budget: 'per-ns',
        scope: 'namespace',
        key: 'prod',
        limit: 1,
        used: 1,
        until: null,
        limitedBy: 'maxConcurrent',
      },
    });
    expect(verdict.detail).toContain('1 of 1 concurrent slot(s) in use (by a)');
  });

  it('when the caller already holds a slot (a retried pass) then the budget does not block it', () => {
    const budget = one({ scope: 'namespace', maxConcurrent: 1 });
    expect(checkBudgets([budget], [withHolders(budget, ['a'])], caller('a'), T0).blocked).toBe(false);
  });

  it('seed 79461: a retried pass that still holds its slot is asked the window again, without its own old start', () => {
    const budget = one({ name: 'rate', scope: 'namespace', maxPerWindow: { count: 1, window: '2m' } });
    const window = { targetKey: 'prod/Deployment/x', fencingToken: 3, windowMs: 120_000 };
    // A took its slot, but its answer was lost; its start aged out; B started meanwhile.
    const aHeld = takeSlot(emptyBudgetFor(budget), caller('a'), window, T0);
    const bStarted = takeSlot(
      aHeld,
      caller('b'),
      { ...window, targetKey: 'prod/Deployment/y' },
      T0 + 180_000,
    );
    expect(checkBudgets([budget], [bStarted], caller('a'), T0 + 181_000)).toMatchObject({
      blocked: true,
      kind: 'temporary',
      until: T0 + 300_000,
      block: { limitedBy: 'maxPerWindow', used: 1 },
    });
    // With nobody else in the window, its retried pass runs.
    expect(checkBudgets([budget], [aHeld], caller('a'), T0 + 1_000).blocked).toBe(false);
  });

  it('when the window is full then it blocks until the oldest start in it ages out', () => {
    const budget = one({ name: 'rate', scope: 'namespace', maxPerWindow: { count: 2, window: '1m' } });
    let state = withHolders(budget, ['a'], T0);
    state = takeSlot(
      state,
      caller('b'),
      { targetKey: 'prod/Deployment/x', fencingToken: 1, windowMs: 60_000 },
      T0 + 20_000,
    );
    state = leave(
      leave(state, caller('a'), true, budget.policy, T0 + 30_000).state,
      caller('b'),
      true,
      budget.policy,
      T0 + 30_000,
    ).state;
    const verdict = checkBudgets([budget], [state], caller('c'), T0 + 40_000);
    expect(verdict).toMatchObject({
      blocked: true,
      kind: 'temporary',
      until: T0 + 60_000,
      block: { limit: 2, used: 2, until: iso(T0 + 60_000), limitedBy: 'maxPerWindow' },
    });
    // The first start has aged out: room for one more.
    expect(checkBudgets([budget], [state], caller('c'), T0 + 60_001).blocked).toBe(false);
  });

  it('when there is room but others queued earlier then it waits its turn (FIFO), woken when they go', () => {
    const budget = one({ scope: 'cluster', maxConcurrent: 2 });
    const state: BudgetState = {
      ...withHolders(budget, ['a']),
      waiters: [{ remediationId: 'w', workflowId: 'remediation-w', since: iso(T0) }],
    };
    expect(checkBudgets([budget], [state], caller('late'), T0)).toMatchObject({
      blocked: true,
      kind: 'lock',
      block: { limitedBy: 'queue' },
    });
    expect(checkBudgets([budget], [state], caller('w'), T0).blocked).toBe(false);
  });

  it('when nothing blocks then the pass names every budget with its numbers', () => {
    const budgets = applicableBudgets(
      policyWith([
        { name: 'c', scope: 'cluster', maxConcurrent: 3 },
        { name: 'r', scope: 'action', maxPerWindow: { count: 5, window: '1h' } },
      ]).budgets,
      'prod',
      'restart',
    );
    const verdict = checkBudgets(budgets, budgets.map(emptyBudgetFor), caller('a'), T0);
    expect(verdict.blocked).toBe(false);
    expect(verdict.detail).toBe(
      'budget c (cluster *): 0 of 3 slot(s) in use; budget r (action restart): 0 of 5 start(s) within 1h',
    );
  });
});

describe('slots', () => {
  const budget = one({ scope: 'namespace', maxConcurrent: 1, maxPerWindow: { count: 10, window: '1h' } });

  it('taking a slot counts one start; taking it again (a retried pass) moves the start, never adds one', () => {
    const first = takeSlot(
      emptyBudgetFor(budget),
      caller('a'),
      { targetKey: 'prod/Deployment/x', fencingToken: 3, windowMs: 3_600_000 },
      T0,
    );
    const again = takeSlot(
      first,
      caller('a'),
      { targetKey: 'prod/Deployment/x', fencingToken: 3, windowMs: 3_600_000 },
      T0 + 5_000,
    );
    expect(first.starts).toEqual([{ remediationId: 'a', at: iso(T0) }]);
    expect(again.starts).toEqual([{ remediationId: 'a', at: iso(T0 + 5_000) }]);
    expect(again.holders).toHaveLength(1);
  });

  it('giving a slot back wakes the first waiter when that leaves room; keeping it (lock still held) wakes nobody', () => {
    const state: BudgetState = {
      ...withHolders(budget, ['a']),
      waiters: [{ remediationId: 'w', workflowId: 'remediation-w', since: iso(T0) }],
    };
    expect(leave(state, caller('a'), true, budget.policy, T0)).toMatchObject({ wake: 'remediation-w' });
    expect(leave(state, caller('a'), false, budget.policy, T0).wake).toBeNull();
    expect(hasRoom(leave(state, caller('a'), true, budget.policy, T0).state, budget.policy, T0)).toBe(true);
  });

  it("a closed holder's slot is dead only once its target shows neither its lock nor its unsettled run", () => {
    const holder = withHolders(budget, ['a']).holders[0]!;
    const target = emptyTargetState(holder.targetKey);
    const lock = {
      remediationId: 'a',
      workflowId: 'remediation-a',
      runId: 'run-a',
      acquiredAt: iso(T0),
      fencingToken: 1,
      run: null,
    };
    expect(slotIsDead(holder, { ...target, lock })).toBe(false);
    expect(
      slotIsDead(holder, {
        ...target,
        unsettled: {
          remediationId: 'a',
          workflowId: 'remediation-a',
          pipelineRun: 'p',
          fencingToken: 1,
          notAfter: iso(T0),
          since: iso(T0),
        },
      }),
    ).toBe(false);
    expect(slotIsDead(holder, target)).toBe(true);
    expect(slotIsDead(holder, { ...target, lock: { ...lock, remediationId: 'b', fencingToken: 2 } })).toBe(
      true,
    );
  });
});

describe('S38 in the ledger: a routing pass takes the slot with the lock and queues when the budget is spent', () => {
  const policy = policyWith([{ name: 'per-ns', scope: 'namespace', maxConcurrent: 1 }]);
  const budgets = applicableBudgets(policy.budgets, 'prod', 'restart');
  const pass = (id: string, target: string, budgetStates: BudgetState[], overrideActive = false) =>
    core.route(
      {
        target: emptyTargetState(target),
        fingerprint: emptyFingerprintState(`prod/f-${id}`, `f-${id}`),
        budgets: budgetStates,
      },
      { caller: caller(id), actionId: 'restart', deadline: T0 + 3_600_000, overrideActive, budgets },
      { closed: new Set(), runs: new Map() },
      T0,
      policy,
    );

  it('two remediations on different targets of one namespace: the first runs holding the slot, the second waits (lock kind) in the queue', () => {
    const a = pass('a', 'prod/Deployment/x', budgets.map(emptyBudgetFor));
    expect(a.verdict.kind).toBe('run');
    expect(a.budgets[0]!.holders).toMatchObject([
      { remediationId: 'a', targetKey: 'prod/Deployment/x', fencingToken: 1 },
    ]);

    const b = pass('b', 'prod/Deployment/y', a.budgets);
    expect(b.verdict).toMatchObject({
      kind: 'wait',
      reason: 'BudgetExceeded',
      blockKind: 'lock',
      until: null,
      budget: { budget: 'per-ns', key: 'prod', limit: 1, used: 1 },
    });
    expect(b.budgets[0]!.waiters.map((w) => w.remediationId)).toEqual(['b']);
    expect(b.target.lock).toBeNull();

    // A's lock released: its slot goes back and B is woken.
    const released = leave(b.budgets[0]!, caller('a'), true, budgets[0]!.policy, T0);
    expect(released.wake).toBe('remediation-b');
    const again = pass('b', 'prod/Deployment/y', [released.state]);
    expect(again.verdict.kind).toBe('run');
    expect(again.budgets[0]!.waiters).toEqual([]);
  });

  /** B routes on its own target after A took (and gave back) the one start a window allows. */
  function afterOneStart(window: string, startedAt: number, overrideActive: boolean) {
    const windowed = policyWith([{ name: 'rate', scope: 'namespace', maxPerWindow: { count: 1, window } }]);
    const wb = applicableBudgets(windowed.budgets, 'prod', 'restart');
    const windowMs = windowed.budgets[0]!.maxPerWindow!.windowMs;
    const spent = takeSlot(
      emptyBudgetFor(wb[0]!),
      caller('a'),
      { targetKey: 'prod/Deployment/x', fencingToken: 1, windowMs },
      startedAt,
    );
    return core.route(
      {
        target: emptyTargetState('prod/Deployment/y'),
        fingerprint: emptyFingerprintState('prod/f', 'f'),
        budgets: [leave(spent, caller('a'), true, wb[0]!.policy, T0).state],
      },
      { caller: caller('b'), actionId: 'restart', deadline: T0 + 3_600_000, overrideActive, budgets: wb },
      { closed: new Set(), runs: new Map() },
      T0,
      windowed,
    );
  }

  it('an override never skips a budget block', () => {
    expect(afterOneStart('10m', T0 - 60_000, true).verdict).toMatchObject({
      kind: 'wait',
      reason: 'BudgetExceeded',
      blockKind: 'temporary',
      until: T0 + 540_000,
    });
  });

  it('a budget block past the deadline ends the remediation at once, saying until when', () => {
    expect(afterOneStart('2h', T0, false).verdict).toMatchObject({
      kind: 'end',
      reason: 'BudgetExceeded',
      blockedUntil: T0 + 7_200_000,
      budget: { limitedBy: 'maxPerWindow' },
    });
  });

  it("a dead holder's reclaimed slot lets the next remediation run", () => {
    const a = pass('a', 'prod/Deployment/x', budgets.map(emptyBudgetFor));
    const result = core.route(
      {
        target: emptyTargetState('prod/Deployment/y'),
        fingerprint: emptyFingerprintState('prod/f-b', 'f-b'),
        budgets: a.budgets,
      },
      { caller: caller('b'), actionId: 'restart', deadline: T0 + 3_600_000, overrideActive: false, budgets },
      { closed: new Set(['remediation-a']), runs: new Map(), deadSlots: new Set(['remediation-a/run-a']) },
      T0,
      policy,
    );
    expect(result.verdict.kind).toBe('run');
    expect(result.budgets[0]!.holders.map((h) => h.remediationId)).toEqual(['b']);
  });
});
