import fc from 'fast-check';
import { backoff } from '../../../src/domain/backoff';
import { defaultPolicyConfig, type BackoffConfig } from '../../../src/domain/config';

const defaults = defaultPolicyConfig.backoff;
const randomIn01 = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

// SEMANTICS §6 table, in ms: [low, high, highInclusive].
const table: [number, number, number, boolean][] = [
  [1, 60_000, 66_000, false],
  [2, 108_000, 132_000, false],
  [3, 216_000, 264_000, false],
  [4, 432_000, 528_000, false],
  [5, 540_000, 600_000, true],
  [9, 540_000, 600_000, true],
];

describe('backoff (SEMANTICS §6)', () => {
  it.each(table)(
    'S13/S25: when n=%p then every sample lies in the table range',
    (n, low, high, inclusive) => {
      fc.assert(
        fc.property(randomIn01, (r) => {
          const v = backoff(n, defaults, () => r);
          return v >= low && (inclusive ? v <= high : v < high);
        }),
      );
    },
  );

  it('S25: when n ≥ 5 then samples stay in [540s, 600s] however large n gets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: Number.MAX_SAFE_INTEGER }), randomIn01, (n, r) => {
        const v = backoff(n, defaults, () => r);
        return v >= 540_000 && v <= 600_000 && Number.isFinite(v);
      }),
    );
  });

  it('S25: when sampled with different randoms then jitter varies the result', () => {
    const samples = new Set([0, 0.25, 0.5, 0.75, 0.99].map((r) => backoff(2, defaults, () => r)));
    expect(samples.size).toBe(5);
  });

  it('S25: when given the same random then the result is the same (replay-deterministic)', () => {
    expect(backoff(3, defaults, () => 0.3)).toBe(backoff(3, defaults, () => 0.3));
  });

  it('when the random is at its extremes then the offset spans [−J, +J)', () => {
    expect(backoff(2, defaults, () => 0)).toBe(108_000);
    expect(backoff(2, defaults, () => 0.5)).toBe(120_000);
    expect(backoff(2, defaults, () => 0.999_999_9)).toBe(131_999);
  });

  const configs = fc
    .record({
      baseMs: fc.integer({ min: 0, max: 3_600_000 }),
      spanMs: fc.integer({ min: 0, max: 86_400_000 }),
      jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ baseMs, spanMs, jitter }): BackoffConfig => ({ baseMs, maxMs: baseMs + spanMs, jitter }));

  it('when the config is any valid one then results are whole ms within [base, max]', () => {
    fc.assert(
      fc.property(configs, fc.integer({ min: 1, max: 5000 }), randomIn01, (c, n, r) => {
        const v = backoff(n, c, () => r);
        return Number.isInteger(v) && v >= c.baseMs && v <= c.maxMs;
      }),
    );
  });

  it('when n grows then the upper bound of the range never shrinks', () => {
    const upper = (n: number, c: BackoffConfig) => backoff(n, c, () => 0.999_999_9);
    fc.assert(
      fc.property(configs, fc.integer({ min: 1, max: 2000 }), (c, n) => upper(n + 1, c) >= upper(n, c)),
    );
  });

  it('when jitter is 0 then the value is exactly min(base × 2^(n−1), max)', () => {
    const c = { baseMs: 1000, maxMs: 10_000, jitter: 0 };
    expect([1, 2, 3, 4, 5].map((n) => backoff(n, c, () => 0.7))).toEqual([1000, 2000, 4000, 8000, 10_000]);
  });

  it('when base equals max then the value is constant', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        randomIn01,
        (n, r) => backoff(n, { baseMs: 5000, maxMs: 5000, jitter: 0.5 }, () => r) === 5000,
      ),
    );
  });

  it('when base is 0 then there is no backoff (and no NaN for huge n)', () => {
    expect(backoff(2000, { baseMs: 0, maxMs: 1000, jitter: 0.1 }, () => 0.5)).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('when n is %p then it throws RangeError', (n) => {
    expect(() => backoff(n, defaults, () => 0.5)).toThrow(RangeError);
  });

  it.each([-0.1, 1.1, Number.NaN])('when random() returns %p then it throws RangeError', (r) => {
    expect(() => backoff(1, defaults, () => r)).toThrow(RangeError);
  });
});
