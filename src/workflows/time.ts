/**
 * Workflow time and randomness. Inside the Temporal sandbox `Date.now()` is the current workflow
 * task's time and `Math.random()` a PRNG seeded per execution: both replay identically. Workflow
 * code calls only these two, so the lint rule can forbid the globals everywhere else in src/workflows.
 */
/* eslint-disable no-restricted-syntax, no-restricted-properties */
export const now = (): number => Date.now();
export const replaySafeRandom = (): number => Math.random();
