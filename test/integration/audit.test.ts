/**
 * Audit you can trust, on the real stack: the audit log decorator over the real Kubernetes ledger
 * (resourceVersions, the API server's compare-and-swap), `by` required at the Temporal-level entry
 * points (nothing written when it is missing), and the JSON audit lines of the real worker process.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { createActivities, type RouteInput } from '../../src/activities';
import { AuditedLedger } from '../../src/adapters/audited-ledger';
import { auditLogLine, type AuditLogLine } from '../../src/adapters/json-audit-log';
import { InMemoryAuditLog } from '../../src/dev/fakes/in-memory-audit-log';
import { InMemoryPipelineRuns } from '../../src/dev/fakes/in-memory-pipeline-runs';
import { InMemoryRemediations } from '../../src/dev/fakes/in-memory-remediations';
import { spawnWorker, type WorkerProcess } from '../../src/dev/stack/worker-process';
import { RemediationClient } from '../../src/client';
import { defaultPolicyConfig } from '../../src/domain/config';
import { emptyTargetState, type AuditEntry } from '../../src/domain/model';
import { targetKey } from '../../src/domain/request';
import { LedgerConflictError, MAX_AUDIT_ENTRIES } from '../../src/ports/ledger';
import { CLEAR_TARGET_WORKFLOW, overrideUpdate, remediationWorkflowId } from '../../src/temporal-contract';
import { RemediationHarness, uniqueName } from './support/remediation-harness';

const uniqueTarget = () => `${uniqueName('audit')}/Deployment/api`;

describe('audit log over the real Kubernetes ledger', () => {
  const h = new RemediationHarness();
  const T0 = Date.parse('2026-11-27T12:00:00Z');

  function setup() {
    const log = new InMemoryAuditLog();
    const ledger = new AuditedLedger(h.ledger, log);
    const remediations = new InMemoryRemediations();
    const activities = createActivities({
      ledger,
      pipelineRuns: new InMemoryPipelineRuns(),
      remediations,
      policy: defaultPolicyConfig,
      executionNamespace: h.info.executionNamespace,
      clock: () => T0,
    });
    return { log, ledger, remediations, activities };
  }

  it('logs each override, clear and lock takeover once, and nothing for a lost compare-and-swap', async () => {
    const { log, ledger, remediations, activities } = setup();
    const key = uniqueTarget();
    const route = (id: string): RouteInput => {
      remediations.running.set(`remediation-${id}`, { targetKey: key });
      return {
        remediationId: id,
        workflowId: `remediation-${id}`,
        runId: `run-${id}`,
        targetKey: key,
        fingerprintKey: `${key.split('/')[0]}/fp-${id}`,
        fingerprint: `fp-${id}`,
        actionId: 'restart',
        deadline: T0 + 3_600_000,
        overrideActive: false,
      };
    };

    await activities.route(route('holder'));
    remediations.running.delete('remediation-holder');
    await activities.route(route('taker'));
    await activities.recordOverride({
      targetKey: key,
      remediationId: 'taker',
      by: 'carol',
      reason: 'now',
      skips: 'RecentlyRemediated',
    });
    await activities.clearTarget({ target: key, reason: 'rolled back', by: 'alice' });
    expect(log.records.map((r) => [r.index, r.entry.action, r.entry.by])).toEqual([
      [1, 'lockTakeover', 'taker'],
      [2, 'override', 'carol'],
      [3, 'clear', 'alice'],
    ]);

    // Two writers read the same resourceVersion: the loser's entry is neither stored nor logged.
    const read = await ledger.getTarget(key);
    const entry = (by: string): AuditEntry => ({
      action: 'clear',
      by,
      reason: 'race',
      at: new Date(T0).toISOString(),
    });
    await ledger.putTarget({ ...read, audit: [...read.audit, entry('winner')] });
    await expect(
      ledger.putTarget({ ...read, audit: [...read.audit, entry('loser')] }),
    ).rejects.toBeInstanceOf(LedgerConflictError);
    expect(log.records.map((r) => r.entry.by).slice(3)).toEqual(['winner']);
    expect((await h.ledger.getTarget(key)).audit.map((a) => a.by)).not.toContain('loser');
  });

  it(`when the trail overflows ${MAX_AUDIT_ENTRIES} entries, every entry is still logged and the view counts the dropped ones`, async () => {
    const { log, activities } = setup();
    const key = uniqueTarget();
    const count = MAX_AUDIT_ENTRIES + 12;
    for (let n = 1; n <= count; n++)
      await activities.recordOverride({
        targetKey: key,
        remediationId: `r${n}`,
        by: 'bob',
        reason: `n${n}`,
        skips: 'ExponentialBackoff',
      });
    expect(log.records.map((r) => r.index)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const client = new RemediationClient(h.client.client, { ledger: h.ledger });
    const view = await client.target(key);
    expect(view.audit).toHaveLength(MAX_AUDIT_ENTRIES);
    expect(view.auditDropped).toBe(12);
    expect(view.audit[0]?.reason).toBe('n13');
  });

  beforeAll(() => h.open());
  afterAll(() => h.close());
});

describe('`by` is required at the Temporal-level entry points', () => {
  const h = new RemediationHarness();
  const log = new InMemoryAuditLog();
  beforeAll(async () => {
    await h.open();
    await h.startWorker({}, { auditLog: log });
  });
  afterAll(() => h.close());

  it('refuses a clearTarget workflow without `by` before any activity runs, writing nothing', async () => {
    const key = uniqueTarget();
    const seeded = await h.ledger.putTarget({
      ...emptyTargetState(key),
      manualReview: {
        required: true,
        reason: 'StepFailed',
        since: new Date().toISOString(),
        remediationId: 'r0',
      },
    });
    const workflowId = uniqueName('clear-target-no-by');
    const failure = await h.client.client.workflow
      .execute(CLEAR_TARGET_WORKFLOW, {
        taskQueue: h.taskQueue,
        workflowId,
        args: [{ target: key, reason: 'fixed' }],
      })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as Error & { type?: string };
    expect(cause.type).toBe('InvalidRequestError');
    expect(cause.message).toMatch(/^clear refused, nothing was written: by: is required/);
    const history = await h.client.client.workflow.getHandle(workflowId).fetchHistory();
    expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
    expect(await h.ledger.getTarget(key)).toEqual(seeded);

    // With `by` it clears, and the worker logs it.
    await h.client.clear(key, 'fixed', 'alice');
    expect(log.records.filter((r) => r.target === key).map((r) => [r.entry.action, r.entry.by])).toEqual([
      ['clear', 'alice'],
    ]);
  });

  it('refuses an override update without `by` (or with one too long), naming the field, and audits nothing', async () => {
    const pipeline = await h.definePipeline('succeed');
    const first = h.request({ pipeline, action: 'restart' });
    const key = targetKey(first.target);
    await h.result(await h.start(first));
    const id = await h.start({ ...h.request({ pipeline, action: 'restart' }), target: first.target });
    await h.waitFor(id, (s) => s.blockReason === 'RecentlyRemediated', 30_000, 'RecentlyRemediated');
    const handle = h.client.client.workflow.getHandle(remediationWorkflowId(id));

    for (const [args, message] of [
      [{ reason: 'please' }, /by: is required/],
      [{ reason: 'please', by: '  ' }, /by: is required/],
      [{ reason: 'please', by: 'x'.repeat(257) }, /by: must be at most 256 characters/],
      [{ reason: 'r'.repeat(1025), by: 'carol' }, /reason: must be at most 1024 characters/],
    ] as const) {
      const refused = await handle
        .executeUpdate(overrideUpdate, { args: [args as never] })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((refused as WorkflowUpdateFailedError).cause?.message)).toMatch(message);
    }
    expect(await h.client.status(id)).toMatchObject({ phase: 'Blocked', override: null });
    expect((await h.ledger.getTarget(key)).audit).toEqual([]);

    await h.client.override(id, 'customer impact', 'carol');
    expect(await h.result(id)).toMatchObject({ phase: 'Completed', override: { by: 'carol' } });
    expect(log.records.filter((r) => r.target === key).map((r) => [r.entry.action, r.entry.by])).toEqual([
      ['override', 'carol'],
    ]);
  });
});

describe('the worker process writes JSON audit lines', () => {
  const h = new RemediationHarness();
  let worker: WorkerProcess | undefined;
  beforeAll(() => h.open());
  afterAll(async () => {
    await worker?.stop();
    await h.close();
  });

  it('prints one `"log":"audit"` line per landed clear on stdout', async () => {
    worker = spawnWorker(h.info, h.taskQueue);
    await worker.ready;
    const key = uniqueTarget();
    await h.ledger.putTarget(emptyTargetState(key));
    await h.client.clear(key, 'rolled back the bad ConfigMap', 'alice');

    const until = Date.now() + 10_000;
    let lines: AuditLogLine[] = [];
    while (Date.now() < until) {
      lines = worker
        .output()
        .split('\n')
        .filter((l) => l.includes('"log":"audit"'))
        .map((l) => JSON.parse(l) as AuditLogLine)
        .filter((l) => l.audit.target === key);
      if (lines.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stored = (await h.ledger.getTarget(key)).audit;
    expect(stored).toHaveLength(1);
    expect(lines).toEqual([auditLogLine({ target: key, index: 1, entry: stored[0]! })]);
    expect(lines[0]!.audit).toMatchObject({
      action: 'clear',
      by: 'alice',
      reason: 'rolled back the bad ConfigMap',
    });
  });
});
