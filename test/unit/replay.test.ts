import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleOptions } from '../../src/workflow-bundle';

const dir = join(__dirname, '../fixtures/histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of committed histories (determinism guard)', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });

  it.each(files)(
    'S25: %s replays without non-determinism',
    async (file) => {
      const workflowBundle = await bundle();
      const history: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      await expect(
        Worker.runReplayHistory({ workflowBundle }, history, `replay-${file}`),
      ).resolves.toBeUndefined();
    },
    60_000,
  );
});

let cached: ReturnType<typeof bundleWorkflowCode> | undefined;
function bundle(): ReturnType<typeof bundleWorkflowCode> {
  cached ??= bundleWorkflowCode({
    ...workflowBundleOptions,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  return cached;
}
