/**
 * The prebuilt worker and intake (scripts/build.mjs) carry the Kubernetes client inside their bundle:
 * loaded from node_modules, @kubernetes/client-node brings its whole generated API into every
 * worker's heap (docs/scale.md, Worker memory). Loaded in a child process, as `node dist/worker.js`
 * loads them, with every package request recorded.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');

/** The packages (bare module requests) loading `entry` asks Node for, and the entry's exports. */
function packagesRequested(entry: string): { packages: string[]; exports: string[] } {
  const script = `
    const Module = require('node:module');
    const requested = new Set();
    const load = Module._load;
    Module._load = function (request, ...rest) {
      if (!request.startsWith('.') && !request.startsWith('/') && !request.startsWith('node:')) requested.add(request);
      return load.call(this, request, ...rest);
    };
    const loaded = require(${JSON.stringify(join(root, entry))});
    process.stdout.write(JSON.stringify({ packages: [...requested], exports: Object.keys(loaded) }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })) as {
    packages: string[];
    exports: string[];
  };
}

describe.each(['dist/worker.js', 'dist/intake/main.js'])('%s', (entry) => {
  it('loads without @kubernetes/client-node from node_modules', () => {
    const { packages } = packagesRequested(entry);
    expect(packages.filter((p) => p.startsWith('@kubernetes/'))).toEqual([]);
    // Still loaded from node_modules: the SDK (its native core and worker threads need their package files).
    expect(packages).toEqual(expect.arrayContaining(['@temporalio/client']));
  });
});

it('the bundled worker still exports its entry points', () => {
  expect(packagesRequested('dist/worker.js').exports).toEqual(
    expect.arrayContaining(['createRemediationWorker', 'runWorker']),
  );
});
