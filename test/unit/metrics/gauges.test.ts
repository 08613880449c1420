import type { MetricGauge, MetricMeter } from '@temporalio/common';
import { InMemoryLedger } from '../../../src/dev/fakes/in-memory-ledger';
import { emptyTargetState, type TargetState } from '../../../src/domain/model';
import {
  AWAITING_APPROVAL_QUERY,
  countManualReview,
  DEFAULT_GAUGE_INTERVAL_MS,
  GAUGES,
  OPEN_PHASES,
  openInPhaseQuery,
  readGauges,
  startGaugeLoop,
  workerGaugeSources,
  type GaugeSources,
} from '../../../src/metrics/gauges';

const review = (required: boolean): TargetState['manualReview'] => ({
  required,
  reason: 'StepFailed',
  since: '2026-01-01T00:00:00Z',
  remediationId: 'r1',
});

/** A meter that keeps every value set on each gauge, by name (and every labelled one by name and tags). */
function inMemoryMeter() {
  const created: { name: string; valueType?: string; description?: string }[] = [];
  const values = new Map<string, number[]>();
  const labelled = new Map<string, number[]>();
  let failSet: string | null = null;
  const meter: Pick<MetricMeter, 'createGauge'> = {
    createGauge(name, valueType, unit, description) {
      created.push({ name, valueType, description });
      values.set(name, []);
      const gauge: MetricGauge = {
        name,
        kind: 'gauge',
        valueType: valueType ?? 'int',
        unit,
        description,
        set: (value, tags) => {
          if (failSet === name) throw new Error('native gauge gone');
          if (!tags) return void values.get(name)!.push(value);
          const key = `${name}${JSON.stringify(tags)}`;
          labelled.set(key, [...(labelled.get(key) ?? []), value]);
        },
        withTags: () => gauge,
      };
      return gauge;
    },
  };
  return {
    meter,
    created,
    values: (id: keyof typeof GAUGES) => values.get(GAUGES[id].name) ?? [],
    /** Every value set on one series of a labelled gauge. */
    series: (id: keyof typeof GAUGES, tags: Record<string, string>) =>
      labelled.get(`${GAUGES[id].name}${JSON.stringify(tags)}`) ?? [],
    failSetOf: (id: keyof typeof GAUGES | null) => (failSet = id && GAUGES[id].name),
  };
}

/** Sources whose answers a test changes between refreshes: `count` answers the approval query, `phaseCount` the rest. */
function scriptedSources() {
  const queries: string[] = [];
  const state = {
    count: (): Promise<number> => Promise.resolve(0),
    phaseCount: (_query: string): Promise<number> => Promise.resolve(0),
    targets: (): Promise<Pick<TargetState, 'manualReview'>[]> => Promise.resolve([]),
  };
  const sources: GaugeSources = {
    countWorkflows: (query) => {
      queries.push(query);
      return query === AWAITING_APPROVAL_QUERY ? state.count() : state.phaseCount(query);
    },
    listTargets: () => state.targets(),
  };
  return { sources, state, queries };
}

describe('gauge computation', () => {
  it('queries open remediations blocked with AwaitingApproval', () => {
    expect(AWAITING_APPROVAL_QUERY).toBe(
      "WorkflowType = 'remediation' AND ExecutionStatus = 'Running' AND BlockReason = 'AwaitingApproval'",
    );
  });

  it('counts open remediations by their RemediationPhase search attribute, one query per open phase', () => {
    expect(OPEN_PHASES).toEqual(['Pending', 'Routing', 'Blocked', 'Executing', 'Verifying']);
    expect(openInPhaseQuery('Blocked')).toBe(
      "WorkflowType = 'remediation' AND ExecutionStatus = 'Running' AND RemediationPhase = 'Blocked'",
    );
  });

  it('counts targets whose record requires manual review, nothing else', () => {
    expect(
      countManualReview([
        { manualReview: null },
        { manualReview: review(false) },
        { manualReview: review(true) },
        { manualReview: review(true) },
      ]),
    ).toBe(2);
    expect(countManualReview([])).toBe(0);
  });

  it('reads every number from the real sources: visibility count and the ledger (in-memory fake)', async () => {
    const ledger = new InMemoryLedger();
    await ledger.putTarget({ ...emptyTargetState('a/Deployment/x'), manualReview: review(true) });
    await ledger.putTarget({ ...emptyTargetState('b/Deployment/x'), manualReview: review(false) });
    await ledger.putTarget(emptyTargetState('c/Deployment/x'));
    await ledger.putTarget({ ...emptyTargetState('d/Deployment/x'), manualReview: review(true) });
    const count = jest.fn(async (query?: string) => ({
      count: query === AWAITING_APPROVAL_QUERY ? 3 : OPEN_PHASES.findIndex((p) => query?.includes(`'${p}'`)),
      groups: [],
    }));
    await expect(readGauges(workerGaugeSources({ workflows: { count }, ledger }))).resolves.toEqual({
      openRemediations: {
        ok: true,
        value: { Pending: 0, Routing: 1, Blocked: 2, Executing: 3, Verifying: 4 },
      },
      awaitingApproval: { ok: true, value: 3 },
      manualReview: { ok: true, value: 2 },
    });
    expect(count).toHaveBeenCalledWith(AWAITING_APPROVAL_QUERY);
    for (const phase of OPEN_PHASES) expect(count).toHaveBeenCalledWith(openInPhaseQuery(phase));
  });

  it('a failing source makes only its own reading an error', async () => {
    const { sources, state } = scriptedSources();
    state.count = () => Promise.reject(new Error('visibility unavailable'));
    state.targets = async () => [{ manualReview: review(true) }];
    await expect(readGauges(sources)).resolves.toEqual({
      openRemediations: {
        ok: true,
        value: { Pending: 0, Routing: 0, Blocked: 0, Executing: 0, Verifying: 0 },
      },
      awaitingApproval: { ok: false, error: 'visibility count failed: visibility unavailable' },
      manualReview: { ok: true, value: 1 },
    });
    state.count = async () => 4;
    state.targets = () => {
      throw new Error('403 forbidden'); // thrown synchronously, not rejected
    };
    await expect(readGauges(sources)).resolves.toMatchObject({
      awaitingApproval: { ok: true, value: 4 },
      manualReview: { ok: false, error: 'ledger list failed: 403 forbidden' },
    });
  });

  it('one failing phase count fails the whole per-phase reading (never half a set)', async () => {
    const { sources, state } = scriptedSources();
    state.phaseCount = (query) =>
      query.includes("'Executing'") ? Promise.reject(new Error('rate limited')) : Promise.resolve(1);
    expect((await readGauges(sources)).openRemediations).toEqual({
      ok: false,
      error: 'visibility count of Executing failed: rate limited',
    });
  });

  it('a count that is no count is an error, not a gauge value', async () => {
    const { sources, state } = scriptedSources();
    for (const bad of [-1, 1.5, Number.NaN]) {
      state.count = async () => bad;
      expect((await readGauges(sources)).awaitingApproval).toEqual({
        ok: false,
        error: `visibility count answered ${String(bad)}, not a count`,
      });
    }
  });

  it('gives up on a source that does not answer within the timeout, or when aborted', async () => {
    const { sources, state } = scriptedSources();
    state.count = () => new Promise(() => undefined);
    state.targets = async () => [];
    await expect(readGauges(sources, { timeoutMs: 20 })).resolves.toMatchObject({
      awaitingApproval: { ok: false, error: 'visibility count failed: no answer within 20 ms' },
      manualReview: { ok: true, value: 0 },
    });
    const abort = new AbortController();
    const reading = readGauges(sources, { signal: abort.signal });
    abort.abort();
    expect((await reading).awaitingApproval).toEqual({
      ok: false,
      error: 'visibility count failed: stopped',
    });
  });
});

describe('startGaugeLoop', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('creates the three int gauges with their names and descriptions (no _total: they are gauges)', async () => {
    const m = inMemoryMeter();
    const loop = startGaugeLoop({ meter: m.meter, sources: scriptedSources().sources, log: () => undefined });
    await loop.stop();
    expect(m.created).toEqual([
      {
        name: 'remediation_open_remediations',
        valueType: 'int',
        description: GAUGES.openRemediations.description,
      },
      {
        name: 'remediation_awaiting_approval',
        valueType: 'int',
        description: GAUGES.awaitingApproval.description,
      },
      {
        name: 'remediation_targets_manual_review',
        valueType: 'int',
        description: GAUGES.manualReview.description,
      },
    ]);
  });

  it('refreshes at once, then every interval (30s by default)', async () => {
    expect(DEFAULT_GAUGE_INTERVAL_MS).toBe(30_000);
    const m = inMemoryMeter();
    const { sources, state } = scriptedSources();
    let n = 2;
    state.count = async () => n;
    state.targets = async () => Array.from({ length: n + 1 }, () => ({ manualReview: review(true) }));
    const loop = startGaugeLoop({ meter: m.meter, sources, log: () => undefined });
    await jest.advanceTimersByTimeAsync(0);
    expect(m.values('awaitingApproval')).toEqual([2]);
    expect(m.values('manualReview')).toEqual([3]);
    n = 5;
    await jest.advanceTimersByTimeAsync(29_999);
    expect(m.values('awaitingApproval')).toEqual([2]);
    await jest.advanceTimersByTimeAsync(1);
    expect(m.values('awaitingApproval')).toEqual([2, 5]);
    expect(m.values('manualReview')).toEqual([3, 6]);
    await loop.stop();
  });

  it('sets one series per open phase, labelled phase', async () => {
    const m = inMemoryMeter();
    const { sources, state } = scriptedSources();
    state.phaseCount = async (query) => (query.includes("'Blocked'") ? 4 : 1);
    const loop = startGaugeLoop({ meter: m.meter, sources, log: () => undefined, intervalMs: 1000 });
    await jest.advanceTimersByTimeAsync(0);
    expect(m.series('openRemediations', { phase: 'Blocked' })).toEqual([4]);
    for (const phase of OPEN_PHASES.filter((p) => p !== 'Blocked')) {
      expect(m.series('openRemediations', { phase })).toEqual([1]);
    }
    expect(m.values('openRemediations')).toEqual([]); // never an unlabelled series
    await loop.stop();
  });

  it('logs a failure once per change, keeps the last value meanwhile, and logs the recovery once', async () => {
    const m = inMemoryMeter();
    const { sources, state } = scriptedSources();
    const log = jest.fn();
    state.count = async () => 1;
    const loop = startGaugeLoop({ meter: m.meter, sources, log, intervalMs: 1000 });
    await jest.advanceTimersByTimeAsync(0);
    state.count = () => Promise.reject(new Error('connection refused'));
    await jest.advanceTimersByTimeAsync(3000); // three failing refreshes, one line
    expect(log.mock.calls).toEqual([
      [
        'metrics: remediation_awaiting_approval not refreshed (keeps its last value, retried every 1000 ms): ' +
          'visibility count failed: connection refused',
        'warn',
      ],
    ]);
    state.count = () => Promise.reject(new Error('deadline exceeded'));
    await jest.advanceTimersByTimeAsync(2000); // a new message: one more line
    expect(log).toHaveBeenCalledTimes(2);
    expect(log.mock.calls[1]![0]).toMatch(/deadline exceeded$/);
    expect(m.values('awaitingApproval')).toEqual([1]); // never set while failing
    expect(m.values('manualReview')).toHaveLength(6); // the other gauge carried on
    state.count = async () => 0;
    await jest.advanceTimersByTimeAsync(3000);
    expect(log).toHaveBeenCalledTimes(3);
    expect(log).toHaveBeenLastCalledWith('metrics: remediation_awaiting_approval refreshed again', 'info');
    expect(m.values('awaitingApproval')).toEqual([1, 0, 0, 0]);
    await loop.stop();
  });

  it('survives a gauge that throws on set and a log sink that throws', async () => {
    const m = inMemoryMeter();
    const { sources, state } = scriptedSources();
    state.count = async () => 7;
    m.failSetOf('awaitingApproval');
    const log = jest.fn(() => {
      throw new Error('stdout closed');
    });
    const loop = startGaugeLoop({ meter: m.meter, sources, log, intervalMs: 1000 });
    await jest.advanceTimersByTimeAsync(2000);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('setting it failed: native gauge gone'), 'warn');
    m.failSetOf(null);
    await jest.advanceTimersByTimeAsync(1000);
    expect(log).toHaveBeenLastCalledWith('metrics: remediation_awaiting_approval refreshed again', 'info');
    expect(m.values('awaitingApproval')).toEqual([7]);
    expect(m.values('manualReview')).toEqual([0, 0, 0, 0]);
    await loop.stop();
  });

  it('a source that hangs fails its refresh after the timeout (the interval by default); the loop goes on', async () => {
    const m = inMemoryMeter();
    const { sources, state } = scriptedSources();
    const log = jest.fn();
    state.targets = () => new Promise(() => undefined);
    const loop = startGaugeLoop({ meter: m.meter, sources, log, intervalMs: 1000 });
    await jest.advanceTimersByTimeAsync(1000);
    expect(log).toHaveBeenCalledWith(
      expect.stringMatching(/ledger list failed: no answer within 1000 ms$/),
      'warn',
    );
    state.targets = async () => [{ manualReview: review(true) }];
    await jest.advanceTimersByTimeAsync(1000);
    expect(m.values('manualReview')).toEqual([1]);
    await loop.stop();
  });

  it('stop gives up a refresh in flight, sets nothing afterwards and leaves no timer', async () => {
    const m = inMemoryMeter();
    const { sources, state } = scriptedSources();
    let answer: (n: number) => void = () => undefined;
    state.count = () => new Promise<number>((resolve) => (answer = resolve));
    const log = jest.fn();
    const loop = startGaugeLoop({ meter: m.meter, sources, log, intervalMs: 1000 });
    await jest.advanceTimersByTimeAsync(0);
    await loop.stop(); // resolves without the hung count
    answer(9);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(m.values('awaitingApproval')).toEqual([]);
    expect(m.values('manualReview')).toEqual([]);
    expect(log).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
    await loop.stop(); // idempotent
  });
});
