#!/usr/bin/env node
/**
 * `npm run build` (also npm's `prepare`, so `npm ci` builds): everything that runs in production,
 * prebuilt into dist/ (gitignored), so that nothing compiles TypeScript at run time.
 *
 *   dist/cli/main.js, heavy.cjs,    the `remediate` CLI (bin/remediate.js), dependencies included: a
 *   status-query.cjs                small entry that answers --help, --version and completion alone,
 *                                   the commands with the Temporal and Kubernetes clients, and the
 *                                   one call of `status ID` with only what it needs, each loaded
 *                                   with a V8 code cache when a command runs
 *   dist/worker.js                  the worker; dist/intake/main.js the Alertmanager intake (CommonJS;
 *                                   our dependencies stay in node_modules — the SDK's native core and
 *                                   its worker threads load files of their own packages — except the
 *                                   Kubernetes client, bundled so only what we call is loaded)
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
import { pruneProtos } from './prune-protos.mjs';

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
 * The entry bundle gets, instead of src/cli/load-heavy.ts and src/cli/load-status-query.ts (plain
 * imports of ./heavy.ts and ./status-query.ts), loaders of the separate bundles through the V8 code
 * cache: the entry stays small, and what --help, --version and completion load is only it.
 */
const loadBundlesApart = {
  name: 'load-bundles-apart',
  setup(b) {
    const loaders = {
      'load-heavy': { bundle: 'heavy.cjs', type: 'Heavy', fn: 'loadHeavy' },
      'load-status-query': { bundle: 'status-query.cjs', type: 'StatusQueryModule', fn: 'loadStatusQuery' },
    };
    b.onResolve({ filter: /\/load-(heavy|status-query)(\.js)?$/ }, ({ path }) => ({
      path: path.replace(/^.*\//, '').replace(/\.js$/, ''),
      namespace: 'remediate',
    }));
    b.onLoad({ filter: /^load-/, namespace: 'remediate' }, ({ path }) => {
      const { bundle, type, fn } = loaders[path];
      return {
        resolveDir: join(root, 'src', 'cli'),
        loader: 'ts',
        contents: `
          import { join } from 'node:path';
          import { requireWithCodeCache } from './code-cache';
          import type { ${type} } from './${path}';
          let loaded: ${type} | undefined;
          export function ${fn}(): Promise<${type}> {
            loaded ??= requireWithCodeCache(join(__dirname, '${bundle}')).exports as ${type};
            return Promise.resolve(loaded);
          }`,
      };
    });
  },
};

/**
 * The Temporal API's protobuf definitions, which the SDK builds at load, rewritten for a CLI bundle:
 * `prune(protos)` returns what that bundle keeps.
 */
function rewriteProtos(name, prune) {
  return {
    name,
    setup(b) {
      b.onLoad({ filter: /@temporalio[\\/]proto[\\/]protos[\\/]json-module\.js$/ }, ({ path }) => {
        const source = readFileSync(path, 'utf8');
        const start = source.indexOf('.addJSON(') + '.addJSON('.length;
        const end = source.lastIndexOf(');');
        const protos = prune(JSON.parse(source.slice(start, end)), path);
        return {
          contents: source.slice(0, start) + JSON.stringify(protos) + source.slice(end),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * The commands never use the Temporal Cloud operations API, a quarter of the protobuf definitions:
 * left out of the commands bundle (the worker loads the SDK as published).
 */
function withoutCloud(protos, path) {
  if (!protos.temporal?.nested?.api?.nested?.cloud) throw new Error(`${path}: no temporal.api.cloud`);
  delete protos.temporal.nested.api.nested.cloud;
  return protos;
}

/**
 * `status ID` makes one call, QueryWorkflow: its bundle keeps that method's messages, the messages
 * the SDK reads by name, and every enum and service (a tenth of the definitions: building all of
 * them is most of what the SDK's start-up costs).
 */
function queryOnly(protos) {
  return pruneProtos(protos, {
    methods: { 'temporal.api.workflowservice.v1.WorkflowService': ['QueryWorkflow'] },
    // Read by name: gRPC error details (google.rpc.Status and what it carries), and the payload
    // messages the SDK's converters bind when they load.
    types: [
      'google.rpc.Status',
      'temporal.api.errordetails.v1',
      'temporal.api.common.v1.Payload',
      'temporal.api.sdk.v1.ExternalStorageReference',
    ],
  });
}

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
      plugins: [loadBundlesApart],
    }),
    build({
      ...common,
      entryPoints: ['src/cli/heavy.ts'],
      outfile: 'dist/cli/heavy.cjs',
      minify: true,
      keepNames: true,
      plugins: [rewriteProtos('without-cloud', withoutCloud)],
    }),
    build({
      ...common,
      entryPoints: ['src/cli/status-query.ts'],
      outfile: 'dist/cli/status-query.cjs',
      minify: true,
      keepNames: true,
      plugins: [rewriteProtos('query-only', queryOnly)],
    }),
  ]);
}

/**
 * The packages the worker and the intake load from node_modules: our dependencies, except the
 * Kubernetes client. Loaded as published, @kubernetes/client-node (ESM) brings its whole generated
 * API, every group's clients and models, into the worker's heap: measured 16 MB of JS heap and 30 MB
 * of RSS of an idle worker. Bundled, only the few APIs we call stay (about 1 MB of code).
 */
function serverExternals() {
  const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return Object.keys(dependencies).filter((name) => name !== '@kubernetes/client-node');
}

async function buildServers() {
  await build({
    absWorkingDir: root,
    entryPoints: ['src/worker.ts', 'src/intake/main.ts'],
    outbase: 'src',
    outdir: 'dist',
    bundle: true,
    external: serverExternals(),
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
