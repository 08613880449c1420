import { TemporalRemediations } from '../../src/adapters/temporal-remediations';
import { parseTargetKey } from '../../src/domain/request';
import { remediationWorkflowId } from '../../src/temporal-contract';
import { remediationsContract } from '../contract/remediations.contract';
import { RemediationHarness, sleep, uniqueName } from './support/remediation-harness';

remediationsContract('TemporalRemediations on the real Temporal server', async () => {
  const h = await new RemediationHarness().open();
  await h.startWorker();
  const pipeline = await h.definePipeline('succeed');
  const remediations = new TemporalRemediations(h.client.client);
  const idOf = (workflowId: string): string => workflowId.slice('remediation-'.length);
  return {
    remediations,
    // A remediation that waits RecentlyRemediated: every wake shows as one more routing pass.
    async startRunning(targetKey) {
      const target = await h.ledger.getTarget(targetKey);
      if (!target.lastSuccess) {
        await h.ledger.putTarget({
          ...target,
          lastSuccess: {
            actionId: 'restart',
            remediationId: 'seed',
            pipelineRun: 'seed',
            at: new Date().toISOString(),
          },
        });
      }
      const request = {
        ...h.request({ pipeline, action: 'restart', fingerprint: uniqueName('fp') }),
        target: parseTargetKey(targetKey),
      };
      const id = await h.start(request);
      await h.waitFor(id, (s) => s.blockReason === 'RecentlyRemediated', 30_000, 'blocked');
      return remediationWorkflowId(id);
    },
    async close(workflowId) {
      await h.client.client.workflow.getHandle(workflowId).terminate('contract test');
    },
    async wakesOf(workflowId) {
      const status = await h.client.status(idOf(workflowId));
      return status.timeline.filter((e) => e.event === 'routing').length - 1;
    },
    async duplicatesOf(workflowId) {
      return (await h.client.status(idOf(workflowId))).duplicates;
    },
    async eventually(read, check) {
      const until = Date.now() + 15_000;
      let value = await read();
      while (!check(value) && Date.now() < until) {
        await sleep(200);
        value = await read();
      }
      return value;
    },
    teardown: () => h.close(),
  };
});
