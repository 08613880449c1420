import { targetKey } from '../../src/domain/request';
import type { PipelineRunCreated, PipelineRunRequest, PipelineRuns } from '../../src/ports/pipeline-runs';
import { sleep, uniqueName } from '../integration/support/remediation-harness';
import { useFaultStack } from './support/fault-stack';

const DEADLINE = '25s';
/** Longer than the create activity's largest retry interval: a retry still in flight would have landed. */
const QUIET_MS = 12_000;

describe('fault: API server down across the deadline', () => {
  const fault = useFaultStack();

  it('S31: the create activity’s retries run past the deadline (API server down across it) → no PipelineRun is created; the remediation ends DeadlineExceeded (I4)', async () => {
    const { stack, h } = fault;
    const id = uniqueName('s31');
    // The outage starts at the first create of this remediation, i.e. after routing has passed and
    // the lock is taken: every create from then on meets a stopped API server until past the deadline.
    // While the API server is coming back (CRDs not served yet, so a create would get a 404), a
    // create fails as if it were still down: the first create that reaches the server meets it whole.
    let api: 'up' | 'stopping' | 'down' | 'restarting' = 'up';
    let outage: Promise<void> | undefined;
    const creates: { at: number; error: string | null }[] = [];
    function stopApiOnFirstCreate(real: PipelineRuns): PipelineRuns {
      const create = async (request: PipelineRunRequest, ...rest: unknown[]): Promise<PipelineRunCreated> => {
        if (request.labels['remediation.dev/remediation-id'] === id && outage === undefined) {
          api = 'stopping';
          outage = stack.stopKubeApi().then(() => void (api = 'down'));
        }
        if (api === 'stopping') await outage;
        try {
          if (api === 'restarting') {
            throw new Error(`connect ECONNREFUSED: API server restarting (fault injection)`);
          }
          const created = await (real.create as (...args: unknown[]) => Promise<PipelineRunCreated>)(
            request,
            ...rest,
          );
          creates.push({ at: Date.now(), error: null });
          return created;
        } catch (error) {
          creates.push({ at: Date.now(), error: String((error as Error).message).slice(0, 100) });
          throw error;
        }
      };
      return new Proxy(real, {
        get: (target, property, receiver) => {
          if (property === 'create') return create;
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    }
    await h.startWorker({}, { pipelineRuns: stopApiOnFirstCreate });

    const pipeline = await h.definePipeline('succeed');
    const request = h.request({ id, pipeline, deadline: DEADLINE });
    await h.start(request);
    const executing = await h.waitFor(id, (s) => s.phase === 'Executing', 30_000, 'routing passed');
    const deadline = Date.parse(executing.deadline!);
    await waitUntil(() => outage !== undefined, 30_000, 'the create to begin');
    await outage;
    const downAt = Date.now();
    expect(downAt).toBeLessThan(deadline); // the outage really starts before the deadline

    // Down until well past the deadline, then back.
    await sleep(Math.max(0, deadline + 5_000 - Date.now()));
    api = 'restarting';
    await stack.startKubeApi();
    api = 'up';
    const upAt = Date.now();
    console.log(
      `S31: API server down ${((upAt - downAt) / 1000).toFixed(1)}s, back ${((upAt - deadline) / 1000).toFixed(1)}s after the deadline`,
    );

    const end = await h.result(id, 90_000);
    // A create retry still in flight must not land late either.
    await sleep(Math.max(0, upAt + QUIET_MS - Date.now()));
    const runs = await h.pipelineRunsOf(id);
    console.log(
      `S31: ended ${end.phase}/${end.reason}; creates ${JSON.stringify(creates.map((c) => ({ t: c.at - deadline, error: c.error })))}; PipelineRuns ${JSON.stringify(runs)}`,
    );
    expect(creates.filter((c) => c.at < deadline).length).toBeGreaterThan(0); // retried across the deadline
    expect(runs).toEqual([]);
    expect(creates.filter((c) => c.error === null)).toEqual([]);
    expect(['Skipped', 'Failed']).toContain(end.phase);
    expect(end).toMatchObject({ reason: 'DeadlineExceeded', pipelineRuns: [] });
    expect(await h.client.target(targetKey(request.target))).toMatchObject({ lock: null, waiters: [] });
  });
});

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
