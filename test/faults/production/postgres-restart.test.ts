import { sleep } from '../../integration/support/remediation-harness';
import { expectWaitsEndedOnTime, startBlocked } from '../support/checks';
import { useFaultStack } from '../support/fault-stack';

describe('fault: PostgreSQL restarted (production topology)', () => {
  const fault = useFaultStack();

  it.each([
    ['fast', 'a clean shutdown'],
    ['immediate', 'a crash, recovered from the WAL'],
  ] as const)(
    'PostgreSQL stopped (%s: %s) during durable waits and started again → every wait ends on time, one PipelineRun each',
    async (mode, what) => {
      const { stack, h } = fault;
      const temporal = stack.production;
      const pipeline = await h.definePipeline('succeed');
      await h.startWorker();
      const blockedUntil = Date.now() + 30_000;
      const blocked = await startBlocked(h, pipeline, 10, blockedUntil);
      await Promise.all(blocked.map(({ id }) => h.waitForPhase(id, 'Blocked', 30_000)));

      const down = Date.now();
      await temporal.stopPostgres(mode);
      await sleep(5_000);
      await temporal.startPostgres();
      await temporal.ready();
      console.log(`PostgreSQL (${mode}: ${what}) down for ${((Date.now() - down) / 1000).toFixed(1)}s`);
      expect(Date.now()).toBeLessThan(blockedUntil - 3_000);

      const lateness = await expectWaitsEndedOnTime(h, blocked, blockedUntil, 3_000);
      console.log(`waits ended ${lateness.join(', ')} ms after blockedUntil`);
      await h.stopWorkers();
    },
  );
});
