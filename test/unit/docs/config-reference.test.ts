import { readFileSync } from 'node:fs';
import { configReferencePath, renderConfigReference } from '../../../src/docs/config-reference';

describe('configuration reference', () => {
  it('docs/configuration.md is what the zod schemas generate (run `npm run docs:config` after changing them)', () => {
    expect(readFileSync(configReferencePath, 'utf8')).toBe(renderConfigReference());
  });

  it('documents every policy and worker key with a meaning', () => {
    const rows = renderConfigReference()
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThanOrEqual(18);
    for (const row of rows) expect(row).not.toMatch(/\|\s*\|$/);
  });
});
