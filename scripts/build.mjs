#!/usr/bin/env node
/**
 * `npm run build` (also npm's `prepare`, so `npm ci` builds): everything that runs in production,
 * prebuilt into dist/ (gitignored), so that nothing compiles TypeScript at run time.
 *
 *   dist/cli/main.mjs (+ chunks/)   the `remediate` CLI: one ESM bundle, dependencies included, split
 *                                   so that each command loads only what it uses (bin/remediate.js)
 *   dist/worker.js                  the worker; dist/intake/main.js the Alertmanager intake (CommonJS,
 *                                   node_modules left outside: the SDK's native core and its worker
 *                                   threads load files of their own packages)
 *   dist/workflow-bundle.js         the workflow code, bundled by the SDK ahead of time, which the
 *                                   bundled worker loads instead of running webpack at start
 *
 * `--if-stale` skips the build when dist/ is newer than every source (what the tests call).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const stamp = join(dist, '.build-stamp');
const target = 'node20';

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

function isStale() {
  if (!existsSync(stamp)) return true;
  const inputs = ['src', 'package.json', 'package-lock.json', 'scripts/build.mjs'].map((p) => join(root, p));
  return Math.max(...inputs.map(newestMtime)) > statSync(stamp).mtimeMs;
}

/** `git describe` of the tree being built, or null without git (e.g. in an image build). */
function gitCommit() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

async function buildCli(buildInfo) {
  await build({
    absWorkingDir: root,
    entryPoints: ['src/cli/main.ts'],
    outdir: 'dist/cli',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target,
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    define: { REMEDIATE_BUILD_INFO: JSON.stringify(buildInfo) },
    // The bundled CommonJS packages (the gRPC stack, protobufjs) expect require and __dirname.
    banner: {
      js: [
        "import { createRequire as __createRequire } from 'node:module';",
        "import { fileURLToPath as __fileURLToPath } from 'node:url';",
        'const require = __createRequire(import.meta.url);',
        'const __filename = __fileURLToPath(import.meta.url);',
        "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
      ].join('\n'),
    },
  });
}

async function buildServers() {
  await build({
    absWorkingDir: root,
    entryPoints: ['src/worker.ts', 'src/intake/main.ts'],
    outbase: 'src',
    outdir: 'dist',
    bundle: true,
    packages: 'external',
    format: 'cjs',
    platform: 'node',
    target,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

/** The SDK's own bundler (webpack) on src/bundle-workflows.ts, run once here instead of at every worker start. */
function buildWorkflowBundle() {
  try {
    execFileSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'src/bundle-workflows.ts'), join(dist, 'workflow-bundle.js')],
      { cwd: root, stdio: 'pipe', encoding: 'utf8' },
    );
  } catch (error) {
    // webpack's progress is noise on success; on failure it is the explanation.
    process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`);
    throw error;
  }
}

async function main() {
  if (process.argv.includes('--if-stale') && !isStale()) return;
  const t0 = Date.now();
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  await Promise.all([buildCli({ version, commit: gitCommit() }), buildServers()]);
  buildWorkflowBundle();
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.stderr.write(`build: dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

main().catch((error) => {
  process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
