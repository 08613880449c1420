import { createHash } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { fingerprintKey, targetKey } from '../../../src/domain/request';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural, type PipelineRun } from '../../../src/domain/tekton';
import type { RemediationStatus } from '../../../src/temporal-contract';
import { RemediationHarness, sleep, uniqueName } from '../support/remediation-harness';
import { spawnWorker, type WorkerProcess } from '../../../src/dev/stack/worker-process';

jest.setTimeout(300_000);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('exactly-once under contention, two worker processes', () => {
  const h = new RemediationHarness();
  let workers: WorkerProcess[] = [];
  beforeAll(async () => {
    await h.open();
    workers = [spawnWorker(h.info, h.taskQueue), spawnWorker(h.info, h.taskQueue)];
    await Promise.all(workers.map((w) => w.ready));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await h.close();
  });

  it('S22: 200 concurrent remediations for one fingerprint → exactly one PipelineRun, 199 Skipped duplicates counted', async () => {
    const pipeline = await h.definePipeline('hang');
    const fingerprint = uniqueName('storm');
    const namespace = uniqueName('ns');
    const requests = Array.from({ length: 200 }, (_, i) =>
      h.request({ pipeline, fingerprint, namespace, name: `app-${i}` }),
    );
    const ids = await Promise.all(requests.map((r) => h.start(r)));

    const settled = new Map<string, RemediationStatus>();
    let original: string | undefined;
    const deadline = Date.now() + 240_000;
    while ((settled.size < 199 || !original) && Date.now() < deadline) {
      for (const id of ids) {
        if (settled.has(id) || id === original) continue;
        const s = await h.client.status(id).catch(() => null);
        if (s?.phase === 'Skipped') settled.set(id, s);
        else if (s?.pipelineRuns.length) original = id;
      }
    }
    expect(original).toBeDefined();
    expect(settled.size).toBe(199);
    for (const s of settled.values())
      expect(s).toMatchObject({ reason: 'DuplicateInProgress', duplicateOf: original, attempts: 0 });

    const created = await h.runs.list(h.info.executionNamespace, {
      'remediation.dev/fingerprint-hash': (await import('node:crypto'))
        .createHash('sha256')
        .update(fingerprintKey(requests[0]!))
        .digest('hex')
        .slice(0, 40),
    });
    expect(created).toHaveLength(1);
    expect(
      (await h.waitFor(original!, (s) => s.duplicates === 199, 30_000, '199 duplicates')).duplicates,
    ).toBe(199);
    await h.client.cancel(original!);
    await h.result(original!);
    const record = await h.ledger.getFingerprint(fingerprintKey(requests[0]!), fingerprint);
    expect(record).toMatchObject({ active: null, duplicates: { count: 199 } });
  });

  it('S23: 50 concurrent remediations with different fingerprints on one target run one at a time, never overlapping', async () => {
    // 2s runs: the PipelineRuns' times have whole-second resolution, so a run starting while
    // another one is in its first second still shows as starting before that one completed.
    const pipeline = await h.definePipeline('succeed', 2_000);
    const target = h.request({ pipeline }).target;
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.start({ ...h.request({ pipeline, action: `action-${i}` }), target }),
      ),
    );
    const ends = await Promise.all(ids.map((id) => h.result(id, 540_000)));
    expect(ends.every((e) => e.phase === 'Completed')).toBe(true);

    // From the PipelineRuns themselves, as the API server has them: one per remediation, ordered by
    // the fencing token of the lock that let it run (tokens 1..50 on this fresh target). A run still
    // going when its remediation ended is itself an overlap: wait for every completionTime first.
    const listRuns = async () =>
      (
        (await h.kube.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
          group: TEKTON_GROUP,
          version: TEKTON_VERSION,
          plural: TektonPlural.PipelineRun,
          namespace: h.info.executionNamespace,
          labelSelector: `remediation.dev/target-hash=${sha256(targetKey(target)).slice(0, 40)}`,
        })) as { items: PipelineRun[] }
      ).items;
    let items = await listRuns();
    for (let until = Date.now() + 30_000; Date.now() < until; items = await listRuns()) {
      if (items.every((pr) => pr.status?.completionTime)) break;
      await sleep(500);
    }
    expect(items.map((pr) => pr.metadata.labels?.['remediation.dev/remediation-id']).sort()).toEqual(
      [...ids].sort(),
    );
    const runs = items
      .map((pr) => ({
        name: pr.metadata.name!,
        token: Number(pr.metadata.labels?.['remediation.dev/fencing-token']),
        created: Date.parse(pr.metadata.creationTimestamp!),
        start: Date.parse(pr.status!.startTime!),
        end: Date.parse(pr.status!.completionTime!),
      }))
      .sort((a, b) => a.token - b.token);
    expect(runs.map((r) => r.token)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(runs.filter((r) => !(r.end - r.start >= 2_000))).toEqual([]);
    // Each one was created (API server clock) and started (Tekton's startTime) at or after the
    // previous token's completionTime. Whole seconds on every side, so equality is allowed.
    const overlaps = runs
      .slice(1)
      .map((run, i) => ({ run, previous: runs[i]! }))
      .filter(({ run, previous }) => run.created < previous.end || run.start < previous.end)
      .map(({ run, previous }) => ({
        run: run.name,
        token: run.token,
        created: new Date(run.created).toISOString(),
        startTime: new Date(run.start).toISOString(),
        previousCompletionTime: new Date(previous.end).toISOString(),
      }));
    expect(overlaps).toEqual([]);
    const state = await h.client.target(targetKey(target));
    expect(state.fencingToken).toBe(50);
    expect(state.lock).toBeNull();
  }, 600_000);
});
