/**
 * Loads ./heavy.ts on first use. This is the source's way (tests, tsx); the build replaces this
 * module in the entry bundle by one that loads the separate bundle dist/cli/heavy.cjs through
 * {@link requireWithCodeCache} (scripts/build.mjs), so the entry never contains the heavy code.
 */
export type Heavy = typeof import('./heavy.js');

export function loadHeavy(): Promise<Heavy> {
  return import('./heavy.js');
}
