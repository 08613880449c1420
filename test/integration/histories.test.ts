/**
 * Records real histories of the main paths and replays them against the current workflow code.
 * With RECORD_HISTORIES=<tag> they are written to test/fixtures/histories/, where the unit suite's
 * replay test guards every later workflow change against non-determinism.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { targetKey } from '../../src/domain/request';
import { remediationWorkflowId } from '../../src/temporal-contract';
import { RemediationHarness, uniqueName, workflowBundle } from './support/remediation-harness';

const fixtures = join(__dirname, '../fixtures/histories');
const repoRoot = resolve(__dirname, '../..');

describe('workflow histories', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker({ backoff: { base: '500ms', max: '2s' } });
  });
  afterAll(() => h.close());

  async function replayAndMaybeRecord(name: string, workflowId: string): Promise<void> {
    const history = await h.client.client.workflow.getHandle(workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
    // RECORD_HISTORIES=<tag> adds <name>-<tag>.json; earlier recordings stay, so patched() paths keep replaying.
    const tag = process.env.RECORD_HISTORIES;
    // A failure's stack trace names files by absolute path: kept relative to the repository.
    if (tag)
      writeFileSync(
        join(fixtures, `${name}-${tag}.json`),
        historyToJSON(history).split(`${repoRoot}/`).join(''),
      );
  }

  it('S25: histories of the main paths replay deterministically (clean, backoff retry, override, execution failure, clear, duplicate, cancel)', async () => {
    const succeed = await h.definePipeline('succeed');
    const hang = await h.definePipeline('hang');
    const failing = await h.definePipeline('fail-step');

    const clean = await h.start(h.request({ pipeline: succeed }));
    await h.result(clean);

    // Two pre-execution failures (missing Pipeline) retried inside one remediation, then cancelled.
    const retry = await h.start(h.request({ pipeline: uniqueName('missing') }));
    await h.waitFor(retry, (s) => s.attempts >= 2, 30_000, 'two attempts');
    await h.client.cancel(retry);
    await h.result(retry);

    // RecentlyRemediated → override → runs.
    const first = h.request({ pipeline: succeed, action: 'restart' });
    await h.result(await h.start(first));
    const overridden = await h.start({
      ...h.request({ pipeline: succeed, action: 'restart' }),
      target: first.target,
    });
    await h.waitFor(overridden, (s) => s.blockReason === 'RecentlyRemediated', 30_000, 'blocked');
    await h.client.override(overridden, 'recording histories', 'ci');
    await h.result(overridden);

    // Execution failure → manual block → clear → runs; plus a duplicate and a cancel mid-execution.
    const broken = h.request({ pipeline: failing });
    const failed = await h.start(broken);
    await h.result(failed);
    const manualRequest = { ...h.request({ pipeline: hang }), target: broken.target };
    const manual = await h.start(manualRequest);
    await h.waitFor(manual, (s) => s.blockReason === 'PreviousExecutionFailed', 30_000, 'manual block');
    await h.client.clear(targetKey(broken.target), 'recording histories', 'ci');
    await h.waitFor(manual, (s) => s.pipelineRuns.length === 1, 30_000, 'executing');
    const duplicate = await h.start({
      ...h.request({ pipeline: succeed, fingerprint: manualRequest.signal.fingerprint }),
      target: { ...broken.target, name: 'other' },
    });
    await h.result(duplicate);
    await h.client.cancel(manual);
    await h.result(manual);

    for (const [name, id] of Object.entries({ clean, retry, overridden, failed, manual, duplicate })) {
      await replayAndMaybeRecord(name, remediationWorkflowId(id));
    }
  });
});
