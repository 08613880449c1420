/**
 * `require` of a CommonJS bundle with a V8 code cache, so that the next start skips parsing and
 * compiling it (Node 22's module.enableCompileCache does this for every module; Node 20 has none).
 *
 * The cache lives in a folder of the OS temp dir that only the current user can use (checked: V8
 * trusts cached code), one file per bundle path, Node version and bundle mtime/size; V8 rejects a
 * cache whose source does not match, and then a fresh one is written. Writing happens at exit, so
 * the cache also holds the functions this run compiled lazily. Any failure only costs the cache.
 * Keyed by the bundle's full path: two installs of the CLI (say two checkouts) keep a cache each
 * instead of replacing each other's at every alternate run.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Script } from 'node:vm';

export interface CodeCacheOptions {
  /** Where the per-user cache folder is made (default the OS temp dir). */
  cacheRoot?: string;
  /** Runs `write` when the process ends (default process.once('exit')); tests call it themselves. */
  atExit?: (write: () => void) => void;
}

/** `hit`: compiled code came from the cache; `miss`/`rejected`: compiled now, cached at exit; `off`: no usable folder. */
export type CacheUse = 'hit' | 'miss' | 'rejected' | 'off';

/** A cache folder owned by this user and closed to others, or null. */
function privateCacheDir(root: string): string | null {
  const uid = process.getuid?.() ?? 0;
  const dir = join(root, `remediate-code-cache-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    if (stat.uid !== uid || (stat.mode & 0o077) !== 0) return null;
    return dir;
  } catch {
    return null;
  }
}

export function requireWithCodeCache(
  file: string,
  { cacheRoot = tmpdir(), atExit = (write) => process.once('exit', write) }: CodeCacheOptions = {},
): { exports: unknown; cache: CacheUse } {
  const source = readFileSync(file, 'utf8');
  const { mtimeMs, size } = statSync(file);
  const dir = privateCacheDir(cacheRoot);
  const prefix = `${basename(file)}-${createHash('sha256').update(resolve(file)).digest('hex').slice(0, 12)}-`;
  const cacheFile =
    dir && join(dir, `${prefix}${process.version}-${process.arch}-${Math.floor(mtimeMs)}-${size}.v8`);
  let cachedData: Buffer | undefined;
  try {
    if (cacheFile) cachedData = readFileSync(cacheFile);
  } catch {
    // No cache yet.
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const cache: CacheUse = !dir
    ? 'off'
    : cachedData === undefined
      ? 'miss'
      : script.cachedDataRejected
        ? 'rejected'
        : 'hit';
  if (dir && cacheFile && cache !== 'hit') {
    atExit(() => {
      try {
        // The caches of earlier builds (or Node versions) of this bundle are of no use any more.
        for (const old of readdirSync(dir)) {
          if (old.startsWith(prefix) && join(dir, old) !== cacheFile) rmSync(join(dir, old), { force: true });
        }
        writeAtomically(cacheFile, script.createCachedData());
      } catch {
        // A read-only or full temp dir: the next run compiles again.
      }
    });
  }
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return { exports: module.exports, cache };
}

function writeAtomically(path: string, data: Buffer): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
