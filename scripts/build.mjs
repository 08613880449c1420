#!/usr/bin/env node
/**
 * `npm run build` (also npm's `prepare`, so `npm ci` builds): everything that runs in production,
 * prebuilt into dist/ (gitignored), so that nothing compiles TypeScript at run time.
 *
 *   dist/cli/main.js, heavy.cjs     the `remediate` CLI (bin/remediate.js), dependencies included: a
 *                                   small entry that answers --help, --version and completion alone,
 *                                   and the commands with the Temporal and Kubernetes clients, loaded
 *                                   with a V8 code cache when a command runs
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

/**
 * `git describe` of the tree being built; REMEDIATE_COMMIT where there is no git (the image build
 * passes it as a build argument); else null.
 */
function gitCommit() {
  if (process.env.REMEDIATE_COMMIT) return process.env.REMEDIATE_COMMIT;
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

/**
 * The entry bundle gets, instead of src/cli/load-heavy.ts (a plain import of ./heavy.ts), a loader of
 * the separate heavy bundle through the V8 code cache: the entry stays small, and what --help,
 * --version and completion load is only it.
 */
const loadHeavyFromBundle = {
  name: 'load-heavy-from-bundle',
  setup(b) {
    b.onResolve({ filter: /\/load-heavy(\.js)?$/ }, () => ({ path: 'load-heavy', namespace: 'remediate' }));
    b.onLoad({ filter: /^load-heavy$/, namespace: 'remediate' }, () => ({
      resolveDir: join(root, 'src', 'cli'),
      loader: 'ts',
      contents: `
        import { join } from 'node:path';
        import { requireWithCodeCache } from './code-cache';
        import type { Heavy } from './load-heavy';
        let heavy: Heavy | undefined;
        export function loadHeavy(): Promise<Heavy> {
          heavy ??= requireWithCodeCache(join(__dirname, 'heavy.cjs')).exports as Heavy;
          return Promise.resolve(heavy);
        }`,
    }));
  },
};

/**
 * The CLI never uses the Temporal Cloud operations API, a quarter of the protobuf definitions the SDK
 * builds at load: left out of the CLI bundle (the worker loads the SDK as published).
 */
const withoutCloudProtos = {
  name: 'without-cloud-protos',
  setup(b) {
    b.onLoad({ filter: /@temporalio[\\/]proto[\\/]protos[\\/]json-module\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const start = source.indexOf('.addJSON(') + '.addJSON('.length;
      const end = source.lastIndexOf(');');
      const protos = JSON.parse(source.slice(start, end));
      if (!protos.temporal?.nested?.api?.nested?.cloud) throw new Error(`${path}: no temporal.api.cloud`);
      delete protos.temporal.nested.api.nested.cloud;
      return { contents: source.slice(0, start) + JSON.stringify(protos) + source.slice(end), loader: 'js' };
    });
  },
};

async function buildCli(buildInfo) {
  const common = {
    absWorkingDir: root,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  };
  await Promise.all([
    build({
      ...common,
      entryPoints: ['src/cli/main.ts'],
      outfile: 'dist/cli/main.js',
      define: { REMEDIATE_BUILD_INFO: JSON.stringify(buildInfo) },
      plugins: [loadHeavyFromBundle],
    }),
    build({
      ...common,
      entryPoints: ['src/cli/heavy.ts'],
      outfile: 'dist/cli/heavy.cjs',
      minify: true,
      keepNames: true,
      plugins: [withoutCloudProtos],
    }),
  ]);
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
