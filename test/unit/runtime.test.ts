/**
 * The runtime the project ships on: the image's Node is a current LTS that `engines` accepts, and it is
 * the Node that test/integration/node-lts.test.ts runs the prebuilt CLI and worker on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

describe('runtime', () => {
  const dockerfile = read('Dockerfile');
  const image = /^ARG NODE_IMAGE=node:(\d+)\.(\d+)\.(\d+)-\S+$/m.exec(dockerfile);
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;

  it('the image is on an even (LTS) Node major of 22 or later', () => {
    expect(image).not.toBeNull();
    const major = Number(image![1]);
    expect(major).toBeGreaterThanOrEqual(22);
    expect(major % 2).toBe(0);
  });

  it('engines accepts the image Node, 22.12+ and the machine Node the suites run on', () => {
    const ranges = engines.split('||').map((r) => r.trim());
    const accepts = (version: string): boolean => {
      const [major, minor] = version.replace(/^v/, '').split('.').map(Number) as [number, number];
      return ranges.some((range) => {
        const caret = /^\^(\d+)\.(\d+)\.\d+$/.exec(range);
        if (caret) return major === Number(caret[1]) && minor >= Number(caret[2]);
        const atLeast = /^>=(\d+)\.\d+\.\d+$/.exec(range);
        if (atLeast) return major >= Number(atLeast[1]);
        throw new Error(`unexpected range ${range}`);
      });
    };
    expect(accepts(`${image![1]}.${image![2]}.${image![3]}`)).toBe(true);
    expect(accepts('22.12.0')).toBe(true);
    expect(accepts('22.11.0')).toBe(false);
    expect(accepts(process.version)).toBe(true);
  });

  it('the Node LTS test runs the image Node', () => {
    const tested = /const NODE_LTS = '([\d.]+)'/.exec(read('test/integration/node-lts.test.ts'));
    expect(tested?.[1]).toBe(`${image![1]}.${image![2]}.${image![3]}`);
  });

  it('the image runs the prebuilt worker; nothing compiles at start', () => {
    expect(dockerfile).toMatch(/^RUN .*node scripts\/build\.mjs$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/worker\.js"\]$/m);
    expect(dockerfile).not.toMatch(/^(CMD|ENTRYPOINT)\b.*\btsx\b/m);
    // The runtime stage takes the build's dist/ (with dist/workflow-bundle.js), not the sources.
    const runtimeStage = dockerfile.slice(dockerfile.indexOf(' AS runtime'));
    expect(runtimeStage).toMatch(/^COPY --from=build .*\/app\/dist \.\/dist$/m);
    expect(runtimeStage).not.toMatch(/^COPY .*\bsrc\b/m);
  });
});
