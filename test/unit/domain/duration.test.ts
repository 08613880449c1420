import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../../src/domain/duration';
import { durationSchema } from '../../../src/domain/duration-schema';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1m6s', 66_000],
    ['1h0m0s', 3_600_000],
    ['2m30s250ms', 150_250],
    ['0s', 0],
    [0, 0],
    [1500, 1500],
  ])('when given %p then returns %p ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '2d', '1.5h', '-1m', '1m1h', '10', 'ms', '1 m', '1H', ' 1m', '1s1s'])(
    'when given %p then throws',
    (input) => {
      expect(() => parseDuration(input)).toThrow(RangeError);
    },
  );

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])(
    'when given the number %p then throws',
    (input) => {
      expect(() => parseDuration(input)).toThrow(RangeError);
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [110_000, '1m50s'],
    [66_000, '1m6s'],
    [0, '0s'],
    [500, '500ms'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [1_500, '1s500ms'],
    [-66_000, '-1m6s'],
  ])('when given %p ms then prints %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration for every non-negative integer', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }),
        (ms) => parseDuration(formatDuration(ms)) === ms,
      ),
    );
  });
});

describe('durationSchema', () => {
  it('when given a duration string then yields milliseconds', () => {
    expect(durationSchema.parse('1m30s')).toBe(90_000);
  });

  it('when given something else then explains the expected form', () => {
    for (const bad of ['soon', true, null, -5]) {
      const result = durationSchema.safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toContain(
        'expected a duration like 90s, 1m, 1h or milliseconds',
      );
    }
  });
});
