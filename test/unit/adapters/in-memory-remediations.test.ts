import { InMemoryRemediations } from '../../../src/dev/fakes/in-memory-remediations';
import { remediationsContract } from '../../contract/remediations.contract';

remediationsContract('InMemoryRemediations', async () => {
  const remediations = new InMemoryRemediations();
  let n = 0;
  return {
    remediations,
    startRunning: async (targetKey) => {
      const id = `remediation-fake-${++n}`;
      remediations.running.set(id, { targetKey });
      return id;
    },
    close: async (id) => void remediations.running.delete(id),
    wakesOf: async (id) => remediations.wakes.filter((w) => w.workflowId === id).length,
    duplicatesOf: async (id) => remediations.duplicates.filter((d) => d.workflowId === id).length,
    eventually: (read) => read(),
  };
});
