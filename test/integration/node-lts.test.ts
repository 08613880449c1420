/**
 * The prebuilt worker and CLI on Node 24, the current LTS, installed from the npm registry's `node`
 * package by scripts/provision-node.sh (cached by version), while the suites themselves run on the
 * machine's Node: a remediation started and followed with the CLI on Node 24 is run by the bundled
 * worker (dist/worker.js with its prebuilt workflow bundle) on Node 24.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnWorker, type WorkerProcess } from '../../src/dev/stack/worker-process';
import { RemediationHarness, uniqueName } from './support/remediation-harness';

const NODE_LTS = '24.21.0';
const root = join(__dirname, '../..');

describe(`on Node ${NODE_LTS}`, () => {
  const h = new RemediationHarness();
  let node: string;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    await h.open();
    node = execFileSync('bash', [join(root, 'scripts/provision-node.sh'), NODE_LTS], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    worker = spawnWorker(h.info, h.taskQueue, {}, { compiled: true, node });
    await worker.ready;
  });
  afterAll(async () => {
    await worker?.stop();
    await h.close();
  });

  const remediate = (...args: string[]) =>
    promisify(execFile)(node, [join(root, 'bin/remediate.js'), ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: h.info.temporal.address,
        TEMPORAL_NAMESPACE: h.info.temporal.namespace,
        REMEDIATION_TASK_QUEUE: h.taskQueue,
      },
      timeout: 90_000,
    });

  it('the CLI runs on it', async () => {
    const { stdout } = await remediate('--version', '--json');
    expect(JSON.parse(stdout)).toMatchObject({ node: `v${NODE_LTS}` });
  });

  it('a remediation started with the CLI is run by the worker to Completed', async () => {
    const pipeline = await h.definePipeline('succeed', 300);
    const { stdout } = await remediate(
      'start',
      '--fingerprint',
      uniqueName('fp'),
      '--target',
      `${uniqueName('prod')}/Deployment/api`,
      '--action',
      'restart-deployment',
      '--pipeline',
      pipeline,
      '--param',
      'name=api',
      '--wait',
      '--json',
    );
    const last = stdout.trimEnd().split('\n').at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ phase: 'Completed', reason: 'Succeeded' });
    expect(worker!.output()).toContain(`"msg":"worker started","taskQueue":"${h.taskQueue}"`);
  });
});
