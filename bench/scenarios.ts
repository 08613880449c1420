/**
 * The measured scenarios. Each returns raw samples; run.ts turns them into metrics. Clocks: the
 * client's Date.now() and the workflow timeline (workflow time = the Temporal server's clock) are
 * the same machine clock here, so their differences are real latencies.
 */
import { emptyTargetState } from '../src/domain/model';
import type { RemediationStatus } from '../src/temporal-contract';
import { Driver, endAt, eventAt, uniqueName } from './driver';
import { pool, sleep } from './stats';
import type { WorkerProcess as BenchWorker } from '../src/dev/stack/worker-process';

export type Log = (line: string) => void;

export interface LatencySamples {
  /** Client start call → the PipelineRun first seen by a watch in the bench process (client side). */
  startToSeenMs: number[];
  /** Client start call → the workflow saw its PipelineRun created (timeline `pipelineRunCreated`). */
  startToCreatedMs: number[];
  /** Client start call → the workflow ended Completed. */
  startToCompletedMs: number[];
  /** The SDK's and CLI's pre-check of the action (`checkAction`), done before each start here and timed apart. */
  preCheckMs: number[];
  cost: { events: number[]; activities: number[]; localActivities: number[]; workflowTasks: number[] };
}

/** Unblocked path, one remediation at a time on fresh targets: latency without queueing. */
export async function latency(
  d: Driver,
  q: string,
  pipeline: string,
  n: number,
  log: Log,
): Promise<LatencySamples> {
  const out: LatencySamples = {
    startToSeenMs: [],
    startToCreatedMs: [],
    startToCompletedMs: [],
    preCheckMs: [],
    cost: { events: [], activities: [], localActivities: [], workflowTasks: [] },
  };
  // Workflow time does not move while local activities run within one workflow task, so the
  // timeline's pipelineRunCreated can be earlier than the create: the watch here is the measure.
  const watch = await d.watchPipelineRunsSeen();
  try {
    // Two warm-up runs: the first workflow task of a fresh worker pays for isolate and connection setup.
    for (let i = -2; i < n; i++) {
      const request = d.request({ pipeline });
      const tCheck = Date.now();
      await d.preCheck(q, request);
      const preCheckMs = Date.now() - tCheck;
      const t0 = Date.now();
      const { id } = await d.start(q, request);
      const status = await d.result(q, id);
      expectPhase(status, 'Completed');
      if (i < 0) continue;
      const seenAt = watch.seen.get(status.pipelineRuns[0]!);
      if (seenAt === undefined) throw new Error(`PipelineRun of ${id} never seen by the bench's watch`);
      out.preCheckMs.push(preCheckMs);
      out.startToSeenMs.push(seenAt - t0);
      out.startToCreatedMs.push(eventAt(status, 'pipelineRunCreated')! - t0);
      out.startToCompletedMs.push(endAt(status) - t0);
      const cost = await d.historyCost(q, id);
      out.cost.events.push(cost.events);
      out.cost.activities.push(cost.activities);
      out.cost.localActivities.push(cost.localActivities);
      out.cost.workflowTasks.push(cost.workflowTasks);
      if ((i + 1) % 5 === 0) log(`  latency ${i + 1}/${n}`);
    }
  } finally {
    watch.stop();
  }
  return out;
}

export interface ThroughputSamples {
  n: number;
  /** First start call → last remediation ended. */
  wallMs: number;
  /** Time spent issuing the start calls. */
  startsMs: number;
  perSecond: number;
  startToCompletedMs: number[];
}

/** N remediations on N distinct targets, started at once; completed per second until the last ends. */
export async function throughput(
  d: Driver,
  q: string,
  pipeline: string,
  n: number,
  log: Log,
): Promise<ThroughputSamples> {
  const requests = Array.from({ length: n }, () => d.request({ pipeline }));
  const t0 = Date.now();
  const started = await pool(requests, 32, async (r) => ({
    at: Date.now(),
    id: (await d.start(q, r)).id,
  }));
  const startsMs = Date.now() - t0;
  let done = 0;
  const finals = await pool(started, 1000, async (s) => {
    const status = await d.result(q, s.id);
    if (++done % 100 === 0) log(`  ${done}/${n} completed (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
    return { s, status };
  });
  for (const f of finals) expectPhase(f.status, 'Completed');
  const wallMs = Math.max(...finals.map((f) => endAt(f.status))) - t0;
  return {
    n,
    wallMs,
    startsMs,
    perSecond: (n / wallMs) * 1000,
    startToCompletedMs: finals.map((f) => endAt(f.status) - f.s.at),
  };
}

export interface StormSamples {
  starts: number;
  /** First → last start call returned (the storm's own length). */
  startWindowMs: number;
  /** False when some remediations were still open at the settle timeout (then terminated). */
  settled: boolean;
  unsettled: number;
  pipelineRunsCreated: number;
  pipelineRunsInStatuses: number;
  phases: Record<string, number>;
  duplicatesCounted: number;
  /** First start → the last remediation of the storm ended. */
  settleMs: number;
  /** First start → the last Skipped duplicate ended (the storm without the one real run). */
  duplicatesSettleMs: number;
  runDurationMs: number;
  /** Pending activities of remediations that had not settled at the timeout ("type:state:attempt"). */
  pendingActivities: Record<string, number>;
  /** Cost of a sample of the Skipped duplicates (history events, activities, workflow tasks each). */
  duplicateCost: {
    events: number[];
    activities: number[];
    localActivities: number[];
    workflowTasks: number[];
  };
}

/**
 * `starts` remediations for one fingerprint on one target, paced evenly over `windowMs`. The one
 * PipelineRun lasts `runDurationMs` so that it is still in progress while the storm routes.
 */
export async function storm(
  d: Driver,
  q: string,
  pipeline: string,
  runDurationMs: number,
  starts: number,
  windowMs: number,
  settleTimeoutMs: number,
  log: Log,
): Promise<StormSamples> {
  const namespace = uniqueName('storm');
  const fingerprint = uniqueName('storm-fp');
  const t0 = Date.now();
  let done = 0;
  const ids = await pool(
    Array.from({ length: starts }, (_, i) => i),
    64,
    async (i) => {
      const due = t0 + (i * windowMs) / starts;
      if (due > Date.now()) await sleep(due - Date.now());
      const { id } = await d.start(q, d.request({ pipeline, namespace, fingerprint }));
      if (++done % 250 === 0)
        log(`  storm: ${done}/${starts} started (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      return id;
    },
  );
  const startWindowMs = Date.now() - t0;
  const settled = await settleAll(d, q, ids, t0, settleTimeoutMs, log);
  const finals = settled.finals;
  const phases: Record<string, number> = {};
  for (const f of finals) phases[f.phase] = (phases[f.phase] ?? 0) + 1;
  for (const s of settled.open) phases[`open:${s}`] = (phases[`open:${s}`] ?? 0) + 1;
  const pendingActivities = countBy(settled.pending);
  const skipped = finals.filter((f) => f.phase === 'Skipped');
  const duplicateCost = {
    events: [] as number[],
    activities: [] as number[],
    localActivities: [] as number[],
    workflowTasks: [] as number[],
  };
  for (const f of skipped.slice(0, 20)) {
    const cost = await d.historyCost(q, f.id);
    duplicateCost.events.push(cost.events);
    duplicateCost.activities.push(cost.activities);
    duplicateCost.localActivities.push(cost.localActivities);
    duplicateCost.workflowTasks.push(cost.workflowTasks);
  }
  return {
    duplicateCost,
    starts,
    startWindowMs,
    settled: settled.unsettled === 0,
    unsettled: settled.unsettled,
    pipelineRunsCreated: (await d.pipelineRunsForFingerprint(finals[0]!.fingerprint)).length,
    pipelineRunsInStatuses: finals.reduce((a, f) => a + f.pipelineRuns.length, 0),
    phases,
    duplicatesCounted: finals.reduce((a, f) => a + f.duplicates, 0),
    settleMs: settled.unsettled ? Number.NaN : Math.max(...finals.map(endAt)) - t0,
    duplicatesSettleMs: skipped.length ? Math.max(...skipped.map(endAt)) - t0 : Number.NaN,
    runDurationMs,
    pendingActivities,
  };
}

/**
 * Waits for every remediation's result with progress lines; whatever is still open after
 * `timeoutMs` is reported as "phase/blockReason" and terminated, so later scenarios start clean.
 */
async function settleAll(
  d: Driver,
  q: string,
  ids: string[],
  t0: number,
  timeoutMs: number,
  log: Log,
): Promise<{ finals: RemediationStatus[]; open: string[]; pending: string[]; unsettled: number }> {
  const finals: (RemediationStatus | undefined)[] = new Array(ids.length);
  let done = 0;
  const all = Promise.all(
    ids.map((id, i) =>
      d.result(q, id).then(
        (s) => {
          finals[i] = s;
          done++;
        },
        () => undefined, // terminated below
      ),
    ),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const finished = await Promise.race([all.then(() => true), sleep(5000).then(() => false)]);
    if (finished || done === ids.length) break;
    log(`  ${done}/${ids.length} settled (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
    if (Date.now() > deadline) break;
  }
  const open: string[] = [];
  const pending: string[] = [];
  const stragglers = ids.filter((_, i) => !finals[i]);
  await pool(stragglers, 64, async (id, k) => {
    const handle = d.client(q).handle(id);
    // A sample is enough to say where stragglers wait; describing hundreds would slow the bench.
    if (k < 20) {
      const s = await d
        .client(q)
        .status(id)
        .catch(() => null);
      open.push(s ? `${s.phase}${s.blockReason ? `/${s.blockReason}` : ''}` : 'unknown');
      // Where it waits: an activity still queued (SCHEDULED) or running (STARTED), and on which attempt.
      const described = await handle.describe().catch(() => null);
      for (const a of described?.raw.pendingActivities ?? []) {
        pending.push(`${a.activityType?.name}:${String(a.state)}:attempt${a.attempt}`);
      }
    }
    await handle.terminate('bench: did not settle in time').catch(() => undefined);
  });
  if (stragglers.length) {
    log(`  ${stragglers.length} did not settle; a sample of their phases: ${JSON.stringify(countBy(open))}`);
    log(
      `  pending activities in that sample (1 = scheduled, 2 = started): ${JSON.stringify(countBy(pending))}`,
    );
  }
  return {
    finals: finals.filter((f): f is RemediationStatus => f !== undefined),
    open,
    pending,
    unsettled: stragglers.length,
  };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

export interface WakeSamples {
  /** PipelineRun created (timeline) − the seeded `blockedUntil`. */
  lateByMs: number[];
  blockedAsExpected: number;
}

/**
 * Seeds each fresh target's `nextAllowedExecution` a few seconds ahead through the ledger, so the
 * remediation blocks ExponentialBackoff with a known `blockedUntil`; staggered so wake-ups do not
 * coincide (a herd would measure queueing, not timer precision).
 */
export async function wakeUp(
  d: Driver,
  q: string,
  pipeline: string,
  n: number,
  leadMs: number,
): Promise<WakeSamples> {
  const base = Date.now() + leadMs;
  const plans = Array.from({ length: n }, (_, i) => {
    const namespace = uniqueName('wake');
    return { namespace, key: `${namespace}/Deployment/api`, until: base + i * 300 };
  });
  await pool(plans, 8, (p) =>
    d.ledger.putTarget({ ...emptyTargetState(p.key), nextAllowedExecution: new Date(p.until).toISOString() }),
  );
  const ids = await pool(
    plans,
    8,
    async (p) => (await d.start(q, d.request({ pipeline, namespace: p.namespace }))).id,
  );
  const finals = await pool(ids, 100, (id) => d.result(q, id));
  const out: WakeSamples = { lateByMs: [], blockedAsExpected: 0 };
  finals.forEach((f, i) => {
    expectPhase(f, 'Completed');
    if (f.timeline.some((e) => e.event === 'blocked:ExponentialBackoff')) out.blockedAsExpected++;
    out.lateByMs.push(eventAt(f, 'pipelineRunCreated')! - plans[i]!.until);
  });
  return out;
}

export interface BackoffCostSamples {
  events: number[];
  activities: number[];
  attempts: number[];
}

/**
 * Backoff path: the first attempt names a Pipeline that does not exist yet (a pre-execution
 * failure), the remediation waits its backoff, the Pipeline appears, the retry succeeds.
 */
export async function backoffCost(d: Driver, q: string, n: number): Promise<BackoffCostSamples> {
  const out: BackoffCostSamples = { events: [], activities: [], attempts: [] };
  await pool(
    Array.from({ length: n }, () => uniqueName('late')),
    n,
    async (pipeline) => {
      const { id } = await d.start(q, d.request({ pipeline }));
      await d.waitFor(
        q,
        id,
        (s) => s.phase === 'Blocked' && s.blockReason === 'ExponentialBackoff',
        60_000,
        'blocked ExponentialBackoff',
      );
      await d.definePipeline('succeed', 0, pipeline);
      const status = await d.result(q, id);
      expectPhase(status, 'Completed');
      const cost = await d.historyCost(q, id);
      out.events.push(cost.events);
      out.activities.push(cost.activities);
      out.attempts.push(status.attempts);
    },
  );
  return out;
}

export interface MemoryPoint {
  /** Remediations started so far (all of them meant to wait). */
  waiting: number;
  /** How many of them were Blocked when RSS was sampled (fewer only if the wait timed out). */
  blocked: number;
  /** Once the worker's memory settled after the burst of starts (see {@link settledRss}): the figure with the target. */
  rssHoldingBytes: number[];
  /** 3 s after the last wait began: what the burst of starts left, before V8 gave any of it back. */
  rssAfterBurstBytes: number[];
  /** Last wait began → memory settled. */
  settleMs: number;
  /** Seeding this step's targets' backoff in the ledger (bounded pool of API-server writes). */
  seedMs: number;
  /** Issuing this step's start calls. */
  startsMs: number;
  /** Start of this step's starts → all of them Blocked (or the timeout). */
  waitUntilAllBlockedMs: number;
}

export interface MemorySamples {
  rssIdleBytes: number;
  points: MemoryPoint[];
}

/**
 * A fresh worker process holds durable timer waits (backoff far ahead), sampled at each of
 * `points` (ascending totals, e.g. 1,000 then 10,000): the cache bounds what it keeps in memory.
 */
export async function memory(
  d: Driver,
  q: string,
  worker: BenchWorker,
  pipeline: string,
  points: number[],
  log: Log,
): Promise<MemorySamples> {
  await sleep(2000); // let start-up garbage settle before the idle figure
  const rssIdleBytes = worker.rssBytes();
  const until = new Date(Date.now() + 60 * 60_000).toISOString();
  const out: MemorySamples = { rssIdleBytes, points: [] };
  let started = 0;
  for (const total of points) {
    const namespaces = Array.from({ length: total - started }, () => uniqueName('mem'));
    const tSeed = Date.now();
    await pool(namespaces, 16, (ns) =>
      d.ledger.putTarget({ ...emptyTargetState(`${ns}/Deployment/api`), nextAllowedExecution: until }),
    );
    const seedMs = Date.now() - tSeed;
    log(`  memory: ${namespaces.length} targets seeded in ${(seedMs / 1000).toFixed(1)}s`);
    const t0 = Date.now();
    await pool(namespaces, 32, (ns) => d.start(q, d.request({ pipeline, namespace: ns })));
    started = total;
    const startsDone = Date.now();
    const startsMs = startsDone - t0;
    log(`  memory: ${total} started (${namespaces.length} in ${(startsMs / 1000).toFixed(1)}s)`);
    const query = `WorkflowType = 'remediation' AND TaskQueue = '${q}' AND RemediationPhase = 'Blocked'`;
    let blocked: number;
    let lastLog = startsDone;
    for (;;) {
      blocked = (await d.client(q).client.workflow.count(query)).count;
      if (blocked >= total) break;
      // A loaded machine may not get there: sample what did (the point says how many), so that
      // one slow step does not lose the rest of the run.
      if (Date.now() - startsDone > 60_000 + total * 150) {
        log(`  memory: only ${blocked}/${total} reached Blocked in time; sampling those`);
        break;
      }
      if (Date.now() - lastLog >= 30_000) {
        lastLog = Date.now();
        log(`  memory: ${blocked}/${total} blocked (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
      }
      await sleep(1000);
    }
    const waitUntilAllBlockedMs = Date.now() - t0;
    log(`  memory: ${blocked} blocked after ${(waitUntilAllBlockedMs / 1000).toFixed(1)}s; sampling RSS`);
    await sleep(3000);
    const rssAfterBurstBytes = await rssSamples(worker);
    const tSettle = Date.now();
    const rssHoldingBytes = await settledRss(worker);
    const settleMs = Date.now() - tSettle;
    const mb = (xs: number[]): string => (Math.max(...xs) / 2 ** 20).toFixed(0);
    log(
      `  memory: ${total} waiting, worker RSS ${mb(rssHoldingBytes)} MB settled after ${(settleMs / 1000).toFixed(0)} s (${mb(rssAfterBurstBytes)} MB right after the starts)`,
    );
    out.points.push({
      waiting: total,
      blocked,
      rssHoldingBytes,
      rssAfterBurstBytes,
      settleMs,
      seedMs,
      startsMs,
      waitUntilAllBlockedMs,
    });
  }
  return out;
}

/** Five RSS samples half a second apart. */
async function rssSamples(worker: BenchWorker): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 5; i++) {
    out.push(worker.rssBytes());
    await sleep(500);
  }
  return out;
}

/**
 * What the worker holds once the burst of starts is over: a burst leaves V8 heap and allocator
 * arenas that are given back within a minute or so (measured: 480 MB right after 900 starts at
 * 16/s, 293 MB a minute later, same 1,000 waits). Sampled every 10 s until RSS stops falling (two
 * samples in a row within 2 % of each other) or 2 minutes passed; nothing is forced (no GC call).
 * Known limit: RSS can hold for 10 s before V8 starts giving memory back, and then this stops too
 * early (the committed baseline stopped 13 s after the last wait began, at the burst's figure).
 */
async function settledRss(worker: BenchWorker): Promise<number[]> {
  const deadline = Date.now() + 120_000;
  let previous = worker.rssBytes();
  for (;;) {
    await sleep(10_000);
    const current = worker.rssBytes();
    if (Math.abs(current - previous) <= 0.02 * previous || Date.now() > deadline) break;
    previous = current;
  }
  return rssSamples(worker);
}

export interface WatchConnectionPoint {
  executing: number;
  /** Watch requests on PipelineRuns the API server serves, minus the reference. */
  workerWatches: number;
  /** Until all of them were Executing. */
  reachedMs: number;
}

export interface WatchConnectionSamples {
  /** Before the worker ran anything: the simulator's and the bench's own watches. */
  reference: number;
  points: WatchConnectionPoint[];
}

/**
 * A fresh worker executes `points` (ascending totals) remediations at once, each with a
 * PipelineRun that outlasts the measurement; the API server's own count of watch requests on
 * PipelineRuns, minus the reference taken before, is the worker's.
 */
export async function watchConnections(
  d: Driver,
  q: string,
  pipeline: string,
  points: number[],
  log: Log,
): Promise<WatchConnectionSamples> {
  const reference = await d.apiServerPipelineRunWatches();
  const out: WatchConnectionSamples = { reference, points: [] };
  let started = 0;
  const t0 = Date.now();
  for (const total of points) {
    await pool(
      Array.from({ length: total - started }, () => d.request({ pipeline })),
      32,
      (r) => d.start(q, r),
    );
    started = total;
    log(`  watch: ${total} started (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
    const query = `WorkflowType = 'remediation' AND TaskQueue = '${q}' AND RemediationPhase = 'Executing'`;
    let executing: number;
    for (;;) {
      executing = (await d.client(q).client.workflow.count(query)).count;
      if (executing >= total) break;
      // A loaded machine may not get there: measure what did (the figure says how many).
      if (Date.now() - t0 > 120_000 + total * 300) {
        log(`  watch: only ${executing}/${total} reached Executing in time; measuring those`);
        break;
      }
      await sleep(2000);
    }
    // Executing is published before the create; give the last watches time to subscribe.
    await sleep(5000);
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      samples.push(await d.apiServerPipelineRunWatches());
      await sleep(1000);
    }
    const workerWatches = Math.max(...samples) - reference;
    log(
      `  watch: ${total} executing, worker watches ${workerWatches} (server total ${Math.max(...samples)})`,
    );
    out.points.push({ executing, workerWatches, reachedMs: Date.now() - t0 });
  }
  return out;
}

/** Ends what a scenario left running: its remediations terminated, its PipelineRuns deleted. */
export async function cleanUpPipeline(d: Driver, q: string, pipeline: string): Promise<void> {
  const open = d.client(q).client.workflow.list({
    query: `WorkflowType = 'remediation' AND TaskQueue = '${q}' AND ExecutionStatus = 'Running'`,
  });
  const ids: string[] = [];
  for await (const w of open) ids.push(w.workflowId);
  await pool(ids, 32, (id) =>
    d
      .client(q)
      .client.workflow.getHandle(id)
      .terminate('bench: scenario over')
      .catch(() => undefined),
  );
  await d.deletePipelineRunsOf(pipeline);
}

function expectPhase(status: RemediationStatus, phase: string): void {
  if (status.phase !== phase) {
    throw new Error(`remediation ${status.id} ended ${status.phase} (${status.reason}): ${status.message}`);
  }
}
