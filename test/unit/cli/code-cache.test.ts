import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireWithCodeCache } from '../../../src/cli/code-cache';

describe('requireWithCodeCache', () => {
  let dir: string;
  let bundle: string;
  let cacheRoot: string;
  let pending: (() => void)[];
  const atExit = (write: () => void) => void pending.push(write);
  const exit = () => pending.splice(0).forEach((write) => write());
  const load = () => requireWithCodeCache(bundle, { cacheRoot, atExit });
  const cacheDir = () => join(cacheRoot, `remediate-code-cache-${process.getuid!()}`);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'code-cache-test-'));
    bundle = join(dir, 'bundle.cjs');
    cacheRoot = join(dir, 'tmp');
    mkdirSync(cacheRoot);
    pending = [];
    // Module-shaped: require, module, __filename and __dirname are the bundle's own.
    writeFileSync(
      bundle,
      "const { basename } = require('node:path');\n" +
        'module.exports = { name: basename(__filename), dir: __dirname, twice: (n) => n * 2 };\n',
    );
  });

  it('runs the bundle as a CommonJS module and caches its code at exit, for the next run', () => {
    const first = load();
    expect(first.cache).toBe('miss');
    expect(first.exports).toMatchObject({ name: 'bundle.cjs', dir });
    expect((first.exports as { twice(n: number): number }).twice(21)).toBe(42);
    expect(readdirSync(cacheRoot)).toEqual([`remediate-code-cache-${process.getuid!()}`]);
    expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
    exit();
    expect(readdirSync(cacheDir())).toHaveLength(1);

    expect(load().cache).toBe('hit');
    expect(pending).toHaveLength(0); // nothing to write after a hit
  });

  it('when the bundle changes then the old cache is replaced', () => {
    load();
    exit();
    const [before] = readdirSync(cacheDir());
    writeFileSync(bundle, 'module.exports = { changed: true };\n');
    const changed = load();
    expect(changed).toEqual({ exports: { changed: true }, cache: 'miss' });
    exit();
    const after = readdirSync(cacheDir());
    expect(after).toHaveLength(1);
    expect(after).not.toEqual([before]);
  });

  it('when the cache file is garbage then V8 rejects it, the bundle still runs and a good cache is written', () => {
    // In a fresh process each time: within one process V8 reuses its own compilation of the source.
    const inChild = () =>
      JSON.parse(
        execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            '-e',
            `const { requireWithCodeCache } = require(${JSON.stringify(join(__dirname, '../../../src/cli/code-cache.ts'))});
             const { exports, cache } = requireWithCodeCache(${JSON.stringify(bundle)}, { cacheRoot: ${JSON.stringify(cacheRoot)} });
             console.log(JSON.stringify({ cache, name: exports.name }));`,
          ],
          { encoding: 'utf8' },
        ),
      ) as { cache: string; name: string };
    expect(inChild()).toEqual({ cache: 'miss', name: 'bundle.cjs' });
    expect(inChild()).toEqual({ cache: 'hit', name: 'bundle.cjs' });
    const [file] = readdirSync(cacheDir());
    writeFileSync(join(cacheDir(), file!), 'not a code cache');
    expect(inChild()).toEqual({ cache: 'rejected', name: 'bundle.cjs' });
    expect(inChild()).toEqual({ cache: 'hit', name: 'bundle.cjs' });
  });

  it('when another install has a bundle of the same name then each keeps its own cache', () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    const otherBundle = join(other, 'bundle.cjs');
    writeFileSync(otherBundle, 'module.exports = { other: true };\n');
    const loadOther = () => requireWithCodeCache(otherBundle, { cacheRoot, atExit });
    load();
    exit();
    loadOther();
    exit();
    expect(readdirSync(cacheDir())).toHaveLength(2);
    expect(load().cache).toBe('hit');
    expect(loadOther().cache).toBe('hit');
  });

  it('when the cache folder is open to others then it is not used', () => {
    mkdirSync(cacheDir(), { mode: 0o777 });
    chmodSync(cacheDir(), 0o777);
    const loaded = load();
    expect(loaded.cache).toBe('off');
    expect(loaded.exports).toMatchObject({ name: 'bundle.cjs' });
    expect(pending).toHaveLength(0);
    expect(readdirSync(cacheDir())).toEqual([]);
  });
});
