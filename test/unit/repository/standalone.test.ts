/**
 * The repository stands alone: no tracked file refers to a path outside it — no relative path that
 * climbs out of the clone, no absolute path of the machine it was written on, no document that only
 * exists next to the repository. Behaviour is documented in docs/ (docs/behaviour.md) and code points
 * there. This file names the forbidden forms, so it is left out of the scan by construction.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

import { repoRoot } from '../deploy/support';

const SELF = relative(repoRoot, __filename).split(sep).join('/');

/** Forms that name something outside the repository, whatever file they appear in. */
const FORBIDDEN: readonly { rule: string; pattern: RegExp }[] = [
  { rule: 'the external behaviour spec', pattern: /\bSEMANTICS\b/ },
  { rule: 'the external interface spec', pattern: /\bINTERFACES(?:\.md)?\b/ },
  {
    rule: 'a shared spec or reference folder',
    pattern: /(?:\.\.\/)+shared\/|\bshared\/(?:spec|reference)\b/,
  },
  { rule: 'an external reference document', pattern: /\btekton-status\.md\b/ },
  { rule: 'an absolute path of the development machine', pattern: /(?:^|[^\w.~-])\/work\// },
];

/**
 * `../x` in a document: resolved against the document's folder (as a Markdown link is), it must stay
 * inside the repository. In code a `../x` may be an import pattern relative to some other file (lint
 * rules), so code is held to the forms above only.
 */
const RELATIVE_PATH = /(?:^|[^\w./-])((?:\.\.\/)+[\w.-]+)/g;
const DOCUMENT = /\.(?:md|markdown|txt)$/;

export interface OutsideReference {
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** Every reference to a path outside the repository in one file (`file` relative to the root). */
export function outsideReferences(file: string, text: string): OutsideReference[] {
  const found: OutsideReference[] = [];
  text.split('\n').forEach((line, index) => {
    for (const { rule, pattern } of FORBIDDEN) {
      const match = pattern.exec(line);
      if (match) found.push({ file, line: index + 1, rule, text: match[0].trim() });
    }
    if (!DOCUMENT.test(file)) return;
    for (const match of line.matchAll(RELATIVE_PATH)) {
      const target = resolve(repoRoot, dirname(file), match[1]!);
      const inside = relative(repoRoot, target);
      if (inside.startsWith('..') || isAbsolute(inside)) {
        found.push({
          file,
          line: index + 1,
          rule: 'a relative path that leaves the repository',
          text: match[1]!,
        });
      }
    }
  });
  return found;
}

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '');
}

describe('the repository stands alone', () => {
  it.each([
    ['a spec section', 'README.md', 'routing (SEMANTICS §4)'],
    ['the interface spec', 'src/x.ts', '// as INTERFACES.md says'],
    ['a sibling folder', 'README.md', 'see [the spec](../shared/spec/routing.md)'],
    ['a sibling folder from code', 'src/x.ts', '// rules in ../shared/routing.md'],
    ['a document above the root', 'README.md', 'see [notes](../notes/a.md)'],
    ['a folder that climbs past the root', 'docs/a.md', '[x](../../elsewhere/a.md)'],
    ['an absolute path', 'test/x.test.ts', "const dir = '/work/main/test';"],
    ['a reference document', 'src/domain/c.ts', '// (tekton-status.md "Classifier")'],
  ])('when a file cites %s then it is reported', (_what, file, text) => {
    expect(outsideReferences(file, text)).not.toEqual([]);
  });

  it.each([
    ['an import of a sibling module', 'src/workflows/remediation.ts', "import { x } from '../shared';"],
    ['a link to another doc', 'docs/operating.md', '[routes](../deploy/intake-routes.yaml)'],
    ['a path from a test to the root', 'test/unit/deploy/support.ts', "join(__dirname, '../../..')"],
    ['a project doc section', 'src/x.ts', '// docs/behaviour.md#routing'],
    ['the tool cache', 'README.md', '~/.cache/remediation-orchestrator/tools'],
    [
      'a lint pattern relative to the importing file',
      'eslint.config.mjs',
      "group: ['../dev', '../../dev/*']",
    ],
  ])('when a file has %s then nothing is reported', (_what, file, text) => {
    expect(outsideReferences(file, text)).toEqual([]);
  });

  it('no tracked file refers to a path outside the repository', () => {
    const files = trackedFiles().filter((f) => f !== SELF);
    expect(files).toContain('README.md');
    const found = files.flatMap((file) => {
      const bytes = readFileSync(join(repoRoot, file));
      if (bytes.includes(0)) return []; // binary (images)
      return outsideReferences(file, bytes.toString('utf8'));
    });
    expect(found).toEqual([]);
  });
});
