/**
 * Loads ./status-query.ts on first use. As with ./load-heavy.ts, the build replaces this module in
 * the entry bundle by one that loads the separate bundle dist/cli/status-query.cjs through the V8
 * code cache (scripts/build.mjs).
 */
export type StatusQueryModule = typeof import('./status-query.js');

export function loadStatusQuery(): Promise<StatusQueryModule> {
  return import('./status-query.js');
}
