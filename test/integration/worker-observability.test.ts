/**
 * The worker process (`src/worker.ts`, as `npm run worker` runs it) on the real stack, seen the way
 * Prometheus and a log shipper see it: its /metrics follows Prometheus's naming conventions
 * (counters `_total`, durations in seconds, gauges without a suffix) and every line it prints is
 * one JSON object of the shared logger, the Temporal SDK's own lines included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/dev/stack/proc';
import { spawnWorker, type WorkerProcess } from '../../src/dev/stack/worker-process';
import { promtool, provisionPromtool } from './support/promtool';
import { RemediationHarness } from './support/remediation-harness';

/** `# TYPE name kind` of every metric family in an exposition. */
function families(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(match[1]!, match[2]!);
  return types;
}

/** The lines a process wrote, each parsed; a line that is not one JSON object fails the test. */
function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
      expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
      return parsed as Record<string, unknown>;
    });
}

describe('the worker process: Prometheus conventions and JSON logs', () => {
  const h = new RemediationHarness();
  let worker: WorkerProcess | undefined;
  let metricsPort: number;

  beforeAll(async () => {
    await provisionPromtool(); // cached by version; a cold cache builds it (minutes)
    await h.open();
    metricsPort = await freePort();
    worker = spawnWorker(
      h.info,
      h.taskQueue,
      {},
      { env: { METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info' } },
    );
    await worker.ready;
  }, 30 * 60_000);
  afterAll(async () => {
    await worker?.stop();
    await h.close();
  });

  async function scrape(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    return response.text();
  }

  it('serves counters with _total, durations as _seconds histograms, gauges without a suffix, no _ms', async () => {
    const pipeline = await h.definePipeline('succeed', 100);
    const id = await h.start(h.request({ pipeline }));
    expect(await h.result(id)).toMatchObject({ phase: 'Completed' });

    // The SDK exports on its own schedule: poll until the product counters of this run show.
    let text = '';
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      text = await scrape();
      if (/^remediation_finished_total\{/m.test(text)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const types = families(text);

    // Product counters, by the names the alert rules and the dashboard use.
    expect(text).toMatch(/^remediation_routing_decisions_total\{[^}]*check="AllPassed"[^}]*result="run"/m);
    expect(text).toMatch(/^remediation_pipelinerun_outcomes_total\{[^}]*kind="success"/m);
    expect(text).toMatch(/^remediation_finished_total\{[^}]*phase="Completed"/m);
    expect(text).toMatch(/^remediation_action_admissions_total\{/m);
    // The SDK tags product counters with the activity's task queue and type, snake_case like its own.
    expect(text).toMatch(
      new RegExp(
        `^remediation_finished_total\\{(?=[^}]*task_queue="${h.taskQueue}")(?=[^}]*activity_type="finishRemediation")`,
        'm',
      ),
    );
    expect(text).not.toMatch(/[{,](taskQueue|activityType)=/);
    for (const name of [
      'remediation_routing_decisions_total',
      'remediation_pipelinerun_outcomes_total',
      'remediation_finished_total',
      'temporal_workflow_completed_total',
    ]) {
      expect([name, types.get(name)]).toEqual([name, 'counter']);
    }
    // Every counter (the SDK's and ours) ends in _total.
    const counters = [...types].filter(([, kind]) => kind === 'counter').map(([name]) => name);
    expect(counters.length).toBeGreaterThan(5);
    expect(counters.filter((name) => !name.endsWith('_total'))).toEqual([]);

    // Durations: histograms in seconds, with the unit in the name; nothing left in milliseconds.
    const histograms = [...types].filter(([, kind]) => kind === 'histogram').map(([name]) => name);
    expect(histograms).toContain('temporal_activity_execution_latency_seconds');
    expect(histograms.filter((name) => /latency|duration/.test(name) && !name.endsWith('_seconds'))).toEqual(
      [],
    );
    const names = new Set([...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)].map((m) => m[1]!));
    expect([...names].filter((name) => /_ms(_|$)|_milliseconds/.test(name))).toEqual([]);
    // The activity that just ran took well under a minute: the buckets are seconds, not ms.
    const sum = /^temporal_activity_execution_latency_seconds_sum\{[^}]*\} (\S+)$/m.exec(text);
    expect(sum).not.toBeNull();
    expect(Number(sum![1])).toBeLessThan(60);

    // Gauges (read from visibility and the ledger): no _total, per-phase series labelled phase.
    for (const name of [
      'remediation_open_remediations',
      'remediation_awaiting_approval',
      'remediation_targets_manual_review',
    ]) {
      expect([name, types.get(name)]).toEqual([name, 'gauge']);
    }
    // The SDK metrics the shipped dashboard charts exist under exactly these names.
    const dashboard = readFileSync(
      join(__dirname, '../../charts/remediation-orchestrator/files/grafana-dashboard.json'),
      'utf8',
    );
    const sdkFamilies = new Set(
      [...dashboard.matchAll(/\b(temporal_[a-z0-9_]+)/g)].map((m) =>
        m[1]!.replace(/_(bucket|sum|count)$/, ''),
      ),
    );
    expect(sdkFamilies.size).toBeGreaterThan(0);
    expect([...sdkFamilies].filter((name) => !types.has(name))).toEqual([]);
    // Prometheus's own linter finds nothing to object to (names, units, label case, help).
    const lint = await promtool(['check', 'metrics'], text);
    expect({ code: lint.code, problems: (lint.stdout + lint.stderr).trim() }).toEqual({
      code: 0,
      problems: '',
    });
    for (const phase of ['Pending', 'Routing', 'Blocked', 'Executing', 'Verifying']) {
      expect(text).toMatch(
        new RegExp(`^remediation_open_remediations\\{[^}]*phase="${phase}"[^}]*\\} \\d+$`, 'm'),
      );
    }
  });

  it('counts a remediation that ended Failed in temporal_workflow_failed_total, as remediation_finished_total{phase="Failed"} does', async () => {
    const pipeline = await h.definePipeline('fail-step', 100);
    const id = await h.start(h.request({ pipeline }));
    expect(await h.result(id)).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed' });
    // Its workflow failed (docs/behaviour.md#how-a-remediation-closes-in-temporal): the SDK counts it.
    const failed =
      /^temporal_workflow_failed_total\{(?=[^}]*workflow_type="remediation")[^}]*\} ([1-9]\d*)$/m;
    const finished = /^remediation_finished_total\{[^}]*phase="Failed"[^}]*\} ([1-9]\d*)$/m;
    let text = '';
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      text = await scrape();
      if (failed.test(text) && finished.test(text)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(text).toMatch(failed);
    expect(text).toMatch(finished);
  });

  it('prints only JSON lines: its own (logger worker) and the Temporal SDK’s (logger temporal), at LOG_LEVEL info', () => {
    const lines = jsonLines(worker!.output());
    for (const line of lines) {
      if (line['log'] === 'audit') continue; // the audit trail's own stable line shape
      expect(Object.keys(line).slice(0, 4)).toEqual(['time', 'level', 'logger', 'msg']);
      expect(['info', 'warn', 'error']).toContain(line['level']); // nothing below LOG_LEVEL
      expect(Number.isNaN(Date.parse(String(line['time'])))).toBe(false);
    }
    expect(lines).toContainEqual(
      expect.objectContaining({
        logger: 'worker',
        level: 'info',
        msg: 'worker started',
        taskQueue: h.taskQueue,
        metrics: `:${metricsPort}/metrics`,
      }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ logger: 'temporal', sdkComponent: 'worker' }));
  });

  it('refuses an unknown LOG_LEVEL before it connects, naming the variable in a JSON error line', async () => {
    const bad = spawnWorker(h.info, h.taskQueue, {}, { env: { LOG_LEVEL: 'verbose' } });
    await expect(bad.ready).rejects.toThrow(/exited with 1/);
    const lines = jsonLines(bad.output());
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        logger: 'worker',
        msg: expect.stringContaining('LOG_LEVEL: must be one of debug, info, warn, error (got "verbose")'),
      }),
    ]);
  });
});
