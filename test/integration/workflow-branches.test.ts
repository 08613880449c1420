/**
 * Workflow-level tests of the branches that a cancel, a deadline, a bounded watch and a long wait
 * take: the real workflow bundle on the integration stack's Temporal server, with activities built
 * by createActivities over the in-memory fakes (ledger, PipelineRuns), so every interleaving is
 * steered from the test: a Tekton that takes its time to stop a cancelled run, a watch that has not
 * noticed a finished run yet, a record or a create held at a gate, a controller that enforces no
 * timeout. Wake-ups and liveness go through the real Temporal client (TemporalRemediations).
 */
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type RemediationActivities } from '../../src/activities';
import { TemporalRemediations } from '../../src/adapters/temporal-remediations';
import { RemediationClient } from '../../src/client';
import { InMemoryLedger } from '../../src/dev/fakes/in-memory-ledger';
import { InMemoryPipelineRuns } from '../../src/dev/fakes/in-memory-pipeline-runs';
import type { Outcome } from '../../src/dev/simulator/script';
import { parsePolicyConfig, type PolicyConfigInput } from '../../src/domain/config';
import type { FingerprintState, TargetState } from '../../src/domain/model';
import { fingerprintKey, targetKey, type RemediationRequestInput } from '../../src/domain/request';
import { PIPELINE_RUN_CANCELLED } from '../../src/domain/tekton';
import type {
  PipelineRunCreated,
  PipelineRunDryRun,
  PipelineRunOutcome,
  PipelineRunRequest,
  PipelineRuns,
} from '../../src/ports/pipeline-runs';
import { remediationWorkflowId, type RemediationStatus } from '../../src/temporal-contract';
import { stackInfo } from './stack-env';
import { sleep, uniqueName, workflowBundle } from './support/remediation-harness';

/** The namespace the fake PipelineRuns live in (nothing reaches the API server here). */
const RUNS_NS = 'remediation-runs';

interface Entry {
  at: number;
  what: string;
  /** Remediation id, PipelineRun name or target key the entry is about. */
  subject: string;
  detail?: unknown;
}

/** Everything that happened, in order, with wall-clock times: the assertions read it. */
class Log {
  readonly entries: Entry[] = [];
  add(what: string, subject: string, detail?: unknown): void {
    this.entries.push({ at: Date.now(), what, subject, ...(detail === undefined ? {} : { detail }) });
  }
  /** The first entry matching, or a failure that shows the whole log. */
  first(what: string, subject?: string): Entry {
    const entry = this.entries.find(
      (e) => e.what === what && (subject === undefined || e.subject === subject),
    );
    if (!entry) throw new Error(`no "${what}" (${subject ?? 'any'}) in the log:\n${this.dump()}`);
    return entry;
  }
  index(what: string, subject?: string): number {
    const entry = this.first(what, subject);
    return this.entries.indexOf(entry);
  }
  all(what: string, subject?: string): Entry[] {
    return this.entries.filter((e) => e.what === what && (subject === undefined || e.subject === subject));
  }
  has(what: string, subject?: string): boolean {
    return this.all(what, subject).length > 0;
  }
  dump(): string {
    const t0 = this.entries[0]?.at ?? 0;
    return this.entries
      .map((e) => `+${e.at - t0}ms ${e.what} ${e.subject}${e.detail ? ` ${JSON.stringify(e.detail)}` : ''}`)
      .join('\n');
  }
}

/** The in-memory ledger, logging when a target's lock is taken and freed, a waiter leaves its queue, a claim is released. */
class LoggingLedger extends InMemoryLedger {
  constructor(private readonly log: Log) {
    super();
  }

  override async putTarget(state: TargetState): Promise<TargetState> {
    const before = await super.getTarget(state.key);
    const stored = await super.putTarget(state);
    if (before.lock && !stored.lock) {
      this.log.add('lock released', state.key, {
        holder: before.lock.remediationId,
        token: before.lock.fencingToken,
      });
    }
    if (stored.lock && stored.lock.fencingToken !== before.lock?.fencingToken) {
      this.log.add('lock acquired', state.key, {
        holder: stored.lock.remediationId,
        token: stored.lock.fencingToken,
      });
    }
    const after = new Set(stored.waiters.map((x) => x.remediationId));
    for (const waiter of before.waiters) {
      if (!after.has(waiter.remediationId))
        this.log.add('left queue', waiter.remediationId, { target: state.key });
    }
    return stored;
  }

  override async putFingerprint(state: FingerprintState): Promise<FingerprintState> {
    const before = await super.getFingerprint(state.key, state.fingerprint);
    const stored = await super.putFingerprint(state);
    if (before.active && before.active.remediationId !== stored.active?.remediationId) {
      this.log.add('claim released', before.active.remediationId, { fingerprint: state.key });
    }
    return stored;
  }
}

/**
 * The PipelineRuns fake with the knobs these tests turn. `stopDelayMs`: Tekton takes this long to
 * stop a cancelled run (its pods terminate). `blindWatch`: a watch never reports the end, as when the
 * run finished a moment before a cancel reached the watch. `ignoreTimeouts`: the controller enforces
 * no `spec.timeouts` (stuck), so only the watch bound ends a hanging run.
 */
class SteeredPipelineRuns implements PipelineRuns {
  stopDelayMs = 0;
  blindWatch = false;
  ignoreTimeouts = false;

  constructor(
    readonly fake: InMemoryPipelineRuns,
    private readonly log: Log,
  ) {}

  async create(request: PipelineRunRequest): Promise<PipelineRunCreated> {
    const created = await this.fake.create(this.ignoreTimeouts ? { ...request, timeout: '0' } : request);
    this.log.add('PipelineRun created', request.name, { created: created.created });
    return created;
  }

  dryRun(request: PipelineRunRequest): Promise<PipelineRunDryRun> {
    return this.fake.dryRun(request);
  }

  observe(namespace: string, name: string): Promise<PipelineRunOutcome | null> {
    return this.fake.observe(namespace, name);
  }

  async waitForCompletion(
    namespace: string,
    name: string,
    options: { signal?: AbortSignal; heartbeatMs?: number; onProgress?: (o: PipelineRunOutcome) => void },
  ): Promise<PipelineRunOutcome> {
    if (!this.blindWatch) return this.fake.waitForCompletion(namespace, name, options);
    // Reports "running" (so the activity heartbeats and hears a cancel) whatever the run does.
    for (;;) {
      if (options.signal?.aborted) {
        throw new DOMException(`stopped waiting for PipelineRun ${namespace}/${name}`, 'AbortError');
      }
      options.onProgress?.({ state: 'running' } as PipelineRunOutcome);
      await sleep(Math.min(options.heartbeatMs ?? 200, 200));
    }
  }

  async cancel(namespace: string, name: string): Promise<void> {
    this.log.add('cancel requested', name);
    const stop = async () => {
      await this.fake.cancel(namespace, name);
      const stopped = this.fake.snapshot(namespace, name)?.pipelineRun.status?.completionTime;
      this.log.add('PipelineRun stopped', name, { completionTime: stopped ?? null });
    };
    if (this.stopDelayMs > 0) setTimeout(() => void stop(), this.stopDelayMs);
    else await stop();
  }

  list(namespace: string, labels: Record<string, string>): Promise<string[]> {
    return this.fake.list(namespace, labels);
  }

  watchConnections(): number {
    return this.fake.watchConnections();
  }
}

type Activities = RemediationActivities;
type Hook<K extends keyof Activities> = (
  real: Activities[K],
  ...args: Parameters<Activities[K]>
) => ReturnType<Activities[K]>;
type Hooks = { [K in keyof Activities]?: Hook<K> };

/** Whom an activity call is about: the remediation id where the input names one. */
function subjectOf(input: unknown): string {
  const i = (input ?? {}) as { remediationId?: string; ref?: { remediationId?: string }; name?: string };
  return i.remediationId ?? i.ref?.remediationId ?? i.name ?? '';
}

/** Wraps every activity to log its start and end, and lets a test replace one with a hook. */
function instrument(real: Activities, log: Log, hooks: Hooks): Activities {
  const wrapped: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(real) as [
    keyof Activities,
    (...a: unknown[]) => Promise<unknown>,
  ][]) {
    const hook = hooks[name] as ((real: unknown, ...args: unknown[]) => Promise<unknown>) | undefined;
    wrapped[name] = async (...args: unknown[]) => {
      const subject = subjectOf(args[0]);
      log.add(
        `start ${name}`,
        subject,
        name === 'recordOutcome' ? { outcome: (args[0] as { outcome: unknown }).outcome } : undefined,
      );
      try {
        const result = hook ? await hook(fn, ...args) : await fn(...args);
        log.add(`end ${name}`, subject, summarize(name, result));
        return result;
      } catch (error) {
        log.add(`error ${name}`, subject, { error: String((error as Error)?.message ?? error) });
        throw error;
      }
    };
  }
  return wrapped as unknown as Activities;
}

function summarize(name: string, result: unknown): unknown {
  if (name === 'stopPipelineRun' || name === 'startPipelineRun' || name === 'awaitPipelineRun') return result;
  return undefined;
}

/** A promise the test opens: activities wait at it. */
class Gate {
  private opened!: () => void;
  readonly open: Promise<void> = new Promise((resolve) => (this.opened = resolve));
  reached = false;
  pass(): void {
    this.opened();
  }
}

/** One worker on its own task queue over fresh fakes, with the given policy and activity hooks. */
class World {
  readonly log = new Log();
  readonly ledger = new LoggingLedger(this.log);
  readonly fake = new InMemoryPipelineRuns();
  readonly runs = new SteeredPipelineRuns(this.fake, this.log);
  readonly taskQueue = uniqueName('workflow-branches');
  readonly client: RemediationClient;
  readonly started: string[] = [];
  private worker?: Worker;
  private running?: Promise<void>;
  private nativeConnection?: NativeConnection;

  constructor(private readonly temporal: Client) {
    this.client = new RemediationClient(temporal, { taskQueue: this.taskQueue, ledger: this.ledger });
  }

  async start(policy: PolicyConfigInput = {}, hooks: Hooks = {}): Promise<this> {
    const info = stackInfo();
    this.nativeConnection = await NativeConnection.connect({ address: info.temporal.address });
    const activities = createActivities({
      ledger: this.ledger,
      pipelineRuns: this.runs,
      remediations: new TemporalRemediations(this.temporal),
      // Free-form test pipelines, as on the local stack.
      policy: parsePolicyConfig({ allowUncataloguedActions: true, ...policy }),
      executionNamespace: RUNS_NS,
      heartbeatMs: 200,
    });
    this.worker = await Worker.create({
      connection: this.nativeConnection,
      namespace: info.temporal.namespace,
      taskQueue: this.taskQueue,
      workflowBundle: await workflowBundle(),
      activities: instrument(activities, this.log, hooks),
      shutdownGraceTime: '2s',
      // A cancel reaches a heartbeating activity within this (the worker's own default is 2s).
      maxHeartbeatThrottleInterval: '300ms',
    });
    this.running = this.worker.run();
    return this;
  }

  async close(): Promise<void> {
    for (const id of this.started) {
      await this.client
        .handle(id)
        .terminate('test cleanup')
        .catch(() => {});
    }
    if (this.worker?.getState() === 'RUNNING') this.worker.shutdown();
    await this.running?.catch(() => {});
    await this.nativeConnection?.close();
  }

  pipeline(outcome: Outcome, durationMs = 0): string {
    const name = uniqueName(outcome);
    this.fake.definePipeline(RUNS_NS, name, { outcome, durationMs });
    return name;
  }

  request(
    pipeline: string,
    overrides: { action?: string; deadline?: string; target?: RemediationRequestInput['target'] } = {},
  ): RemediationRequestInput {
    return {
      signal: { fingerprint: uniqueName('fp'), name: 'KubePodCrashLooping', severity: 'warning', labels: {} },
      target: overrides.target ?? { kind: 'Deployment', name: 'api', namespace: uniqueName('ns') },
      action: { id: overrides.action ?? 'restart-deployment', pipeline, params: {} },
      ...(overrides.deadline ? { deadline: overrides.deadline } : {}),
    };
  }

  async begin(request: RemediationRequestInput): Promise<string> {
    const { id } = await this.client.start(request);
    this.started.push(id);
    return id;
  }

  async waitFor(
    id: string,
    predicate: (s: RemediationStatus) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<RemediationStatus> {
    const until = Date.now() + timeoutMs;
    let last: RemediationStatus | undefined;
    while (Date.now() < until) {
      try {
        last = await this.client.status(id);
        if (predicate(last)) return last;
      } catch {
        // not started yet: keep polling
      }
      await sleep(100);
    }
    throw new Error(
      `timed out waiting for ${what} on ${id}; last status ${JSON.stringify(last)}\nlog:\n${this.log.dump()}`,
    );
  }

  /** Waits until the workflow has closed; its Temporal status and the final `status` answer. */
  async closed(id: string, timeoutMs = 60_000): Promise<{ temporal: string; status: RemediationStatus }> {
    const handle = this.client.handle(id);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') {
        return { temporal: description.status.name, status: await this.client.status(id) };
      }
      if (Date.now() > until) {
        throw new Error(`${id} still running after ${timeoutMs}ms\nlog:\n${this.log.dump()}`);
      }
      await sleep(100);
    }
  }

  async until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}\nlog:\n${this.log.dump()}`);
      await sleep(50);
    }
  }

  async outcomeOf(pipelineRun: string): Promise<PipelineRunOutcome | null> {
    return this.fake.observe(RUNS_NS, pipelineRun);
  }

  specStatusOf(pipelineRun: string): string | undefined {
    return this.fake.snapshot(RUNS_NS, pipelineRun)?.pipelineRun.spec.status;
  }
}

describe('workflow branches: cancel, deadline, bounded watch, continue-as-new (real workflow, in-memory activities)', () => {
  let connection: Connection;
  let temporal: Client;
  const worlds: World[] = [];

  beforeAll(async () => {
    const info = stackInfo();
    connection = await Connection.connect({ address: info.temporal.address });
    temporal = new Client({ connection, namespace: info.temporal.namespace });
    await workflowBundle();
  });

  afterEach(async () => {
    await Promise.all(worlds.splice(0).map((w) => w.close()));
  });

  afterAll(async () => {
    await connection?.close();
  });

  async function world(policy: PolicyConfigInput = {}, hooks: Hooks = {}): Promise<World> {
    const w = new World(temporal);
    worlds.push(w);
    return w.start(policy, hooks);
  }

  it('S18: cancel while Executing → the PipelineRun is cancelled, stopPipelineRun is awaited, the lock is released only after the run stopped (I7); phase Cancelled; counters untouched', async () => {
    const w = await world();
    w.runs.stopDelayMs = 1_500; // Tekton needs 1.5 s to stop it
    const request = w.request(w.pipeline('hang'));
    const key = targetKey(request.target);
    const id = await w.begin(request);
    const executing = await w.waitFor(
      id,
      (s) => s.phase === 'Executing' && s.pipelineRuns.length === 1,
      'Executing',
    );
    const run = executing.pipelineRuns[0]!;
    const token = (await w.ledger.getTarget(key)).lock!.fencingToken;
    await sleep(300); // the watch is under way
    await w.client.cancel(id, 'S18', 'alice');

    const { temporal: closedAs, status } = await w.closed(id);
    expect(closedAs).toBe('CANCELLED');
    expect(status).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled', pipelineRuns: [run] });

    // The run was cancelled, and it really stopped.
    expect(w.specStatusOf(run)).toBe(PIPELINE_RUN_CANCELLED);
    expect(await w.outcomeOf(run)).toMatchObject({ state: 'failed', failure: { category: 'Cancelled' } });

    // Order: watch cancelled → stop requested → run stopped → stop activity returned → record → lock free.
    const log = w.log;
    expect(log.first('end stopPipelineRun', run).detail).toEqual({ name: run, state: 'cancelled' });
    const requested = log.first('cancel requested', run).at;
    const stopped = log.first('PipelineRun stopped', run).at;
    expect(stopped - requested).toBeGreaterThanOrEqual(1_400);
    expect(log.index('error awaitPipelineRun', run)).toBeLessThan(log.index('start stopPipelineRun', run));
    expect(log.index('PipelineRun stopped', run)).toBeLessThan(log.index('end stopPipelineRun', run));
    expect(log.index('end stopPipelineRun', run)).toBeLessThan(log.index('start recordOutcome', id));
    expect(log.index('PipelineRun stopped', run)).toBeLessThan(log.index('lock released', key));
    expect(log.first('start recordOutcome', id).detail).toEqual({ outcome: { cancelled: true } });
    expect(log.has('start cancelPipelineRun')).toBe(false); // the pre-v3 path is not taken
    expect(log.all('lock released', key)).toHaveLength(1);

    // Counters untouched: a cancel is nobody's failure.
    expect(await w.ledger.getTarget(key)).toMatchObject({
      lock: null,
      unsettled: null,
      waiters: [],
      consecutiveFailures: 0,
      nextAllowedExecution: null,
      lastFailure: null,
      lastSuccess: null,
      manualReview: null,
      recordedThrough: token,
    });
    expect(await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint)).toMatchObject({
      active: null,
      consecutiveFailedRemediations: 0,
    });
  });

  it.each([
    ['succeed', { state: 'succeeded' }],
    ['fail-step', { state: 'failed', failure: { wasExecutionFailure: true } }],
  ] as const)(
    'I7: a cancel after the PipelineRun finished (%s) but before its outcome was recorded still records that outcome; then Cancelled',
    async (outcome, finished) => {
      const w = await world();
      w.runs.blindWatch = true; // the watch has not noticed the end when the cancel comes
      const request = w.request(w.pipeline(outcome));
      const key = targetKey(request.target);
      // Earlier pre-execution failures: a recorded success resets them.
      await w.ledger.putTarget({
        ...(await w.ledger.getTarget(key)),
        consecutiveFailures: 2,
        nextAllowedExecution: new Date(Date.now() - 1_000).toISOString(),
      });
      const id = await w.begin(request);
      const executing = await w.waitFor(id, (s) => s.pipelineRuns.length === 1, 'Executing');
      const run = executing.pipelineRuns[0]!;
      await w.until(async () => (await w.outcomeOf(run))?.state !== 'running', 'the run to finish');
      expect(await w.outcomeOf(run)).toMatchObject(finished);
      expect(w.log.has('start recordOutcome', id)).toBe(false);

      await w.client.cancel(id, 'I7', 'alice');
      const { temporal: closedAs, status } = await w.closed(id);
      expect(closedAs).toBe('CANCELLED');
      expect(status).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled' });

      expect(w.log.first('end stopPipelineRun', run).detail).toMatchObject({
        state: 'finished',
        outcome: finished,
      });
      expect(w.log.has('cancel requested', run)).toBe(false); // a finished run is left alone
      const recorded = w.log.all('start recordOutcome', id);
      expect(recorded).toHaveLength(1);
      const target = await w.ledger.getTarget(key);
      expect(target.lock).toBeNull();
      if (outcome === 'succeed') {
        expect(recorded[0]!.detail).toEqual({ outcome: { succeeded: true } });
        expect(target).toMatchObject({
          consecutiveFailures: 0,
          nextAllowedExecution: null,
          lastSuccess: { pipelineRun: run, remediationId: id },
          manualReview: null,
        });
      } else {
        expect(recorded[0]!.detail).toMatchObject({
          outcome: { succeeded: false, failure: { wasExecutionFailure: true } },
        });
        // The execution failure is not lost to the cancel: the target needs manual review.
        expect(target).toMatchObject({
          manualReview: { required: true, remediationId: id },
          lastFailure: { pipelineRun: run, wasExecutionFailure: true },
        });
      }
      // The fingerprint counter is untouched by a Cancelled remediation either way.
      expect(
        await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint),
      ).toMatchObject({ active: null, consecutiveFailedRemediations: 0 });
    },
  );

  it('I7: a cancel while the outcome is being recorded waits for the record (non-cancellable): the success stands, recorded once, lock released once', async () => {
    const gate = new Gate();
    const w = await world(
      {},
      {
        recordOutcome: async (real, input) => {
          gate.reached = true;
          await gate.open;
          return real(input);
        },
      },
    );
    const request = w.request(w.pipeline('succeed'));
    const key = targetKey(request.target);
    const id = await w.begin(request);
    await w.until(() => gate.reached, 'the record to begin');
    await w.client.cancel(id, 'I7 during record', 'alice');
    await sleep(1_000); // the cancel has reached the workflow, the record is still held
    expect(w.log.has('end recordOutcome', id)).toBe(false);
    gate.pass();

    const { status } = await w.closed(id);
    const run = status.pipelineRuns[0]!;
    expect(w.log.all('start recordOutcome', id)).toHaveLength(1);
    expect(w.log.first('start recordOutcome', id).detail).toEqual({ outcome: { succeeded: true } });
    expect(w.log.has('start stopPipelineRun')).toBe(false); // nothing left to stop
    expect(w.log.all('lock released', key)).toHaveLength(1);
    const target = await w.ledger.getTarget(key);
    expect(target).toMatchObject({ lock: null, lastSuccess: { pipelineRun: run }, consecutiveFailures: 0 });
    // The run succeeded and was recorded before the cancel could act: the remediation says so.
    // (Temporal closes the run as CANCELLED all the same: the final wait for handlers is cancellable.)
    expect(status).toMatchObject({ phase: 'Completed', reason: 'Succeeded' });
    expect(await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint)).toMatchObject({
      active: null,
      consecutiveFailedRemediations: 0,
    });
  });

  it.each(['ResourceBusy', 'PreviousExecutionFailed'] as const)(
    'S18: cancel while Blocked (%s) → it leaves the queue and releases its claim, nothing else (no PipelineRun, no stop, no record); the holder and the target are untouched',
    async (block) => {
      const w = await world();
      const target = { kind: 'Deployment', name: 'api', namespace: uniqueName('ns') };
      const key = targetKey(target);
      let holder: string | null = null;
      if (block === 'ResourceBusy') {
        holder = await w.begin(w.request(w.pipeline('hang'), { action: 'hold', target }));
        await w.waitFor(holder, (s) => s.pipelineRuns.length === 1, 'the holder executing');
      } else {
        await w.ledger.putTarget({
          ...(await w.ledger.getTarget(key)),
          manualReview: {
            required: true,
            reason: 'StepFailed in an earlier run',
            since: new Date().toISOString(),
            remediationId: 'earlier',
          },
        });
      }
      const before = await w.ledger.getTarget(key);
      const request = w.request(w.pipeline('succeed'), { target });
      const id = await w.begin(request);
      await w.waitFor(id, (s) => s.phase === 'Blocked' && s.blockReason === block, `Blocked ${block}`);
      const queued = await w.ledger.getTarget(key);
      if (block === 'ResourceBusy') expect(queued.waiters.map((x) => x.remediationId)).toEqual([id]);
      expect(
        (await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint)).active,
      ).toMatchObject({ remediationId: id });

      await w.client.cancel(id, 'S18 blocked', 'alice');
      const { temporal: closedAs, status } = await w.closed(id);
      expect(closedAs).toBe('CANCELLED');
      expect(status).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled', pipelineRuns: [] });

      const calls = w.log.entries
        .filter((e) => e.subject === id && e.what.startsWith('start '))
        .map((e) => e.what);
      expect(new Set(calls)).toEqual(new Set(['start route', 'start finishRemediation']));
      const after = await w.ledger.getTarget(key);
      expect(after.waiters).toEqual([]);
      expect(after).toMatchObject({
        lock: before.lock,
        fencingToken: before.fencingToken,
        consecutiveFailures: 0,
        manualReview: before.manualReview,
        lastFailure: null,
      });
      expect(
        await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint),
      ).toMatchObject({
        active: null,
        consecutiveFailedRemediations: 0,
      });
      if (holder) {
        expect(await w.client.status(holder)).toMatchObject({ phase: 'Executing' });
        expect(w.log.has('cancel requested')).toBe(false);
      }
    },
  );

  it.each(['before', 'after'] as const)(
    'S18: cancel during the create (%s the PipelineRun is created) → the run is cancelled and stopped, the lock released after it stopped, Cancelled, counters untouched',
    async (when) => {
      const gate = new Gate();
      const w = await world(
        {},
        {
          startPipelineRun: async (real, input) => {
            if (when === 'before') {
              gate.reached = true;
              await gate.open;
              return real(input);
            }
            const started = await real(input);
            gate.reached = true;
            await gate.open;
            return started;
          },
        },
      );
      w.runs.stopDelayMs = 500;
      const request = w.request(w.pipeline('hang'));
      const key = targetKey(request.target);
      const id = await w.begin(request);
      await w.until(() => gate.reached, 'the create to be under way');
      await w.client.cancel(id, 'S18 during create', 'alice');
      await sleep(1_000); // the cancel has reached the workflow while the create is held
      gate.pass();

      const { temporal: closedAs, status } = await w.closed(id);
      expect(closedAs).toBe('CANCELLED');
      expect(status).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled' });
      const runs = await w.runs.list(RUNS_NS, { 'remediation.dev/remediation-id': id });
      expect(runs).toHaveLength(1);
      const run = runs[0]!;
      expect(w.specStatusOf(run)).toBe(PIPELINE_RUN_CANCELLED);
      expect(w.log.first('end stopPipelineRun', run).detail).toEqual({ name: run, state: 'cancelled' });
      expect(w.log.index('PipelineRun stopped', run)).toBeLessThan(w.log.index('lock released', key));
      // The create runs as a local activity, inside the workflow task: the cancel reaches the workflow
      // in the next task, so the watch may have started; it ends (cancelled) before the lock is freed.
      if (w.log.has('start awaitPipelineRun', run)) {
        const watchEnded = w.log.entries.findIndex(
          (e) =>
            e.subject === run && (e.what === 'error awaitPipelineRun' || e.what === 'end awaitPipelineRun'),
        );
        expect(watchEnded).toBeGreaterThanOrEqual(0);
        expect(watchEnded).toBeLessThan(w.log.index('lock released', key));
      }
      expect(await w.ledger.getTarget(key)).toMatchObject({
        lock: null,
        unsettled: null,
        consecutiveFailures: 0,
        manualReview: null,
        lastFailure: null,
      });
    },
  );

  // Regression: when a create attempt made the PipelineRun but its reply was lost, and the cancel
  // came while the create was retried, the workflow never learnt the run's name, freed the lock and
  // let the next remediation run beside that PipelineRun. The stop now finds the run announced on
  // the lock.
  it('S18/I1: cancel while a create whose first attempt made the PipelineRun (reply lost) is retried → that run is cancelled, and no other remediation on the target runs beside it', async () => {
    let attempts = 0;
    const w = await world(
      {},
      {
        startPipelineRun: async (real, input) => {
          if (input.request.action.id !== 'first') return real(input);
          attempts++;
          if (attempts === 1) {
            await real(input);
            throw new Error('connection reset: the create reply was lost (fault injection)');
          }
          // The retry hangs (heartbeating, so it hears the cancel).
          const context = Context.current();
          const beat = setInterval(() => context.heartbeat(), 100);
          try {
            return await context.cancelled;
          } finally {
            clearInterval(beat);
          }
        },
      },
    );
    const target = { kind: 'Deployment', name: 'api', namespace: uniqueName('ns') };
    const key = targetKey(target);
    const first = await w.begin(w.request(w.pipeline('hang'), { action: 'first', target }));
    await w.until(() => w.log.has('error startPipelineRun', first), 'the first create attempt to fail');
    const [run] = await w.runs.list(RUNS_NS, { 'remediation.dev/remediation-id': first });
    expect(run).toBeDefined();
    await w.client.cancel(first, 'S18 during a retried create', 'alice');
    expect((await w.closed(first)).status).toMatchObject({ phase: 'Cancelled' });
    const afterCancel = await w.ledger.getTarget(key);

    // The next remediation on the target: it must not run while the first one's PipelineRun does.
    const second = await w.begin(w.request(w.pipeline('hang'), { action: 'second', target }));
    const seen = await w.waitFor(
      second,
      (s) => s.pipelineRuns.length === 1 || s.phase === 'Blocked',
      'the second remediation to run or wait',
    );
    const firstRun = await w.outcomeOf(run!);
    expect({
      firstRunState: firstRun?.state,
      firstRunSpecStatus: w.specStatusOf(run!) ?? null,
      targetAfterCancel: { lock: afterCancel.lock, unsettled: afterCancel.unsettled },
      overlapping: firstRun?.state === 'running' && seen.pipelineRuns.length === 1,
    }).toMatchObject({ overlapping: false });
    // The stop found the run announced on the lock and cancelled it (before any step: NotStarted).
    expect(w.specStatusOf(run!)).toBe(PIPELINE_RUN_CANCELLED);
    expect(firstRun).toMatchObject({
      state: 'failed',
      failure: { reason: expect.stringMatching(/Cancelled/) },
    });
  });

  it('I4/S31: a create that reaches its activity at the deadline is refused → Skipped DeadlineExceeded, no PipelineRun, the lock free', async () => {
    const w = await world(
      {},
      {
        // A backlog: the create activity runs only once the deadline has passed.
        startPipelineRun: async (real, input) => {
          await sleep(Math.max(0, input.deadline! - Date.now() + 200));
          return real(input);
        },
      },
    );
    const request = w.request(w.pipeline('succeed'), { deadline: '3s' });
    const key = targetKey(request.target);
    const id = await w.begin(request);

    const { temporal: closedAs, status } = await w.closed(id);
    // Routing passed before the deadline; only the create came after it.
    expect(w.log.first('end route', id).at).toBeLessThan(Date.parse(status.deadline!));
    expect(w.log.first('start startPipelineRun', id).at).toBeLessThan(Date.parse(status.deadline!));
    expect(closedAs).toBe('COMPLETED');
    expect(status).toMatchObject({ phase: 'Skipped', reason: 'DeadlineExceeded', pipelineRuns: [] });
    expect(w.log.first('end startPipelineRun', id).detail).toMatchObject({
      kind: 'refused',
      reason: 'DeadlineExceeded',
    });
    expect(w.log.has('PipelineRun created')).toBe(false);
    expect(await w.runs.list(RUNS_NS, { 'remediation.dev/remediation-id': id })).toEqual([]);
    expect(await w.ledger.getTarget(key)).toMatchObject({
      lock: null,
      unsettled: null,
      waiters: [],
      consecutiveFailures: 0,
      manualReview: null,
    });
    expect(w.log.all('lock released', key)).toHaveLength(1);
    expect(await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint)).toMatchObject({
      active: null,
      consecutiveFailedRemediations: 0,
    });
  });

  it('I4: a watch past notAfter (the run’s timeout plus watchGrace) cancels the run → Failed ExecutionFailed, WatchTimedOut, manual review', async () => {
    const w = await world({ pipelineRunTimeout: '1s', watchGrace: '1s' });
    w.runs.ignoreTimeouts = true; // the controller never times the run out: only the watch bound ends it
    const request = w.request(w.pipeline('hang'));
    const key = targetKey(request.target);
    const id = await w.begin(request);
    const startedAt = Date.now();
    const { temporal: closedAs, status } = await w.closed(id);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_500);
    // A remediation that ends Failed fails its workflow (RemediationFailed, status in its details).
    expect(closedAs).toBe('FAILED');
    expect(status).toMatchObject({
      phase: 'Failed',
      reason: 'ExecutionFailed',
      failure: { category: 'WatchTimedOut', wasExecutionFailure: true },
    });
    const run = status.pipelineRuns[0]!;
    const started = w.log.first('end startPipelineRun', id).detail as { notAfter: number };
    expect(w.log.first('end awaitPipelineRun', run).at).toBeGreaterThanOrEqual(started.notAfter);
    expect(w.log.index('cancel requested', run)).toBeLessThan(w.log.index('end awaitPipelineRun', run));
    expect(w.specStatusOf(run)).toBe(PIPELINE_RUN_CANCELLED);
    expect(await w.ledger.getTarget(key)).toMatchObject({
      lock: null,
      manualReview: { required: true, remediationId: id },
      lastFailure: { category: 'WatchTimedOut', pipelineRun: run, wasExecutionFailure: true },
    });
    expect(await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint)).toMatchObject({
      active: null,
      consecutiveFailedRemediations: 1,
    });
  });

  it('S32/I9: continue-as-new during a long manual wait → history bounded, status answers across the boundary with the same deadline; a clear wakes the latest run', async () => {
    const CONTINUE_AFTER = 50;
    const w = await world({ continueAsNewAfterEvents: CONTINUE_AFTER, lockRecheckInterval: '200ms' });
    const request = w.request(w.pipeline('succeed'), { deadline: '2h' });
    const key = targetKey(request.target);
    await w.ledger.putTarget({
      ...(await w.ledger.getTarget(key)),
      manualReview: {
        required: true,
        reason: 'StepFailed in an earlier run',
        since: new Date().toISOString(),
        remediationId: 'earlier',
      },
    });
    const id = await w.begin(request);
    const blocked = await w.waitFor(id, (s) => s.blockReason === 'PreviousExecutionFailed', 'manual block');
    const deadline = blocked.deadline;
    expect(deadline).not.toBeNull();

    // Status polled all along: every answer is the same waiting remediation, with the same deadline.
    const answers: RemediationStatus[] = [];
    const failures: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          answers.push(await w.client.status(id));
        } catch (error) {
          failures.push(String((error as Error).message));
        }
        await sleep(50);
      }
    })();

    const workflowId = remediationWorkflowId(id);
    const runsOf = async () => {
      const runs: { runId: string; status: string; historyLength: number }[] = [];
      for await (const r of temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        runs.push({ runId: r.runId, status: r.status.name, historyLength: r.historyLength });
      }
      return runs;
    };
    await w.until(
      async () => (await runsOf()).filter((r) => r.status === 'CONTINUED_AS_NEW').length >= 2,
      'two continue-as-new',
      60_000,
    );
    polling = false;
    await poller;

    expect(failures).toEqual([]);
    expect(answers.length).toBeGreaterThan(10);
    for (const s of answers) {
      expect(s).toMatchObject({ id, phase: expect.stringMatching(/^(Blocked|Routing)$/), deadline });
    }
    for (const r of (await runsOf()).filter((x) => x.status === 'CONTINUED_AS_NEW')) {
      const history = await temporal.workflow.getHandle(workflowId, r.runId).fetchHistory();
      expect(history.events?.length ?? 0).toBeLessThan(CONTINUE_AFTER + 40);
    }
    // The fingerprint claim is carried across, not re-taken or dropped.
    expect(
      (await w.ledger.getFingerprint(fingerprintKey(request), request.signal.fingerprint)).active,
    ).toMatchObject({ remediationId: id });

    await w.client.clear(key, 'S32: fixed by hand', 'bob');
    const { temporal: closedAs, status } = await w.closed(id);
    expect(closedAs).toBe('COMPLETED');
    expect(status).toMatchObject({ phase: 'Completed', attempts: 1, deadline });
    // The timeline carried across runs still starts at the first routing pass.
    expect(status.timeline[0]!.at).toBe(blocked.timeline[0]!.at);
    expect(await w.ledger.getTarget(key)).toMatchObject({ lock: null, manualReview: null });
  });

  // Regression: continueAsNew() throws inside routeAndRun, and the workflow's catch once took it for
  // an unexpected error and released before the hand-over: the waiter left the target's queue and
  // dropped its fingerprint claim at every continue-as-new (I8 FIFO, S6 duplicates). Continuing as
  // new is now rethrown before any release.
  it('I9/I8: a waiter that continues as new keeps its queue place and its fingerprint claim (no release at the hand-over)', async () => {
    const w = await world({ continueAsNewAfterEvents: 50, lockRecheckInterval: '200ms' });
    const target = { kind: 'Deployment', name: 'api', namespace: uniqueName('ns') };
    const holder = await w.begin(w.request(w.pipeline('hang'), { action: 'hold', target }));
    await w.waitFor(holder, (s) => s.pipelineRuns.length === 1, 'the holder executing');
    const waiter = await w.begin(w.request(w.pipeline('succeed'), { action: 'wait', target }));
    await w.waitFor(waiter, (s) => s.blockReason === 'ResourceBusy', 'the waiter queued');
    const workflowId = remediationWorkflowId(waiter);
    await w.until(async () => {
      for await (const r of temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        if (r.status.name === 'CONTINUED_AS_NEW') return true;
      }
      return false;
    }, 'the waiter to continue as new');
    await sleep(500);
    expect(await w.client.status(waiter)).toMatchObject({ phase: 'Blocked', blockReason: 'ResourceBusy' });
    expect({
      finishes: w.log.all('start finishRemediation', waiter).length,
      leftQueue: w.log.all('left queue', waiter).length,
      claimReleased: w.log.all('claim released', waiter).length,
    }).toEqual({ finishes: 0, leftQueue: 0, claimReleased: 0 });
  });
});
