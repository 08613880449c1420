/**
 * The worker's /healthz (HEALTH_PORT, the chart's probe target) in the real worker process
 * (`src/worker.ts` as `npm run worker` runs it) against the stack: it comes up once the worker is
 * created and polling, says so, and goes away with the worker. How it behaves when the event loop
 * is stuck is shown in test/unit/health.test.ts.
 */
import { freePort } from '../../src/dev/stack/proc';
import { spawnWorker, type WorkerProcess } from '../../src/dev/stack/worker-process';
import { stackInfo } from './stack-env';
import { uniqueName } from './support/remediation-harness';

describe('worker /healthz in the worker process', () => {
  let worker: WorkerProcess | undefined;
  afterAll(async () => {
    await worker?.stop();
  });

  it('answers 200 with the worker running, and stops answering when the worker stops', async () => {
    const healthPort = await freePort();
    worker = spawnWorker(stackInfo(), uniqueName('health'), { healthPort });
    await worker.ready;
    expect(worker.output()).toContain(`"health":":${healthPort}/healthz"`);

    const res = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', worker: 'RUNNING' });

    expect(await worker.stop('SIGTERM')).toBe(0);
    worker = undefined;
    await expect(fetch(`http://127.0.0.1:${healthPort}/healthz`)).rejects.toThrow();
  });
});
