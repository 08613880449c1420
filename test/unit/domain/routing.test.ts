import fc from 'fast-check';
import { defaultPolicyConfig } from '../../../src/domain/config';
import {
  BlockReason,
  emptyFingerprintState,
  emptyTargetState,
  type FingerprintState,
  type TargetLock,
  type TargetState,
} from '../../../src/domain/model';
import { decide, type RoutingInput, type RoutingVerdict } from '../../../src/domain/routing';

const T = Date.parse('2026-01-01T12:00:00.000Z');
const MIN = 60_000;
const at = (ms: number) => new Date(ms).toISOString();

const lockOf = (remediationId: string): TargetLock => ({
  remediationId,
  workflowId: `remediation-${remediationId}`,
  runId: 'run-1',
  acquiredAt: at(T - 5 * MIN),
  fencingToken: 7,
});
const waiter = (remediationId: string, sinceMs: number) => ({
  remediationId,
  workflowId: `remediation-${remediationId}`,
  since: at(sinceMs),
});

interface Patch {
  target?: Partial<TargetState>;
  fingerprint?: Partial<FingerprintState>;
  input?: Partial<Omit<RoutingInput, 'target' | 'fingerprint'>>;
}

function input(patch: Patch = {}): RoutingInput {
  return {
    remediationId: 'self',
    workflowId: 'remediation-self',
    actionId: 'restart',
    target: { ...emptyTargetState('prod/Deployment/api'), ...patch.target },
    fingerprint: { ...emptyFingerprintState('prod/F', 'F'), ...patch.fingerprint },
    now: T,
    deadline: T + 60 * MIN,
    config: defaultPolicyConfig,
    overrideActive: false,
    lockHolderClosed: false,
    ...patch.input,
  };
}

/** The verdict without the free-text parts, for table assertions. */
function shape(v: RoutingVerdict) {
  switch (v.kind) {
    case 'run':
      return { kind: v.kind, takeover: v.takeover?.remediationId ?? null };
    case 'wait':
      return { kind: v.kind, reason: v.reason, blockKind: v.blockKind, until: v.until };
    case 'end':
      return { kind: v.kind, reason: v.reason, blockedUntil: v.blockedUntil, duplicateOf: v.duplicateOf };
  }
}

// Per-rule states that block on their own (with the defaults).
const blocks = {
  consecutiveFailures: { fingerprint: { consecutiveFailedRemediations: 3, lastFailureAt: at(T - 10 * MIN) } },
  duplicate: {
    fingerprint: { active: { remediationId: 'A', workflowId: 'remediation-A', since: at(T - MIN) } },
  },
  manualReview: {
    target: {
      manualReview: { required: true, reason: 'StepFailed', since: at(T - MIN), remediationId: 'old' },
    },
  },
  exhausted: { target: { consecutiveFailures: 5 } },
  busy: { target: { lock: lockOf('A') } },
  recent: {
    target: {
      lastSuccess: { actionId: 'restart', remediationId: 'old', pipelineRun: 'rem-old-1', at: at(T - MIN) },
    },
  },
  backoff: { target: { nextAllowedExecution: at(T + 2 * MIN) } },
} satisfies Record<string, Patch>;

const merge = (...patches: Patch[]): Patch =>
  patches.reduce<Patch>(
    (acc, p) => ({
      target: { ...acc.target, ...p.target },
      fingerprint: { ...acc.fingerprint, ...p.fingerprint },
      input: { ...acc.input, ...p.input },
    }),
    {},
  );

describe('decide: one rule at a time (docs/behaviour.md#routing)', () => {
  it.each<[string, Patch, ReturnType<typeof shape>]>([
    ['S1: when there is no state then it runs', {}, { kind: 'run', takeover: null }],
    [
      'S4: when the fingerprint failed 3 times, last at T−10m, then it waits ConsecutiveFailures until last+1h',
      blocks.consecutiveFailures,
      { kind: 'wait', reason: 'ConsecutiveFailures', blockKind: 'temporary', until: T + 50 * MIN },
    ],
    [
      'S5: when the 1h cooldown has passed then one trial run is allowed (half-open)',
      { fingerprint: { consecutiveFailedRemediations: 3, lastFailureAt: at(T - 60 * MIN) } },
      { kind: 'run', takeover: null },
    ],
    [
      'S4: when the fingerprint failed only 2 times then it runs',
      { fingerprint: { consecutiveFailedRemediations: 2, lastFailureAt: at(T - MIN) } },
      { kind: 'run', takeover: null },
    ],
    [
      'S6: when another remediation of the fingerprint is active then it ends DuplicateInProgress with duplicateOf',
      blocks.duplicate,
      { kind: 'end', reason: 'DuplicateInProgress', blockedUntil: null, duplicateOf: 'A' },
    ],
    [
      'when the active remediation of the fingerprint is this one then it runs',
      { fingerprint: { active: { remediationId: 'self', workflowId: 'remediation-self', since: at(T) } } },
      { kind: 'run', takeover: null },
    ],
    [
      'S7: when the target needs manual review then it waits PreviousExecutionFailed (manual)',
      blocks.manualReview,
      { kind: 'wait', reason: 'PreviousExecutionFailed', blockKind: 'manual', until: null },
    ],
    [
      'when manualReview is present but not required then it runs',
      {
        target: {
          manualReview: { required: false, reason: 'cleared', since: at(T - MIN), remediationId: 'old' },
        },
      },
      { kind: 'run', takeover: null },
    ],
    [
      'S9: when the target has 5 pre-execution failures then it waits ExhaustedRetries (manual)',
      blocks.exhausted,
      { kind: 'wait', reason: 'ExhaustedRetries', blockKind: 'manual', until: null },
    ],
    [
      'S10: when another remediation holds the lock then it waits ResourceBusy (lock)',
      blocks.busy,
      { kind: 'wait', reason: 'ResourceBusy', blockKind: 'lock', until: null },
    ],
    [
      'when the lock is held by this remediation then it counts as free',
      { target: { lock: lockOf('self') } },
      { kind: 'run', takeover: null },
    ],
    [
      'S24: when the lock holder is closed then the stale lock is taken over',
      merge(blocks.busy, { input: { lockHolderClosed: true } }),
      { kind: 'run', takeover: 'A' },
    ],
    [
      'S12: when the same action succeeded at T−1m then it waits RecentlyRemediated until T+4m',
      blocks.recent,
      { kind: 'wait', reason: 'RecentlyRemediated', blockKind: 'temporary', until: T + 4 * MIN },
    ],
    [
      'S12: when a different action succeeded at T−1m then it runs now',
      merge(blocks.recent, { input: { actionId: 'scale-up' } }),
      { kind: 'run', takeover: null },
    ],
    [
      'S12: when the same action succeeded exactly 5m ago then it runs',
      {
        target: {
          lastSuccess: { actionId: 'restart', remediationId: 'o', pipelineRun: 'p', at: at(T - 5 * MIN) },
        },
      },
      { kind: 'run', takeover: null },
    ],
    [
      'S13: when nextAllowedExecution is in the future then it waits ExponentialBackoff until it',
      blocks.backoff,
      { kind: 'wait', reason: 'ExponentialBackoff', blockKind: 'temporary', until: T + 2 * MIN },
    ],
    [
      'S16: when nextAllowedExecution is now then it runs',
      { target: { consecutiveFailures: 1, nextAllowedExecution: at(T) } },
      { kind: 'run', takeover: null },
    ],
  ])('%s', (_title, patch, expected) => {
    expect(shape(decide(input(patch)))).toEqual(expected);
  });

  it('S5: when the half-open trial failed then it waits ConsecutiveFailures for another full cooldown, then allows one more trial', () => {
    // The trial's failure moved the counter to 4 and lastFailureAt to its end, 1m ago.
    const failedTrial = { fingerprint: { consecutiveFailedRemediations: 4, lastFailureAt: at(T - MIN) } };
    expect(shape(decide(input(failedTrial)))).toEqual({
      kind: 'wait',
      reason: 'ConsecutiveFailures',
      blockKind: 'temporary',
      until: T + 59 * MIN,
    });
    // The cooldown is the configured one, not a constant.
    const config = { ...defaultPolicyConfig, fingerprintCooldownMs: 2 * MIN };
    expect(shape(decide(input(merge(failedTrial, { input: { config } }))))).toMatchObject({
      reason: 'ConsecutiveFailures',
      until: T + MIN,
    });
    expect(decide(input(merge(failedTrial, { input: { config, now: T + MIN - 1 } }))).kind).toBe('wait');
    expect(decide(input(merge(failedTrial, { input: { config, now: T + MIN } }))).kind).toBe('run');
  });

  it('S11: when the lock is free but others queued earlier then it waits ResourceBusy; the head of the queue runs', () => {
    const waiters = [waiter('B', T - 3 * MIN), waiter('self', T - 2 * MIN), waiter('C', T - MIN)];
    expect(shape(decide(input({ target: { waiters } })))).toMatchObject({
      kind: 'wait',
      reason: 'ResourceBusy',
    });
    expect(decide(input({ target: { waiters }, input: { remediationId: 'B' } })).kind).toBe('run');
    expect(decide(input({ target: { waiters: waiters.slice(1) } })).kind).toBe('run');
  });

  it('S11: when this remediation is not queued then it is behind everybody in the queue', () => {
    const verdict = decide(input({ target: { waiters: [waiter('B', T - MIN)] } }));
    expect(shape(verdict)).toMatchObject({ kind: 'wait', reason: 'ResourceBusy', blockKind: 'lock' });
    expect(verdict.checks.find((c) => c.check === 'ResourceBusy')?.detail).toContain('next: B');
  });

  it('S24: when the lock is stale but an earlier waiter is queued then the earlier waiter goes first', () => {
    const verdict = decide(
      input({
        target: { lock: lockOf('A'), waiters: [waiter('B', T - MIN)] },
        input: { lockHolderClosed: true },
      }),
    );
    expect(shape(verdict)).toMatchObject({ kind: 'wait', reason: 'ResourceBusy' });
  });
});

describe('decide: order — the earlier check wins', () => {
  const order: [keyof typeof blocks, BlockReason][] = [
    ['consecutiveFailures', BlockReason.ConsecutiveFailures],
    ['duplicate', BlockReason.DuplicateInProgress],
    ['manualReview', BlockReason.PreviousExecutionFailed],
    ['exhausted', BlockReason.ExhaustedRetries],
    ['busy', BlockReason.ResourceBusy],
    ['recent', BlockReason.RecentlyRemediated],
    ['backoff', BlockReason.ExponentialBackoff],
  ];
  const pairs = order.flatMap((a, i) => order.slice(i + 1).map((b) => [a, b] as const));

  it.each(pairs)(
    'when %j and %j both block then the first one is reported',
    ([first, firstReason], [second]) => {
      const verdict = decide(input(merge(blocks[first], blocks[second])));
      expect(verdict.kind === 'run' ? null : verdict.reason).toBe(firstReason);
    },
  );

  it('when every check blocks then all seven are reported as blocked, in order', () => {
    const verdict = decide(input(merge(...Object.values(blocks))));
    expect(verdict.checks.map((c) => [c.check, c.blocked])).toEqual(
      order.map(([, reason]) => [reason, true]),
    );
  });
});

describe('decide: override (docs/behaviour.md#operator-controls)', () => {
  const override = { input: { overrideActive: true } };

  it.each([
    ['ConsecutiveFailures', blocks.consecutiveFailures],
    ['RecentlyRemediated', blocks.recent],
    ['ExponentialBackoff', blocks.backoff],
  ])('S17: when blocked by %s and overridden then it runs, marking the check overridden', (reason, patch) => {
    const verdict = decide(input(merge(patch, override)));
    expect(verdict.kind).toBe('run');
    expect(verdict.checks.find((c) => c.check === reason)).toMatchObject({ blocked: true, overridden: true });
    expect(verdict.message).toContain(`override skipped ${reason}`);
  });

  it.each([
    ['DuplicateInProgress', blocks.duplicate, 'end'],
    ['PreviousExecutionFailed', blocks.manualReview, 'wait'],
    ['ExhaustedRetries', blocks.exhausted, 'wait'],
    ['ResourceBusy', blocks.busy, 'wait'],
  ])('S17: when blocked by %s then an override does not bypass it', (reason, patch, kind) => {
    const verdict = decide(input(merge(patch, override)));
    expect(verdict).toMatchObject({ kind, reason });
    expect(verdict.checks.some((c) => c.overridden)).toBe(false);
  });

  it('S17: when overridden past RecentlyRemediated but the lock is busy then it still waits ResourceBusy', () => {
    expect(decide(input(merge(blocks.recent, blocks.busy, override)))).toMatchObject({
      kind: 'wait',
      reason: 'ResourceBusy',
    });
  });
});

describe('decide: deadline', () => {
  it('S4: when ConsecutiveFailures lifts after a 30m deadline then it ends at once with blockedUntil', () => {
    const verdict = decide(input(merge(blocks.consecutiveFailures, { input: { deadline: T + 30 * MIN } })));
    expect(shape(verdict)).toEqual({
      kind: 'end',
      reason: 'ConsecutiveFailures',
      blockedUntil: T + 50 * MIN,
      duplicateOf: null,
    });
  });

  it('when a temporary block lifts exactly at the deadline then it ends (it could never run)', () => {
    const verdict = decide(input(merge(blocks.backoff, { input: { deadline: T + 2 * MIN } })));
    expect(shape(verdict)).toMatchObject({
      kind: 'end',
      reason: 'ExponentialBackoff',
      blockedUntil: T + 2 * MIN,
    });
  });

  it('when a temporary block lifts before the deadline then it waits', () => {
    expect(decide(input(merge(blocks.backoff, { input: { deadline: T + 2 * MIN + 1 } }))).kind).toBe('wait');
  });

  it.each([
    ['PreviousExecutionFailed', blocks.manualReview],
    ['ExhaustedRetries', blocks.exhausted],
    ['ResourceBusy', blocks.busy],
  ])('S8: when blocked by %s and the deadline has passed then it ends with that reason', (reason, patch) => {
    const verdict = decide(input(merge(patch, { input: { deadline: T } })));
    expect(shape(verdict)).toEqual({ kind: 'end', reason, blockedUntil: null, duplicateOf: null });
  });

  it('when blocked manually before the deadline then it re-checks at the lock interval, never past the deadline', () => {
    const early = decide(input(blocks.manualReview));
    const late = decide(input(merge(blocks.manualReview, { input: { deadline: T + 10_000 } })));
    expect(early).toMatchObject({ kind: 'wait', recheckAt: T + 30_000 });
    expect(late).toMatchObject({ kind: 'wait', recheckAt: T + 10_000 });
  });

  it('when nothing blocks but the deadline has passed then it ends DeadlineExceeded', () => {
    expect(shape(decide(input({ input: { deadline: T - 1 } })))).toEqual({
      kind: 'end',
      reason: 'DeadlineExceeded',
      blockedUntil: null,
      duplicateOf: null,
    });
  });

  it('when overridden at the deadline then it still ends DeadlineExceeded', () => {
    const verdict = decide(input(merge(blocks.recent, { input: { overrideActive: true, deadline: T } })));
    expect(verdict).toMatchObject({ kind: 'end', reason: 'DeadlineExceeded' });
  });
});

describe('decide: messages carry the numbers', () => {
  it('S13: when backing off then the message says until when and in how long', () => {
    const verdict = decide(
      input({ target: { consecutiveFailures: 1, nextAllowedExecution: at(T + 110_000) } }),
    );
    expect(verdict.message).toContain('2026-01-01T12:01:50.000Z (in 1m50s)');
    expect(verdict.checks.find((c) => c.check === 'ExponentialBackoff')?.detail).toContain(
      '1 consecutive pre-execution',
    );
  });

  it('S4: when ConsecutiveFailures blocks then the detail shows the count against the threshold', () => {
    expect(decide(input(blocks.consecutiveFailures)).message).toContain(
      '3 consecutive failed remediations (threshold 3)',
    );
  });

  it('when a persisted timestamp is corrupt then it throws instead of letting the run through', () => {
    expect(() => decide(input({ target: { nextAllowedExecution: 'yesterday' } }))).toThrow(
      /nextAllowedExecution/,
    );
  });
});

describe('decide: properties', () => {
  const arbInput = fc
    .record({
      fpFailures: fc.integer({ min: 0, max: 6 }),
      lastFailureOffset: fc.option(fc.integer({ min: -3 * 3_600_000, max: 0 })),
      active: fc.constantFrom(null, 'self', 'A'),
      manual: fc.boolean(),
      targetFailures: fc.integer({ min: 0, max: 7 }),
      lock: fc.constantFrom(null, 'self', 'A'),
      waiters: fc.subarray(['B', 'self', 'C']),
      lastSuccessOffset: fc.option(fc.integer({ min: -20 * MIN, max: 0 })),
      sameAction: fc.boolean(),
      nextAllowedOffset: fc.option(fc.integer({ min: -20 * MIN, max: 20 * MIN })),
      deadlineOffset: fc.integer({ min: -10 * MIN, max: 120 * MIN }),
      overrideActive: fc.boolean(),
      lockHolderClosed: fc.boolean(),
    })
    .map((a) =>
      input({
        fingerprint: {
          consecutiveFailedRemediations: a.fpFailures,
          lastFailureAt: a.lastFailureOffset === null ? null : at(T + a.lastFailureOffset),
          active:
            a.active === null
              ? null
              : { remediationId: a.active, workflowId: `remediation-${a.active}`, since: at(T) },
        },
        target: {
          manualReview: a.manual ? { required: true, reason: 'x', since: at(T), remediationId: 'o' } : null,
          consecutiveFailures: a.targetFailures,
          lock: a.lock === null ? null : lockOf(a.lock),
          waiters: a.waiters.map((id, i) => waiter(id, T - (10 - i) * MIN)),
          lastSuccess:
            a.lastSuccessOffset === null
              ? null
              : {
                  actionId: a.sameAction ? 'restart' : 'other',
                  remediationId: 'o',
                  pipelineRun: 'p',
                  at: at(T + a.lastSuccessOffset),
                },
          nextAllowedExecution: a.nextAllowedOffset === null ? null : at(T + a.nextAllowedOffset),
        },
        input: {
          deadline: T + a.deadlineOffset,
          overrideActive: a.overrideActive,
          lockHolderClosed: a.lockHolderClosed,
        },
      }),
    );

  it('never runs at or after the deadline', () => {
    fc.assert(fc.property(arbInput, (i) => !(i.now >= i.deadline && decide(i).kind === 'run')));
  });

  it('a temporary wait always lifts after now and before the deadline', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const v = decide(i);
        return (
          v.kind !== 'wait' ||
          v.blockKind !== 'temporary' ||
          (v.until !== null && v.until > i.now && v.until < i.deadline)
        );
      }),
    );
  });

  it('run ⇒ no check is blocked unless overridden, and only temporary checks are ever overridden', () => {
    const temporary: string[] = ['ConsecutiveFailures', 'RecentlyRemediated', 'ExponentialBackoff'];
    fc.assert(
      fc.property(arbInput, (i) => {
        const v = decide(i);
        const overriddenOk = v.checks.every(
          (c) => !c.overridden || (i.overrideActive && temporary.includes(c.check)),
        );
        return (
          overriddenOk && (v.kind !== 'run' || v.checks.every((c) => !c.blocked || c.overridden === true))
        );
      }),
    );
  });

  it('the verdict reason is the first blocked, non-overridden check', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const v = decide(i);
        const first = v.checks.find((c) => c.blocked && !c.overridden);
        if (v.kind === 'run') return first === undefined;
        return v.reason === (first?.check ?? 'DeadlineExceeded');
      }),
    );
  });

  it('takes over a lock only when its holder is another, closed remediation', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const v = decide(i);
        if (v.kind !== 'run' || v.takeover === null) return true;
        return i.lockHolderClosed && v.takeover.remediationId !== i.remediationId;
      }),
    );
  });
});
