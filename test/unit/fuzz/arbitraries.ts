/** fast-check building blocks for the input fuzzers: hostile values and mutations of valid inputs. */
import fc from 'fast-check';
import type { FieldError } from '../../../src/domain/request';

type Path = readonly (string | number)[];
const DELETE = Symbol('delete');

/** Values that tend to break validators: wrong types, edge strings, near-miss spellings. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    'deployment',
    'Deployment',
    'DEPLOYMENT',
    'a'.repeat(129),
    'x'.repeat(5000),
    '30m',
    '1d',
    '-1',
    '2026-03-02T09:41:27Z',
    '2026-03-02T09:41:27',
    'firing',
    'resolved',
    '{{ labels.namespace }}',
    '__proto__',
    'constructor',
    '\u0000',
    '../etc/passwd',
  ),
  fc.constantFrom(null, true, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, [], {}),
);

/** A mutation: replace the value at one of `paths`, or delete it. */
export function mutation(paths: readonly Path[]): fc.Arbitrary<{ path: Path; value: unknown }> {
  return fc.record({
    path: fc.constantFrom(...paths),
    value: fc.oneof({ weight: 5, arbitrary: hostileValue }, { weight: 1, arbitrary: fc.constant(DELETE) }),
  });
}

/** Applies mutations to a deep copy (JSON round trip) of `value`, creating objects on the way. */
export function mutate<T>(value: T, mutations: readonly { path: Path; value: unknown }[]): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  for (const { path, value: next } of mutations) {
    let node = copy as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      if (child === null || typeof child !== 'object') node[key] = {};
      node = node[key] as Record<string | number, unknown>;
    }
    const last = path[path.length - 1];
    if (last === undefined) continue;
    if (next === DELETE) delete node[last];
    // A copy: `constantFrom` hands out the same `[]`/`{}` every time, and a later mutation writing into
    // it would change that constant for every later run (and could make it contain itself).
    else node[last] = structuredClone(next);
  }
  return copy;
}

/** Every rejected input carries at least one error, and each names a field and says what is wrong. */
export function expectNamedErrors(errors: readonly FieldError[]): void {
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) {
    expect(typeof e.field).toBe('string');
    expect(e.field.length).toBeGreaterThan(0);
    expect(typeof e.message).toBe('string');
    expect(e.message.trim().length).toBeGreaterThan(0);
    expect(e.rule.length).toBeGreaterThan(0);
  }
}
