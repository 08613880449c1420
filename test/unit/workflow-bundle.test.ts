/**
 * The workflow bundle shares zod between workflows (src/workflow-bundle.ts): every zod module the
 * workflow code requires must be loaded by the preload, or each cached workflow evaluates its own
 * copy again (about 700 KB per workflow, measured by `npm run bench -- --only memory`).
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleOptions } from '../../src/workflow-bundle';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Module id → the module ids its body requires, read from webpack's development output. */
function requireGraph(code: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const parts = code.split(/^\/\*\*\*\/ "([^"]+)"$/m);
  for (let i = 1; i < parts.length; i += 2) {
    const body = parts[i + 1]!;
    graph.set(
      parts[i]!,
      [...body.matchAll(/__webpack_require__\((?:\/\*[^*]*\*\/\s*)*"([^"]+)"\)/g)].map((m) => m[1]!),
    );
  }
  return graph;
}

function reachable(graph: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length) {
    const id = queue.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    queue.push(...(graph.get(id) ?? []));
  }
  return seen;
}

describe('workflow bundle', () => {
  let code: string;
  beforeAll(async () => {
    ({ code } = await bundleWorkflowCode({ ...workflowBundleOptions, logger: quiet }));
  }, 60_000);

  it('preloads the zod modules the workflow code uses, so they are evaluated once per thread', () => {
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
    const preloaded = [...preload.matchAll(/"([^"]+)"\);/g)].map((m) => m[1]!);
    expect(preloaded).toEqual(['./src/workflows/zod-preload.ts']);

    const graph = requireGraph(code);
    const shared = new Set(preloaded.flatMap((id) => [...reachable(graph, id)]));
    const zodUsedBySource = [...graph]
      .filter(([id]) => id.startsWith('./src/'))
      .flatMap(([, deps]) => deps.filter((dep) => dep.includes('/node_modules/zod/')));
    expect(zodUsedBySource.length).toBeGreaterThan(0);
    expect(zodUsedBySource.filter((dep) => !shared.has(dep))).toEqual([]);
  });

  it('holds one copy of zod (the ES module build the workflow code imports), not also the CommonJS one', () => {
    const zodModules = [...requireGraph(code).keys()].filter((id) => id.includes('/node_modules/zod/'));
    expect(zodModules.length).toBeGreaterThan(0);
    expect(zodModules.filter((id) => id.endsWith('.cjs'))).toEqual([]);
  });
});
