import { fingerprintKey, targetKey } from '../../../src/domain/request';
import type { RemediationStatus } from '../../../src/shared';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';
import { spawnWorker, type WorkerProcess } from '../../../src/stack/worker-process';

jest.setTimeout(300_000);

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
    const pipeline = await h.definePipeline('succeed', 200);
    const target = h.request({ pipeline }).target;
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.start({ ...h.request({ pipeline, action: `action-${i}` }), target }),
      ),
    );
    const ends = await Promise.all(ids.map((id) => h.result(id, 280_000)));
    expect(ends.every((e) => e.phase === 'Completed')).toBe(true);

    const intervals = ends
      .map((e) => ({
        start: Date.parse(e.timeline.find((t) => t.event === 'pipelineRunCreated')!.at),
        end: Date.parse(e.timeline.find((t) => t.event === 'pipelineRunFinished')!.at),
      }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < intervals.length; i++)
      expect(intervals[i]!.start).toBeGreaterThanOrEqual(intervals[i - 1]!.end);
    const state = await h.client.target(targetKey(target));
    expect(state.fencingToken).toBe(50);
    expect(state.lock).toBeNull();
  });
});
