import fc from 'fast-check';
// The PRNG behind Math.random in Temporal's workflow sandbox (seeded per execution, replayed as is).
import { alea } from '@temporalio/workflow/lib/alea';
import { backoff } from '../../../src/domain/backoff';
import { defaultPolicyConfig, type BackoffConfig } from '../../../src/domain/config';

const defaults = defaultPolicyConfig.backoff;
const randomIn01 = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

// docs/behaviour.md#backoff table, in ms: [low, high, highInclusive].
const table: [number, number, number, boolean][] = [
  [1, 60_000, 66_000, false],
  [2, 108_000, 132_000, false],
  [3, 216_000, 264_000, false],
  [4, 432_000, 528_000, false],
  [5, 540_000, 600_000, true],
  [9, 540_000, 600_000, true],
];

describe('backoff (docs/behaviour.md#backoff)', () => {
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

  describe('S25: replay-deterministic with respect to the random source', () => {
    // Inside the workflow sandbox Math.random is Temporal's Alea PRNG seeded per execution, so a
    // replay sees the same sample sequence. One sample is drawn per failure and handed to backoff.
    const rungs = [1, 2, 3, 4, 5, 6, 7, 8];
    const ladder = (random: () => number) => rungs.map((n) => backoff(n, defaults, () => random()));
    const seeds = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 8, maxLength: 8 });
    // Rung 2 is never clamped: value = floor(108,000 + 24,000·r), one whole ms per 1/24,000 of r.
    const rung2Step = 1 / 24_000;

    it('when the same sample sequence is replayed then the whole ladder is the same, whatever else is random or the clock says', () => {
      const samples = [0.01, 0.97, 0.42, 0.66, 0.13, 0.5, 0.999, 0.25];
      const replay = () => {
        const it = samples[Symbol.iterator]();
        return ladder(() => it.next().value!);
      };
      const first = replay();
      // Ambient randomness and time differ on the replay: the result must not depend on them.
      const mathRandom = jest.spyOn(Math, 'random').mockReturnValue(0.123);
      const dateNow = jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2031-05-05T05:05:05Z'));
      try {
        expect(replay()).toEqual(first);
      } finally {
        mathRandom.mockRestore();
        dateNow.mockRestore();
      }
      expect(first).toEqual([60_000, 131_280, 236_160, 495_360, 555_600, 600_000, 600_000, 570_000]);
    });

    it('when the samples differ then the delays differ (jitter is present and follows the sample)', () => {
      const low = ladder(() => 0.1);
      const high = ladder(() => 0.9);
      // Every unclamped rung moves with the sample; the clamped ones (1 at base, ≥5 at max) may tie.
      for (const i of [1, 2, 3]) expect(low[i]).toBeLessThan(high[i]!);
      expect(low).not.toEqual(high);
    });

    it('when replayed from the same seed then every ladder is identical and in range; different seeds give different ladders', () => {
      fc.assert(
        fc.property(seeds, seeds, (a, b) => {
          const once = ladder(alea(a));
          const again = ladder(alea(a));
          expect(again).toEqual(once);
          rungs.forEach((n, i) => {
            const [, low, high, inclusive] = table.find(([m]) => m === Math.min(n, 5))!;
            expect(once[i]).toBeGreaterThanOrEqual(low);
            if (inclusive) expect(once[i]).toBeLessThanOrEqual(high);
            else expect(once[i]).toBeLessThan(high);
          });
          // Rungs 2–4 are unclamped: three independent ties at ≥ 1 in 24,000 each would be needed.
          if (a.join() !== b.join()) expect(ladder(alea(b))).not.toEqual(once);
        }),
      );
    });

    it('when two samples are at least one step apart then rung 2 orders them strictly (no constant, no ignored sample)', () => {
      fc.assert(
        fc.property(randomIn01, randomIn01, (r1, r2) => {
          fc.pre(Math.abs(r1 - r2) >= rung2Step);
          const [lo, hi] = r1 < r2 ? [r1, r2] : [r2, r1];
          expect(backoff(2, defaults, () => lo)).toBeLessThan(backoff(2, defaults, () => hi));
        }),
      );
    });
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
