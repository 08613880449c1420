/**
 * Durations as the product's users write them:
 * `"90s"`, `"1m"`, `"1h30m"`, `"500ms"`, or a non-negative integer number of milliseconds.
 * Pure: importable in the workflow sandbox. Free of zod (./duration-schema.ts has the schema), so
 * that the CLI formats durations without loading it.
 */

export const DURATION_HINT = 'expected a duration like 90s, 1m, 1h or milliseconds';

/** Units in the only order they may appear (largest first, each at most once). */
const UNITS = [
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
] as const;

// `ms` must be tried before `m`, hence the explicit alternation order inside each group.
const DURATION_RE = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Parses a duration into milliseconds. Strings are integer amounts of `h`, `m`, `s`, `ms` in that
 * order (`"1h30m"`, `"1m6s"`, `"1h0m0s"` as Tekton prints it); numbers are milliseconds and must be
 * non-negative safe integers. Anything else throws a RangeError (no days, decimals or signs: a
 * typo in a safety threshold must not silently become a different value).
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) {
      throw new RangeError(`${DURATION_HINT}, got ${String(input)}`);
    }
    return input;
  }
  if (typeof input !== 'string') throw new RangeError(`${DURATION_HINT}, got ${typeof input}`);
  const match = DURATION_RE.exec(input);
  if (input === '' || !match) throw new RangeError(`${DURATION_HINT}, got ${JSON.stringify(input)}`);
  let ms = 0;
  UNITS.forEach(([, factor], i) => {
    const amount = match[i + 1];
    if (amount !== undefined) ms += Number(amount) * factor;
  });
  if (!Number.isSafeInteger(ms)) throw new RangeError(`duration ${JSON.stringify(input)} is too large`);
  return ms;
}

/**
 * Formats milliseconds for humans and round-trips through {@link parseDuration}:
 * 110000 → `"1m50s"`, 66000 → `"1m6s"`, 0 → `"0s"`, 1500 → `"1s500ms"`. Negative values get a
 * leading `-` (for "overdue by" messages); fractions of a millisecond are rounded.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, factor] of UNITS) {
    const amount = Math.floor(rest / factor);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * factor;
  }
  return out;
}
