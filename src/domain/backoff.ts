/**
 * Backoff after pre-execution failures. Randomness is a parameter so that workflow
 * code can pass its replay-safe `random` and tests can pin it.
 */
import type { BackoffConfig } from './config';

/**
 * Delay in ms before attempt `n + 1` after the n-th consecutive pre-execution failure (n ≥ 1):
 * `min(base × 2^(n−1), max)`, plus a uniform offset in `[−J, +J)` with `J = jitter × value`
 * (`offset = (random() × 2 − 1) × J`), clamped to `[base, max]` and rounded down to whole ms.
 *
 * Defaults (1m, 10m, 0.1): n=1 → [60s, 66s), 2 → [108s, 132s), 3 → [216s, 264s),
 * 4 → [432s, 528s), ≥5 → [540s, 600s].
 *
 * Throws RangeError when n is not an integer ≥ 1 (the caller passes the counter *after*
 * incrementing it; anything else is a bug that must not turn into a zero or infinite wait) or when
 * `random()` leaves [0, 1]. Huge n saturates at `max`; Infinity and NaN never leak out.
 */
export function backoff(n: number, config: BackoffConfig, random: () => number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`backoff: n must be an integer ≥ 1, got ${n}`);
  const { baseMs, maxMs, jitter } = config;
  // 2^(n−1) overflows to Infinity from n = 1025; any such value is far above max anyway.
  const raw = baseMs === 0 ? 0 : n - 1 >= 1024 ? maxMs : Math.min(baseMs * 2 ** (n - 1), maxMs);
  const r = random();
  if (!(r >= 0 && r <= 1)) throw new RangeError(`backoff: random() must return a number in [0, 1), got ${r}`);
  const j = jitter * raw;
  let value = Math.floor(raw + (r * 2 - 1) * j);
  // For r just below 1 floating point can round the offset up to +J; the interval is half-open.
  if (j > 0 && value >= raw + j) value = Math.ceil(raw + j) - 1;
  return Math.min(Math.max(value, baseMs), maxMs);
}
