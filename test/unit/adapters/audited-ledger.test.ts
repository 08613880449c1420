/**
 * The audit log decorator over the in-memory ledger, driven by the real activities: every entry a
 * landed write appends is logged once, nothing is logged for a write that did not land.
 */
import { createActivities, type RouteInput } from '../../../src/activities';
import { AuditedLedger } from '../../../src/adapters/audited-ledger';
import { auditLogLine, JsonLinesAuditLog } from '../../../src/adapters/json-audit-log';
import { InMemoryAuditLog } from '../../../src/dev/fakes/in-memory-audit-log';
import { InMemoryLedger } from '../../../src/dev/fakes/in-memory-ledger';
import { InMemoryPipelineRuns } from '../../../src/dev/fakes/in-memory-pipeline-runs';
import { InMemoryRemediations } from '../../../src/dev/fakes/in-memory-remediations';
import { defaultPolicyConfig } from '../../../src/domain/config';
import { emptyTargetState, type AuditEntry } from '../../../src/domain/model';
import { LedgerConflictError, LedgerInvalidStateError, MAX_AUDIT_ENTRIES } from '../../../src/ports/ledger';
import { ledgerContract } from '../../contract/ledger.contract';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const KEY = 'prod/Deployment/api';

// The decorator keeps the ledger's contract (it only adds the log).
ledgerContract('AuditedLedger over InMemoryLedger', async () => {
  const inner = new InMemoryLedger();
  return {
    // Quiet: the contract writes more than a trail's worth at once, which the decorator reports.
    ledger: new AuditedLedger(inner, new InMemoryAuditLog(), () => {}),
    requestDeletion: async (kind, key) =>
      kind === 'target' ? inner.deleteTarget(key) : inner.deleteFingerprint(key),
    forceRemoval: async (_kind, key) => inner.forceRemove(key),
  };
});

function setup() {
  const inner = new InMemoryLedger();
  const log = new InMemoryAuditLog();
  const warnings: string[] = [];
  const ledger = new AuditedLedger(inner, log, (m) => warnings.push(m));
  const remediations = new InMemoryRemediations();
  const activities = createActivities({
    ledger,
    pipelineRuns: new InMemoryPipelineRuns(),
    remediations,
    policy: defaultPolicyConfig,
    executionNamespace: 'remediation-runs',
    clock: () => T0,
    sleep: async () => {},
  });
  const route = (id: string, fingerprint = `fp-${id}`): RouteInput => {
    remediations.running.set(`remediation-${id}`, { targetKey: KEY });
    return {
      remediationId: id,
      workflowId: `remediation-${id}`,
      runId: `run-${id}`,
      targetKey: KEY,
      fingerprintKey: `prod/${fingerprint}`,
      fingerprint,
      actionId: 'restart',
      deadline: T0 + 3_600_000,
      overrideActive: false,
    };
  };
  const override = (n: number) =>
    activities.recordOverride({
      targetKey: KEY,
      remediationId: `r${n}`,
      by: 'alice',
      reason: `override ${n}`,
      skips: 'ExponentialBackoff',
    });
  return { inner, log, warnings, ledger, remediations, activities, route, override };
}

describe('AuditedLedger', () => {
  it('when an override is audited then one line says who, why and which remediation', async () => {
    const { log, override } = setup();
    await override(1);
    expect(log.records).toEqual([
      {
        target: KEY,
        index: 1,
        entry: {
          action: 'override',
          by: 'alice',
          reason: 'override 1',
          at: new Date(T0).toISOString(),
          remediationId: 'r1',
          details: { skips: 'ExponentialBackoff' },
        },
      },
    ]);
  });

  it('when a target is cleared then its clear is logged, with the entries before it not logged again', async () => {
    const { log, override, activities } = setup();
    await override(1);
    await activities.clearTarget({ target: KEY, reason: 'rolled back the bad ConfigMap', by: 'bob' });
    expect(log.actions()).toEqual(['override', 'clear']);
    expect(log.records[1]).toMatchObject({
      target: KEY,
      index: 2,
      entry: { action: 'clear', by: 'bob', reason: 'rolled back the bad ConfigMap' },
    });
  });

  it('when a clear is refused (no ledger record) then nothing is logged', async () => {
    const { log, activities } = setup();
    await expect(activities.clearTarget({ target: KEY, reason: 'x', by: 'bob' })).rejects.toThrow(
      /no ledger record/,
    );
    expect(log.records).toEqual([]);
  });

  it('when a closed holder’s lock is taken over then the takeover is logged once, by the taker', async () => {
    const { log, activities, remediations, route } = setup();
    await activities.route(route('holder'));
    expect(log.records).toEqual([]); // taking a free lock appends nothing
    remediations.running.delete('remediation-holder');
    const next = await activities.route(route('next'));
    expect(next.verdict.kind).toBe('run');
    expect(log.records).toEqual([
      {
        target: KEY,
        index: 1,
        entry: expect.objectContaining({
          action: 'lockTakeover',
          by: 'next',
          remediationId: 'next',
          details: expect.objectContaining({ previousHolder: 'holder', previousToken: 1 }),
        }) as AuditEntry,
      },
    ]);
  });

  it('when a compare-and-swap loses then nothing is logged, and the winner’s entry once', async () => {
    const { ledger, log } = setup();
    const base = await ledger.putTarget(emptyTargetState(KEY));
    const entry = (by: string): AuditEntry => ({
      action: 'clear',
      by,
      reason: 'race',
      at: new Date(T0).toISOString(),
      remediationId: by,
    });
    await ledger.putTarget({ ...base, audit: [entry('winner')] });
    await expect(ledger.putTarget({ ...base, audit: [entry('loser')] })).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    expect(log.records.map((r) => r.entry.by)).toEqual(['winner']);
  });

  it('when the store refuses the write (too long a reason) then nothing is logged', async () => {
    const { ledger, log } = setup();
    const base = await ledger.putTarget(emptyTargetState(KEY));
    const entry: AuditEntry = {
      action: 'clear',
      by: 'a',
      reason: 'r'.repeat(2000),
      at: new Date(T0).toISOString(),
    };
    await expect(ledger.putTarget({ ...base, audit: [entry] })).rejects.toBeInstanceOf(
      LedgerInvalidStateError,
    );
    expect(log.records).toEqual([]);
  });

  it(`when the trail overflows its ${MAX_AUDIT_ENTRIES} entries then every new entry is still logged, numbered on`, async () => {
    const { log, override, ledger } = setup();
    const count = MAX_AUDIT_ENTRIES + 12;
    for (let n = 1; n <= count; n++) await override(n);
    const stored = await ledger.getTarget(KEY);
    expect(stored.audit).toHaveLength(MAX_AUDIT_ENTRIES);
    expect(stored.auditDropped).toBe(12);
    expect(log.records.map((r) => r.index)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(log.records.map((r) => r.entry.reason)).toEqual(
      Array.from({ length: count }, (_, i) => `override ${i + 1}`),
    );
    expect(log.writes).toBe(count);
  });

  it('when a write carries a version it never read then it reads the record first and logs only the new entries', async () => {
    const { inner, log, ledger } = setup();
    // Entries written behind the decorator's back (another worker), then a write through it.
    let state = await inner.putTarget(emptyTargetState(KEY));
    const entry = (n: number): AuditEntry => ({
      action: 'clear',
      by: `op${n}`,
      reason: `n${n}`,
      at: new Date(T0).toISOString(),
    });
    state = await inner.putTarget({ ...state, audit: [entry(1), entry(2)] });
    await ledger.putTarget({ ...state, audit: [...state.audit, entry(3)] });
    expect(log.records.map((r) => [r.index, r.entry.by])).toEqual([[3, 'op3']]);

    // A fresh decorator over the same store (a restarted worker) with a stale version: no line.
    const fresh = new AuditedLedger(inner, log);
    await expect(fresh.putTarget({ ...state, audit: [...state.audit, entry(4)] })).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    expect(log.records).toHaveLength(1);
  });

  it('when the audit log throws then the write still succeeds and the failure is reported', async () => {
    const inner = new InMemoryLedger();
    const warnings: string[] = [];
    const ledger = new AuditedLedger(
      inner,
      {
        write: () => {
          throw new Error('EPIPE');
        },
      },
      (m) => warnings.push(m),
    );
    const base = await ledger.putTarget(emptyTargetState(KEY));
    const entry: AuditEntry = { action: 'clear', by: 'a', reason: 'r', at: new Date(T0).toISOString() };
    const stored = await ledger.putTarget({ ...base, audit: [entry] });
    expect(stored.audit).toEqual([entry]);
    expect(warnings).toEqual([expect.stringContaining('EPIPE')]);
  });
});

describe('JsonLinesAuditLog', () => {
  const record = {
    target: KEY,
    index: 13,
    entry: {
      action: 'clear',
      by: 'alice',
      reason: 'rolled back',
      at: '2026-11-27T12:00:00.000Z',
      remediationId: 'alice',
    } satisfies AuditEntry,
  };

  it('writes one JSON object per line with the fixed marker, every key present, in a stable order', () => {
    const chunks: string[] = [];
    new JsonLinesAuditLog({ write: (c) => chunks.push(c) }).write([
      record,
      {
        ...record,
        index: 14,
        entry: { ...record.entry, action: 'override', details: { skips: 'ExponentialBackoff' } },
      },
    ]);
    expect(chunks).toHaveLength(1); // the lines of one write stay together
    const lines = chunks[0]!.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines[0]).toBe(
      '{"log":"audit","level":"info","msg":"audit","audit":{"target":"prod/Deployment/api","index":13,' +
        '"action":"clear","by":"alice","reason":"rolled back","at":"2026-11-27T12:00:00.000Z",' +
        '"remediationId":"alice","details":null}}',
    );
    expect(JSON.parse(lines[1]!)).toEqual({
      log: 'audit',
      level: 'info',
      msg: 'audit',
      audit: {
        ...auditLogLine(record).audit,
        index: 14,
        action: 'override',
        details: { skips: 'ExponentialBackoff' },
      },
    });
  });

  it('keeps a reason with newlines and quotes on one line', () => {
    const chunks: string[] = [];
    new JsonLinesAuditLog({ write: (c) => chunks.push(c) }).write([
      { ...record, entry: { ...record.entry, reason: 'line one\nline "two"' } },
    ]);
    expect(chunks[0]!.trimEnd().split('\n')).toHaveLength(1);
    expect((JSON.parse(chunks[0]!) as { audit: { reason: string } }).audit.reason).toBe(
      'line one\nline "two"',
    );
  });

  it('when the sink throws then it reports and does not throw', () => {
    const errors: unknown[] = [];
    const log = new JsonLinesAuditLog(
      {
        write: () => {
          throw new Error('closed');
        },
      },
      (e) => errors.push(e),
    );
    expect(() => log.write([record])).not.toThrow();
    expect(errors).toHaveLength(1);
  });

  it('writes nothing for no records', () => {
    const chunks: string[] = [];
    new JsonLinesAuditLog({ write: (c) => chunks.push(c) }).write([]);
    expect(chunks).toEqual([]);
  });
});
