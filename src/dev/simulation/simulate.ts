/**
 * A seeded, replayable simulation of remediations over the real activities and the in-memory
 * fakes. Each schedule starts a few remediations on a few targets and fingerprints and, at every
 * step, picks at random: advance one remediation (the way the workflow would), an operator action
 * (clear, override, cancel), or a fault (terminate a workflow, lose a write's response, let a
 * terminated workflow's in-flight activity land late, delete a PipelineRun or a ledger record,
 * a 409 storm, an API outage, continue-as-new, clock skew between two workers, jumps in time).
 * After every step it checks the safety invariants I1–I10 (see docs/safety.md). At the end it
 * stops the faults and drains: every remediation must end and every PipelineRun be recorded.
 *
 * The remediation model mirrors src/workflows/remediation.ts: route → wait | run | end;
 * run = start → watch → record; cancel = stop → record; continue-as-new on long waits.
 */
import { createActivities, hash, type RemediationRef } from '../../activities';
import { InMemoryLedger } from '../fakes/in-memory-ledger';
import { InMemoryPipelineRuns } from '../fakes/in-memory-pipeline-runs';
import { parsePolicyConfig, type PolicyConfig } from '../../domain/config';
import { InMemoryActionCatalog } from '../fakes/in-memory-action-catalog';
import type { ResolvedAction } from '../../domain/catalog';
import { applicableBudgets, emptyBudgetFor, hasRoom } from '../../domain/budget';
import { disappeared, watchTimedOut } from '../../domain/ledger';
import { isParked } from '../../domain/routing';
import type { BudgetState, Failure, FingerprintState, Phase, TargetState } from '../../domain/model';
import {
  fingerprintKey,
  parseRemediationRequest,
  targetKey,
  type RemediationRequest,
} from '../../domain/request';
import { Random } from './random';
import {
  EXECUTION_NAMESPACE,
  FaultyLedger,
  FaultyPipelineRuns,
  SimClock,
  SimRemediations,
  pickFrom,
  type Faults,
  type SimWorkflow,
} from './world';

export interface SimulationOptions {
  seed: number;
  remediations?: number;
  targets?: number;
  fingerprints?: number;
  /** Steps before the drain. */
  steps?: number;
  /**
   * A deliberately broken wiring, to show that the checks catch it (tests of the simulation):
   * `ignoreDeadline` creates runs without the deadline (I4), `blindToDeath` never sees a closed
   * workflow (I2, I1), `blindToCatalog` never finds a catalog entry, `blindToBudgets` runs workers
   * that know no budget while the checks hold them to one.
   */
  mutation?: 'ignoreDeadline' | 'blindToDeath' | 'blindToCatalog' | 'blindToBudgets';
}

export interface Violation {
  invariant: string;
  step: number;
  message: string;
}

export interface SimulationResult {
  seed: number;
  steps: number;
  violation: Violation | null;
  /** The last steps, for a failing seed's report. */
  trace: string[];
  stats: { pipelineRuns: number; faults: number; completed: number };
}

type Pc = 'route' | 'wait' | 'start' | 'await' | 'record' | 'verify' | 'stop' | 'finish' | 'done';

interface Rem {
  id: string;
  wf: SimWorkflow;
  ref: RemediationRef;
  request: RemediationRequest;
  deadline: number;
  pc: Pc;
  waitUntil: number;
  woken: boolean;
  pass: number;
  holdsShared: boolean;
  overrideActive: boolean;
  lastBlockKind: string | null;
  attempts: number;
  fencingToken: number | null;
  run: { name: string; notAfter: number } | null;
  outcome: { succeeded: true } | { succeeded: false; failure: Failure } | { cancelled: true } | null;
  phase: Phase | null;
  cancelRequested: boolean;
  events: number;
  runs: number;
  /** Failed attempts of the activity at `pc` so far (Temporal's attempt number minus one). */
  tries: number;
  /** The action as admitted at the start of this run (undefined: not admitted yet). */
  admitted: ResolvedAction | undefined;
  /** The approval this remediation needs or holds (null: its action needed none when admitted). */
  approval: 'Pending' | 'Approved' | null;
  /** Verifying: the signal resolved (an operator or the intake said so). */
  resolved: boolean;
  verification: 'Effective' | 'Ineffective' | null;
}

const START = Date.parse('2026-01-01T00:00:00Z');
const PIPELINES = [
  { name: 'ok', script: { outcome: 'succeed', durationMs: 20_000 } },
  { name: 'slow', script: { outcome: 'succeed', durationMs: 400_000 } },
  { name: 'step-fails', script: { outcome: 'fail-step', durationMs: 15_000 } },
  { name: 'oom', script: { outcome: 'oom', durationMs: 15_000 } },
  { name: 'image-pull', script: { outcome: 'image-pull', durationMs: 5_000 } },
  { name: 'hang', script: { outcome: 'hang' } },
  { name: 'missing', script: null },
] as const;

const POLICY_INPUT = {
  lockRecheckInterval: '30s',
  orphanRecheckInterval: '5s',
  watchGrace: '1m',
  continueAsNewAfterEvents: 200,
  backoff: { base: '1m', max: '10m' },
  // Free-form actions run beside a catalogued one that operators add, change and remove.
  allowUncataloguedActions: true,
};
/**
 * Budget variants a schedule runs under (drawn from the seed): none, and combinations of every
 * scope, limit and match over the schedule's three targets in two namespaces.
 */
const BUDGET_VARIANTS = [
  [],
  [{ name: 'ns', scope: 'namespace', maxConcurrent: 1 }],
  [
    { name: 'cluster', scope: 'cluster', maxConcurrent: 1 },
    { name: 'rate', scope: 'action', maxPerWindow: { count: 2, window: '3m' } },
  ],
  [
    { name: 'pair', scope: 'namespace+action', match: { actions: ['restart'] }, maxConcurrent: 1 },
    { name: 'cluster-rate', scope: 'cluster', maxConcurrent: 2, maxPerWindow: { count: 3, window: '5m' } },
  ],
  [
    {
      name: 'a-only',
      scope: 'namespace',
      match: { namespaces: ['a*'] },
      maxPerWindow: { count: 1, window: '2m' },
    },
  ],
] as const;
const POLICIES: PolicyConfig[] = BUDGET_VARIANTS.map((budgets) =>
  parsePolicyConfig({ ...POLICY_INPUT, budgets: structuredClone(budgets) }),
);
const POLICY = POLICIES[0]!;
/** The catalogued action the operator keeps changing: it runs only `ok`, and names the target itself. */
const CATALOGUED_ACTION = 'scale';
const CATALOGUED_SPEC = { pipeline: 'ok', targetParams: { name: '{{ target.name }}' } };
/**
 * What the operator makes of that action each time they (re)write it: plain, gated by an approval,
 * a dry run, or verified after it ran. A remediation admitted under one may meet another at its create.
 */
const CATALOGUED_VARIANTS = [
  CATALOGUED_SPEC,
  { ...CATALOGUED_SPEC, approval: { required: true } },
  { ...CATALOGUED_SPEC, mode: 'DryRun' },
  { ...CATALOGUED_SPEC, verification: { window: '2m' } },
] as const;
const MAX_SKEW_MS = 2_000;
/** What a void activity returns in the simulation: it succeeded (undefined means it failed). */
const DONE = Symbol('done');
/** About how many history events one routing pass plus its wait adds (measured on real histories). */
const EVENTS_PER_PASS = 13;

/** Validating a request is the costliest thing a schedule does; the same few recur. */
const parsedRequests = new Map<string, RemediationRequest>();
function parseRequest(input: object): RemediationRequest {
  const key = JSON.stringify(input);
  let request = parsedRequests.get(key);
  if (!request) parsedRequests.set(key, (request = parseRemediationRequest(input)));
  return structuredClone(request);
}

export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const random = new Random(options.seed);
  const clock = new SimClock(START);
  const faults: Faults = { outageUntil: 0, conflicts: 0, loseNextResponse: false, refuseNext: false };
  const workflows = new Map<string, SimWorkflow>();
  const rems: Rem[] = [];
  const trace: string[] = [];
  const note = (line: string) => {
    trace.push(`[${new Date(clock.now()).toISOString().slice(11, 19)}] ${line}`);
    if (trace.length > (process.env.SIM_TRACE ? 100000 : 60)) trace.shift();
  };

  const innerLedger = new InMemoryLedger();
  const ledger = new FaultyLedger(innerLedger, faults, clock);
  const innerRuns = new InMemoryPipelineRuns(clock);
  for (const p of PIPELINES) if (p.script) innerRuns.definePipeline(EXECUTION_NAMESPACE, p.name, p.script);
  const pipelineRuns = new FaultyPipelineRuns(innerRuns, faults, clock);
  // Its own random stream, so adding the catalog left every other decision of a seed as it was.
  const catalogRandom = new Random(options.seed ^ 0x5eed);
  const catalog = new InMemoryActionCatalog();
  let catalogued = false;
  // Its own stream as well: which variant of the action the operator writes, approvals, resolves.
  const featureRandom = new Random(options.seed ^ 0xa99e0e);
  let cataloguedSpec: (typeof CATALOGUED_VARIANTS)[number] = CATALOGUED_SPEC;
  pipelineRuns.onCreated = (request) => {
    const creator = rems.find((r) => r.id === request.labels['remediation.dev/remediation-id']);
    // A remediation admitted as a dry run never creates anything, whatever the catalog says now.
    if (creator?.admitted?.mode === 'DryRun')
      fail('catalog', `${request.name} was created by ${creator.id}, admitted as a dry run`);
    // Catalog: a run of the catalogued action is exactly what the catalog says, on the locked target.
    if (!catalogued || request.labels['remediation.dev/action'] !== CATALOGUED_ACTION) return;
    if ('mode' in cataloguedSpec)
      fail('catalog', `${request.name} was created while ${CATALOGUED_ACTION} is a dry run`);
    if ('approval' in cataloguedSpec && creator?.approval !== 'Approved')
      fail(
        'catalog',
        `${request.name} was created without an approval while ${CATALOGUED_ACTION} requires one (${creator?.id} admitted ${creator?.admitted?.approval.required ? 'with' : 'without'} it)`,
      );
    const target = request.annotations?.['remediation.dev/target'] ?? '';
    if (request.pipeline !== CATALOGUED_SPEC.pipeline)
      fail(
        'catalog',
        `${request.name} of catalogued ${CATALOGUED_ACTION} runs ${request.pipeline}, not ${CATALOGUED_SPEC.pipeline}`,
      );
    if (request.params['name'] !== target.split('/').pop())
      fail('catalog', `${request.name} names ${request.params['name']} but acts for ${target}`);
  };
  const remediations = new SimRemediations(workflows, faults, clock, (workflowId) => {
    for (const r of rems) if (r.wf.workflowId === workflowId) r.woken = true;
  });
  if (options.mutation === 'blindToDeath') remediations.isRunning = async () => true;
  if (options.mutation === 'blindToCatalog') catalog.get = async () => undefined;
  // Its own stream too: the budget variant, and what it adds to the checks.
  const budgetRandom = new Random(options.seed ^ 0xb0d6e7);
  const policy =
    options.mutation === 'blindToBudgets' ? POLICIES[1]! : POLICIES[budgetRandom.int(POLICIES.length)]!;
  const skews = [0, random.int(MAX_SKEW_MS + 1) * (random.chance(0.5) ? 1 : -1)];
  const workers = skews.map((skew) =>
    mutate(
      createActivities({
        ledger,
        pipelineRuns,
        remediations,
        policy: options.mutation === 'blindToBudgets' ? POLICY : policy,
        catalog,
        executionNamespace: EXECUTION_NAMESPACE,
        clock: () => clock.now() + skew,
        // Waiting inside an activity (a lost compare-and-swap, a run that is stopping) lets time pass.
        sleep: async (ms) => {
          clock.current += ms;
        },
        attempt: () => currentAttempt,
      }),
    ),
  );
  function mutate(activities: ReturnType<typeof createActivities>): ReturnType<typeof createActivities> {
    if (options.mutation === 'ignoreDeadline') {
      const start = activities.startPipelineRun;
      activities.startPipelineRun = (input) => start({ ...input, deadline: Number.MAX_SAFE_INTEGER });
    }
    return activities;
  }
  const worker = () => workers[random.int(workers.length)]!;
  let currentAttempt = 1;

  const targets = Array.from({ length: options.targets ?? 3 }, (_, i) => ({
    namespace: i % 2 ? 'b' : 'a',
    name: `t${i}`,
  }));
  const fingerprints = Array.from({ length: options.fingerprints ?? 3 }, (_, i) => `f${i}`);
  let nextId = 0;
  let runSeq = 0;
  const newRem = (
    target: { namespace: string; name: string },
    fingerprint: string,
    deadlineMs: number,
  ): Rem => {
    const id = `r${nextId++}`;
    const pipeline = pickFrom(random, PIPELINES)!.name;
    const request = parseRequest({
      signal: { fingerprint, name: 'Alert', severity: 'warning' },
      target: { kind: 'Deployment', namespace: target.namespace, name: target.name },
      action: { id: random.chance(0.5) ? 'restart' : 'scale', pipeline, params: {}, timeout: '5m' },
    });
    const wf: SimWorkflow = {
      workflowId: `remediation-${id}`,
      runId: `run-${runSeq++}`,
      targetKey: targetKey(request.target),
      closed: false,
      closedRuns: new Set(),
    };
    workflows.set(wf.workflowId, wf);
    const rem: Rem = {
      id,
      wf,
      ref: {
        remediationId: id,
        workflowId: wf.workflowId,
        targetKey: wf.targetKey,
        fingerprintKey: fingerprintKey(request),
        fingerprint,
      },
      request,
      deadline: clock.now() + deadlineMs,
      pc: 'route',
      waitUntil: 0,
      woken: false,
      pass: 0,
      holdsShared: false,
      overrideActive: false,
      lastBlockKind: null,
      attempts: 0,
      fencingToken: null,
      run: null,
      outcome: null,
      phase: null,
      cancelRequested: false,
      events: 0,
      runs: 0,
      tries: 0,
      admitted: undefined,
      approval: null,
      resolved: false,
      verification: null,
    };
    rems.push(rem);
    return rem;
  };
  const total = options.remediations ?? 6;
  // Some deadlines are short, so that waits, outages and creates meet them.
  const deadlineMs = () =>
    random.chance(0.3) ? (30 + random.int(150)) * 1_000 : (5 + random.int(55)) * 60_000;
  for (let i = 0; i < total; i++)
    newRem(pickFrom(random, targets)!, pickFrom(random, fingerprints)!, deadlineMs());

  // ------------------------------------------------------------------- invariant bookkeeping
  let step = 0;
  let violation: Violation | null = null;
  const fail = (invariant: string, message: string) => {
    violation ??= { invariant, step, message };
  };
  const recorded = new Set<string>();
  const deletedRuns = new Set<string>();
  const maxToken = new Map<string, number>();
  let clearing = false;
  let writesSeen = 0;
  let faultCount = 0;
  const finished = new Set<string>();

  /** Targets whose lock came free in this step (after-state), for the wake check. */
  const freed: TargetState[] = [];
  /** Budget records that gave a slot back in this step (after-state), for the wake check. */
  const freedSlots: { state: BudgetState; at: number }[] = [];
  /** When each lock acquisition (remediation#token) was granted: a budget window counts these. */
  const acquired = new Map<string, number>();

  /** The target key a PipelineRun's target-hash label stands for. */
  const keyOfHash = (hashKey: string) =>
    targets.map((t) => `${t.namespace}/Deployment/${t.name}`).find((k) => hash(k).slice(0, 40) === hashKey)!;
  const budgetsOfRun = (c: (typeof pipelineRuns.created)[number]) => {
    const key = keyOfHash(c.labels['remediation.dev/target-hash']!);
    return {
      key,
      token: Number(c.labels['remediation.dev/fencing-token']),
      budgets: applicableBudgets(policy.budgets, key.split('/')[0]!, c.labels['remediation.dev/action']!),
    };
  };

  /**
   * Budgets: every executing PipelineRun is covered by a slot of each budget that applies to it
   * (held for its own lock acquisition), so no scope ever has more than maxConcurrent executing;
   * and no scope ever granted more than `count` of the acquisitions that created runs within its
   * window (less the clock skew the two workers may have between them).
   */
  async function checkBudgetsCoverRuns(executing: (typeof pipelineRuns.created)[number][]): Promise<void> {
    if (policy.budgets.length === 0) return;
    const perScope = new Map<string, string[]>();
    for (const c of executing) {
      const { key, token, budgets } = budgetsOfRun(c);
      for (const applicable of budgets) {
        const state = await innerLedger.getBudget(emptyBudgetFor(applicable));
        if (!state.holders.some((h) => h.targetKey === key && h.fencingToken === token))
          fail(
            'budget',
            `PipelineRun ${c.name} executes on ${key} without a slot of budget ${applicable.key}`,
          );
        perScope.set(applicable.key, [...(perScope.get(applicable.key) ?? []), c.name]);
      }
    }
    for (const budget of policy.budgets) {
      for (const [scopeKey, names] of perScope) {
        if (!scopeKey.startsWith(`${budget.name}:`) || budget.maxConcurrent === null) continue;
        if (names.length > budget.maxConcurrent)
          fail(
            'budget',
            `${names.length} PipelineRuns (${names.join(', ')}) execute at once in ${scopeKey}, above maxConcurrent ${budget.maxConcurrent}`,
          );
      }
    }
    const starts = new Map<string, number[]>();
    for (const c of pipelineRuns.created) {
      const at = acquired.get(
        `${c.labels['remediation.dev/remediation-id']}#${c.labels['remediation.dev/fencing-token']}`,
      );
      if (at === undefined) continue;
      for (const applicable of budgetsOfRun(c).budgets)
        if (applicable.policy.maxPerWindow)
          starts.set(applicable.key, [...(starts.get(applicable.key) ?? []), at]);
    }
    for (const [scopeKey, times] of starts) {
      const window = policy.budgets.find((b) => scopeKey.startsWith(`${b.name}:`))!.maxPerWindow!;
      const sorted = [...new Set(times)].sort((x, y) => x - y);
      for (let i = 0; i + window.count < sorted.length; i++)
        if (sorted[i + window.count]! - sorted[i]! < window.windowMs - 2 * MAX_SKEW_MS)
          fail(
            'budget',
            `${window.count + 1} runs of ${scopeKey} were granted within ${(sorted[i + window.count]! - sorted[i]!) / 1000}s, inside its ${window.windowMs / 1000}s window for ${window.count}`,
          );
    }
  }
  function checkWrites(): void {
    for (; writesSeen < ledger.writes.length; writesSeen++) {
      const { kind, before, after, responseLost, at } = ledger.writes[writesSeen]!;
      if (kind === 'budget') {
        const [b, a] = [before as BudgetState, after as BudgetState];
        if (a.holders.length < b.holders.length && !responseLost) freedSlots.push({ state: a, at });
        continue;
      }
      if (kind !== 'target') continue;
      const b = before as TargetState;
      const a = after as TargetState;
      // (A write whose response was lost wakes on its retry, a later step.)
      if (b.lock && !a.lock && !a.unsettled && !responseLost) freed.push(a);
      const known = maxToken.get(a.key) ?? 0;
      if (a.fencingToken < known)
        fail('I5', `fencing token of ${a.key} went back from ${known} to ${a.fencingToken}`);
      maxToken.set(a.key, Math.max(known, a.fencingToken));
      if (b.manualReview?.required && !a.manualReview?.required && !clearing)
        fail('I5', `manual review of ${a.key} was lifted without an operator clear`);
      // An outcome landed: the acquisition's token is now counted as recorded.
      if (a.recordedThrough > b.recordedThrough) {
        const success = JSON.stringify(a.lastSuccess) !== JSON.stringify(b.lastSuccess);
        const failure =
          JSON.stringify(a.lastFailure) !== JSON.stringify(b.lastFailure) ||
          a.consecutiveFailures !== b.consecutiveFailures ||
          JSON.stringify(a.manualReview) !== JSON.stringify(b.manualReview);
        const run = success ? a.lastSuccess?.pipelineRun : failure ? a.lastFailure?.pipelineRun : undefined;
        if (run) {
          if (recorded.has(run)) fail('I3', `outcome of ${run} recorded twice on ${a.key}`);
          recorded.add(run);
          if (!success && deletedRuns.has(run) && !a.lastFailure?.wasExecutionFailure)
            fail(
              'I6',
              `${run} was deleted before it finished but was recorded as a pre-execution failure (${JSON.stringify(a.lastFailure)})`,
            );
        }
      }
    }
  }

  let checkedAt = { clock: -1, generation: -1, writes: -1 };
  async function checkRuns(): Promise<void> {
    // Nothing changed since the last look: the same answer.
    const now = { clock: clock.now(), generation: pipelineRuns.generation, writes: ledger.writes.length };
    if (
      now.clock === checkedAt.clock &&
      now.generation === checkedAt.generation &&
      now.writes === checkedAt.writes
    )
      return;
    checkedAt = now;
    const running = new Map<string, string[]>();
    const executing: (typeof pipelineRuns.created)[number][] = [];
    for (const c of pipelineRuns.created) {
      if (finished.has(c.name)) continue;
      const outcome = await innerRuns.observe(EXECUTION_NAMESPACE, c.name);
      if (!outcome || outcome.state !== 'running') {
        finished.add(c.name);
        continue;
      }
      const target = c.labels['remediation.dev/target-hash']!;
      running.set(target, [...(running.get(target) ?? []), c.name]);
      executing.push(c);
    }
    await checkBudgetsCoverRuns(executing);
    for (const [hashKey, names] of running) {
      if (names.length > 1) fail('I1', `PipelineRuns ${names.join(', ')} run at the same time on one target`);
      const key = targets
        .map((t) => `${t.namespace}/Deployment/${t.name}`)
        .find((k) => hash(k).slice(0, 40) === hashKey)!;
      const target = await innerLedger.getTarget(key);
      for (const name of names) {
        if (target.lock?.run?.pipelineRun !== name && target.unsettled?.pipelineRun !== name)
          fail(
            'I1',
            `PipelineRun ${name} runs on ${key} but neither the lock nor an unsettled record accounts for it`,
          );
      }
    }
    for (const c of pipelineRuns.created) {
      const rem = rems.find((r) => r.id === c.labels['remediation.dev/remediation-id']);
      if (rem && c.at >= rem.deadline + MAX_SKEW_MS)
        fail(
          'I4',
          `${c.name} was created at ${new Date(c.at).toISOString()}, after its deadline ${new Date(rem.deadline).toISOString()}`,
        );
    }
  }

  // ------------------------------------------------------------------------ the remediation
  async function activity<T>(rem: Rem, call: () => Promise<T>): Promise<T | undefined> {
    currentAttempt = rem.tries + 1;
    try {
      const value = await call();
      rem.tries = 0;
      return value === undefined ? (DONE as T) : value;
    } catch (error) {
      const name = (error as Error).name;
      rem.tries++;
      if (name === 'LedgerInvalidStateError') {
        rem.tries = 0;
        if (rem.pc === 'finish') {
          // The release itself failed for good: the workflow fails holding what it holds.
          note(`${rem.id} finish: ${name}; the workflow fails without releasing`);
          rem.wf.closed = true;
          rem.pc = 'done';
          return undefined;
        }
        // Non-retryable: the workflow fails, releasing what it holds (counting nothing).
        note(`${rem.id} ${rem.pc}: ${name}; the workflow fails`);
        end(rem, 'Routing');
        return undefined;
      }
      note(`${rem.id} ${rem.pc}: ${name} ${(error as Error).message.slice(0, 80)} (retried)`);
      return undefined; // Temporal retries the activity: the remediation stays where it is
    }
  }

  async function advance(rem: Rem): Promise<void> {
    const self = worker();
    const ref = rem.ref;
    switch (rem.pc) {
      case 'route': {
        // Each run of the workflow admits the action once, before its first pass (a local activity).
        if (rem.admitted === undefined) {
          const admission = await self.admitAction({ request: rem.request });
          if (admission.kind === 'refused') return end(rem, rem.runs > 0 ? 'Failed' : 'Skipped');
          rem.admitted = admission.action;
          if (admission.action.approval.required && rem.approval === null) rem.approval = 'Pending';
        }
        const firstPass = !rem.holdsShared;
        rem.holdsShared = true;
        const before = await innerLedger.getTarget(ref.targetKey);
        const result = await activity(rem, () =>
          self.route({
            ...ref,
            runId: rem.wf.runId,
            actionId: rem.request.action.id,
            deadline: rem.deadline,
            overrideActive: rem.overrideActive,
            ...(rem.approval ? { awaitingApproval: rem.approval === 'Pending' } : {}),
          }),
        );
        if (!result) return;
        rem.pass++;
        const { verdict } = result;
        note(
          `${rem.id} route → ${verdict.kind}${verdict.kind === 'run' ? ` token ${result.fencingToken}` : ` ${verdict.reason}`}`,
        );
        const duplicate = verdict.kind === 'end' && verdict.reason === 'DuplicateInProgress';
        rem.holdsShared = !(firstPass && duplicate);
        // A closed workflow's in-flight pass landing late is no pass that met anything.
        if (!duplicate && !rem.wf.closed) await checkRouted(rem, before, verdict.kind === 'run');
        if (verdict.kind === 'end') return end(rem, rem.runs > 0 ? 'Failed' : 'Skipped');
        if (verdict.kind === 'wait') {
          rem.pc = 'wait';
          rem.waitUntil = verdict.recheckAt;
          rem.lastBlockKind = verdict.blockKind;
          rem.woken = false;
          return;
        }
        rem.overrideActive = false;
        rem.fencingToken = result.fencingToken;
        const acquisition = `${rem.id}#${result.fencingToken}`;
        if (!acquired.has(acquisition)) acquired.set(acquisition, clock.now());
        rem.run = null; // this attempt's run is known once its create answers
        rem.attempts++;
        rem.pc = 'start';
        return;
      }
      case 'wait': {
        rem.events += EVENTS_PER_PASS;
        if (rem.events >= 10_000) fail('I9', `${rem.id} history reached ${rem.events} events`);
        if (rem.events >= POLICY.continueAsNewAfterEvents) {
          rem.wf.closedRuns.add(rem.wf.runId);
          rem.wf.runId = `run-${runSeq++}`;
          rem.events = 0;
          rem.admitted = undefined; // the next run admits the action again
          note(`${rem.id} continued as new (${rem.wf.runId})`);
        }
        rem.pc = 'route';
        return;
      }
      case 'start': {
        const input = {
          ref,
          request: rem.request,
          attempt: rem.attempts,
          fencingToken: rem.fencingToken!,
          deadline: rem.deadline,
          approved: rem.approval === 'Approved',
        };
        if (rem.admitted?.mode === 'DryRun') {
          // Where it would create, a dry run checks and records, then ends; nothing runs.
          const dry = await activity(rem, () => self.dryRunPipelineRun(input));
          if (!dry) return;
          note(`${rem.id} dry run → ${dry.kind}`);
          return end(rem, rem.runs > 0 ? 'Failed' : 'Skipped');
        }
        const result = await activity(rem, () => self.startPipelineRun(input));
        if (!result) return;
        note(`${rem.id} start → ${result.kind} ${result.name}`);
        if (result.kind === 'refused') {
          if (result.reason === 'LockLost') rem.pc = 'route';
          else end(rem, rem.runs > 0 ? 'Failed' : 'Skipped');
          return;
        }
        rem.run = {
          name: result.name,
          notAfter: result.kind === 'started' ? (result.notAfter ?? Infinity) : Infinity,
        };
        if (result.kind === 'rejected') {
          rem.outcome = { succeeded: false, failure: result.failure };
          rem.pc = 'record';
        } else {
          rem.runs++;
          rem.pc = 'await';
        }
        return;
      }
      case 'await': {
        const run = rem.run!;
        const outcome = await activity(rem, () => pipelineRuns.observe(EXECUTION_NAMESPACE, run.name));
        if (outcome === undefined) return;
        if (outcome === null) rem.outcome = { succeeded: false, failure: disappeared(run.name) };
        else if (outcome.state === 'succeeded') rem.outcome = { succeeded: true };
        else if (outcome.state === 'failed') rem.outcome = { succeeded: false, failure: outcome.failure };
        else if (clock.now() >= run.notAfter) {
          await activity(rem, () => pipelineRuns.cancel(EXECUTION_NAMESPACE, run.name));
          rem.outcome = {
            succeeded: false,
            failure: watchTimedOut(run.name, new Date(run.notAfter).toISOString()),
          };
        } else return; // still running: looked at again later
        rem.pc = 'record';
        return;
      }
      case 'record': {
        const outcome = rem.outcome!;
        const result = await activity(rem, () =>
          self.recordOutcome({
            ...ref,
            actionId: rem.request.action.id,
            pipelineRun: rem.run!.name,
            fencingToken: rem.fencingToken!,
            outcome,
            jitterSample: random.next(),
          }),
        );
        if (!result) return;
        rem.fencingToken = null;
        if (rem.cancelRequested || 'cancelled' in outcome) return end(rem, 'Cancelled');
        if (outcome.succeeded && rem.admitted?.verification) {
          // The lock is free; the fingerprint stays claimed until the signal resolves or the window ends.
          rem.pc = 'verify';
          rem.waitUntil = clock.now() + rem.admitted.verification.windowMs;
          return;
        }
        if (outcome.succeeded) return end(rem, 'Completed');
        if (outcome.failure.wasExecutionFailure) return end(rem, 'Failed');
        rem.pc = 'route';
        return;
      }
      case 'verify': {
        rem.verification = rem.resolved ? 'Effective' : 'Ineffective';
        note(`${rem.id} verification ${rem.verification}`);
        return end(rem, 'Completed');
      }
      case 'stop': {
        const which = rem.run
          ? { name: rem.run.name }
          : { targetKey: rem.ref.targetKey, remediationId: rem.id, fencingToken: rem.fencingToken! };
        const stopped = await activity(rem, () => self.stopPipelineRun(which));
        if (!stopped) return;
        rem.run = { name: stopped.name ?? '', notAfter: rem.run?.notAfter ?? Infinity };
        note(`${rem.id} stop → ${stopped.state}`);
        if (stopped.state === 'stillRunning') return end(rem, 'Cancelled');
        rem.outcome =
          stopped.state === 'finished'
            ? stopped.outcome.state === 'failed'
              ? { succeeded: false, failure: stopped.outcome.failure }
              : { succeeded: true }
            : { cancelled: true };
        rem.pc = 'record';
        return;
      }
      case 'finish': {
        const done = await activity(rem, () =>
          self.finishRemediation({
            ...ref,
            runId: rem.wf.runId,
            phase: rem.phase!,
            actionId: rem.request.action.id,
            ...(rem.verification
              ? {
                  verification: rem.verification,
                  ...(rem.verification === 'Ineffective' ? { ineffective: true } : {}),
                }
              : {}),
            duplicates: { count: 0, lastAt: null },
          }),
        );
        if (done === undefined) return;
        rem.pc = 'done';
        rem.wf.closed = true;
        note(`${rem.id} ended ${rem.phase}`);
        return;
      }
      case 'done':
        return;
    }
  }

  function end(rem: Rem, phase: Phase): void {
    rem.phase = phase;
    rem.pc = rem.holdsShared ? 'finish' : 'done';
    if (rem.pc === 'done') {
      rem.wf.closed = true;
      note(`${rem.id} ended ${phase} (nothing to release)`);
    }
  }

  /** I2 and I8, checked right after a routing pass that wrote the target. */
  async function checkRouted(rem: Rem, before: TargetState, acquired: boolean): Promise<void> {
    const target = await innerLedger.getTarget(rem.ref.targetKey);
    const fp: FingerprintState = await innerLedger.getFingerprint(
      rem.ref.fingerprintKey,
      rem.ref.fingerprint,
    );
    const closed = (workflowId: string, runId?: string) => {
      const w = workflows.get(workflowId);
      return !w || w.closed || (runId !== undefined && w.runId !== runId);
    };
    if (target.lock && closed(target.lock.workflowId, target.lock.runId))
      fail(
        'I2',
        `${rem.id}'s routing pass left ${target.key}'s lock with closed ${target.lock.remediationId}`,
      );
    if (fp.active && closed(fp.active.workflowId))
      fail('I2', `${rem.id}'s routing pass left ${fp.key}'s claim with closed ${fp.active.remediationId}`);
    if (acquired && before.lock?.remediationId !== rem.id) {
      const position = before.waiters.findIndex((w) => w.remediationId === rem.id);
      const ahead = position < 0 ? before.waiters : before.waiters.slice(0, position);
      const skipped = ahead.filter(
        (w) => !closed(w.workflowId) && !isParked(w, clock.now() + skews[1]!) && !isParked(w, clock.now()),
      );
      if (skipped.length > 0)
        fail(
          'I8',
          `${rem.id} took ${target.key}'s lock ahead of live waiter(s) ${skipped.map((w) => w.remediationId).join(', ')}`,
        );
    }
  }

  // --------------------------------------------------------------------------- the schedule
  const live = () => rems.filter((r) => r.pc !== 'done' && !r.wf.closed);
  const runnable = () =>
    live().filter(
      (r) =>
        (r.pc !== 'wait' || r.woken || clock.now() >= r.waitUntil) &&
        (r.pc !== 'verify' || r.resolved || clock.now() >= r.waitUntil),
    );
  const sleeping = (r: Rem) => r.pc === 'wait' || r.pc === 'verify';

  async function operatorOrFault(): Promise<void> {
    const roll = random.int(14);
    const rem = pickFrom(random, live());
    faultCount++;
    switch (roll) {
      case 0: {
        // terminate; sometimes the activity it had in flight still lands afterwards
        if (!rem) return;
        const inFlight = random.chance(0.4) && ['route', 'start', 'record', 'finish'].includes(rem.pc);
        rem.wf.closed = true;
        note(
          `FAULT terminate ${rem.id} at ${rem.pc}${inFlight ? ' (its in-flight activity lands late)' : ''}`,
        );
        if (inFlight) await advance(rem);
        rem.pc = 'done';
        return;
      }
      case 1:
        faults.loseNextResponse = true;
        note('FAULT the next write loses its response');
        return;
      case 2: {
        const c = pickFrom(random, pipelineRuns.created);
        if (c && pipelineRuns.delete(EXECUTION_NAMESPACE, c.name)) {
          if (!finished.has(c.name)) deletedRuns.add(c.name);
          note(`FAULT delete PipelineRun ${c.name}`);
        }
        return;
      }
      case 3: {
        const t = pickFrom(random, targets)!;
        const key = `${t.namespace}/Deployment/${t.name}`;
        if ((await innerLedger.getTarget(key)).version !== null) {
          innerLedger.deleteTarget(key);
          note(`FAULT kubectl delete of ${key}'s ledger record`);
        }
        return;
      }
      case 12:
        faults.refuseNext = true;
        note('FAULT the next target write is refused as invalid');
        return;
      case 4:
        faults.conflicts = 1 + random.int(8);
        note(`FAULT 409 storm (${faults.conflicts})`);
        return;
      case 5:
        faults.outageUntil = clock.now() + (1 + random.int(60)) * 1_000;
        note(`FAULT API outage until ${new Date(faults.outageUntil).toISOString().slice(11, 19)}`);
        return;
      case 6:
      case 7: {
        const t = pickFrom(random, targets)!;
        const key = `${t.namespace}/Deployment/${t.name}`;
        clearing = true;
        try {
          await workers[0]!.clearTarget({ target: key, reason: 'sim', by: 'operator' });
          note(`OP clear ${key}`);
        } catch (error) {
          note(`OP clear ${key} failed: ${(error as Error).message.slice(0, 60)}`);
        } finally {
          checkWrites();
          clearing = false;
        }
        return;
      }
      case 8: {
        if (!rem || rem.pc !== 'wait' || rem.lastBlockKind !== 'temporary') return;
        if (
          (await activity(rem, () =>
            workers[0]!.recordOverride({
              targetKey: rem.ref.targetKey,
              remediationId: rem.id,
              by: 'operator',
              reason: 'sim',
              skips: 'x',
            }),
          )) === undefined
        )
          return;
        rem.overrideActive = true;
        rem.woken = true;
        note(`OP override ${rem.id}`);
        return;
      }
      case 9: {
        if (!rem || rem.cancelRequested) return;
        rem.cancelRequested = true;
        note(`OP cancel ${rem.id} at ${rem.pc}`);
        if (rem.pc === 'start' || rem.pc === 'await') rem.pc = 'stop';
        else if (rem.pc === 'route' || rem.pc === 'wait' || rem.pc === 'verify') end(rem, 'Cancelled');
        return;
      }
      case 10: {
        const t = pickFrom(random, targets)!;
        newRem(t, pickFrom(random, fingerprints)!, deadlineMs());
        note(`new remediation r${nextId - 1} on ${t.name}`);
        return;
      }
      default: {
        if (catalogRandom.chance(0.05)) {
          catalogued = !catalogued;
          if (catalogued)
            catalog.put(CATALOGUED_ACTION, (cataloguedSpec = pickFrom(featureRandom, CATALOGUED_VARIANTS)!));
          else catalog.delete(CATALOGUED_ACTION);
          note(
            `OP ${catalogued ? `catalogues ${JSON.stringify(cataloguedSpec)} as` : 'removes'} RemediationAction ${CATALOGUED_ACTION}`,
          );
        } else if (catalogued && featureRandom.chance(0.1)) {
          catalog.put(CATALOGUED_ACTION, (cataloguedSpec = pickFrom(featureRandom, CATALOGUED_VARIANTS)!));
          note(`OP rewrites RemediationAction ${CATALOGUED_ACTION} as ${JSON.stringify(cataloguedSpec)}`);
        }
        await operatorDecides();
        // time passes: to the next wait's end, or a bit
        const waits = live()
          .filter(sleeping)
          .map((r) => r.waitUntil);
        const next = Math.min(...waits, clock.now() + (1 + random.int(180)) * 1_000);
        clock.current = Math.max(clock.current, next);
        return;
      }
    }
  }

  /** An operator approves or rejects a pending remediation, or its signal resolves while it verifies. */
  async function operatorDecides(): Promise<void> {
    const rem = pickFrom(
      featureRandom,
      live().filter(
        (r) =>
          (r.approval === 'Pending' && (r.pc === 'wait' || r.pc === 'route')) ||
          (r.pc === 'verify' && !r.resolved),
      ),
    );
    if (!rem || !featureRandom.chance(0.5)) return;
    if (rem.pc === 'verify') {
      rem.resolved = true;
      note(`the signal of ${rem.id} resolves`);
      return;
    }
    const decision = featureRandom.chance(0.8) ? 'approve' : 'reject';
    const audited = await activity(rem, () =>
      workers[0]!.recordApproval({
        targetKey: rem.ref.targetKey,
        remediationId: rem.id,
        actionId: rem.request.action.id,
        by: 'operator',
        reason: 'sim',
        decision,
      }),
    );
    if (audited === undefined) return;
    note(`OP ${decision} ${rem.id} at ${rem.pc}`);
    if (decision === 'approve') {
      rem.approval = 'Approved';
      rem.woken = true;
    } else {
      end(rem, rem.runs > 0 ? 'Failed' : 'Skipped'); // the workflow checks a rejection before each pass
    }
  }

  /** I2: a lock that came free wakes a live waiter that may take it, whatever died ahead of it. */
  function checkWakes(wakesBefore: number): void {
    const woken = new Set(remediations.wakes.slice(wakesBefore).map((w) => w.workflowId));
    for (const target of freed.splice(0)) {
      // Some live waiter must hear of it; one that cannot run passes the wake on (route does).
      const live = target.waiters.filter((w) => !workflows.get(w.workflowId)?.closed);
      const waiting = live.filter((w) => !isParked(w, clock.now() - MAX_SKEW_MS));
      if (waiting.length > 0 && !live.some((w) => woken.has(w.workflowId)))
        fail(
          'I2',
          `${target.key}'s lock came free but none of its live waiters (${waiting.map((w) => w.remediationId).join(', ')}) was woken`,
        );
    }
  }

  /** A budget slot given back with room left wakes a live waiter (whatever died ahead of it). */
  function checkBudgetWakes(wakesBefore: number): void {
    const woken = new Set(remediations.wakes.slice(wakesBefore).map((w) => w.workflowId));
    for (const { state, at } of freedSlots.splice(0)) {
      const budget = policy.budgets.find((b) => b.name === state.budget)!;
      // Room as the writer saw it: at the write's time, whichever worker's clock it read.
      const room = [-MAX_SKEW_MS, MAX_SKEW_MS].every((skew) => hasRoom(state, budget, at + skew));
      const live = state.waiters.filter((w) => !workflows.get(w.workflowId)?.closed);
      if (room && live.length > 0 && !live.some((w) => woken.has(w.workflowId)))
        fail(
          'budget',
          `budget ${state.key} gave a slot back with room left but none of its live waiters (${live.map((w) => w.remediationId).join(', ')}) was woken`,
        );
    }
  }

  /** Verifying: the lock is free for others, the fingerprint stays claimed (no second fix of it meanwhile). */
  async function checkVerifying(): Promise<void> {
    for (const rem of live()) {
      if (rem.pc !== 'verify') continue;
      const fp = await innerLedger.getFingerprint(rem.ref.fingerprintKey, rem.ref.fingerprint);
      if (fp.active?.remediationId !== rem.id)
        fail(
          'verification',
          `${rem.id} verifies but ${fp.key}'s claim is ${fp.active ? `${fp.active.remediationId}'s` : 'free'}`,
        );
      const target = await innerLedger.getTarget(rem.ref.targetKey);
      if (target.lock?.remediationId === rem.id)
        fail('verification', `${rem.id} verifies while still holding ${target.key}'s lock`);
    }
  }

  async function afterStep(wakesBefore: number): Promise<void> {
    checkWrites();
    checkWakes(wakesBefore);
    checkBudgetWakes(wakesBefore);
    await checkRuns();
    await checkVerifying();
  }

  const steps = options.steps ?? 150;
  for (step = 1; step <= steps && !violation; step++) {
    const wakesBefore = remediations.wakes.length;
    const ready = runnable();
    if (ready.length === 0 || random.chance(0.25)) await operatorOrFault();
    else await advance(pickFrom(random, ready)!);
    await afterStep(wakesBefore);
  }

  // Drain: no more faults; operators clear every target; every remediation must end and every
  // run be recorded (liveness: nothing wedges).
  faults.outageUntil = 0;
  faults.conflicts = 0;
  faults.loseNextResponse = false;
  faults.refuseNext = false;
  await runToQuiet('remediations', 50, 60_000, false);
  if (!violation) await checkSettled();

  /**
   * Runs the live remediations until all have ended (no faults by now), jumping the clock to the
   * next wait's end when nobody is ready and nudging it every `every` steps; fails on a wedge.
   */
  async function runToQuiet(who: string, every: number, nudgeMs: number, operatorClears: boolean) {
    for (let i = 0; !violation && live().length > 0 && i < 5_000; i++) {
      step++;
      // The operator approves whatever still waits for an approval.
      for (const r of live())
        if (r.approval === 'Pending' && r.pc === 'wait') {
          r.approval = 'Approved';
          r.woken = true;
          note(`OP approve ${r.id} (drain)`);
        }
      const ready = runnable();
      if (ready.length === 0) {
        clock.current = Math.min(...live().map((r) => (sleeping(r) ? r.waitUntil : clock.current + 30_000)));
        continue;
      }
      const wakesBefore = remediations.wakes.length;
      await advance(pickFrom(random, ready)!);
      if (i % every === every - 1) clock.current += nudgeMs;
      // A settled orphan may have asked for review again: the operator looks when all are stuck.
      if (operatorClears && live().every((r) => r.pc === 'wait' && r.lastBlockKind === 'manual'))
        await clearAll();
      await afterStep(wakesBefore);
    }
    if (!violation && live().length > 0)
      fail(
        'liveness',
        `${who} never ended: ${live()
          .map((r) => `${r.id}@${r.pc}`)
          .join(', ')}`,
      );
  }

  async function clearAll(): Promise<void> {
    for (const t of targets) {
      clearing = true;
      await workers[0]!
        .clearTarget({ target: `${t.namespace}/Deployment/${t.name}`, reason: 'drain', by: 'operator' })
        .catch(() => undefined);
      checkWrites();
      clearing = false;
    }
  }

  async function checkSettled(): Promise<void> {
    // Someone must still meet every target and fingerprint to reclaim what the dead hold and to
    // settle orphans: one fresh remediation per target and fingerprint.
    await clearAll();
    const drain = (t: (typeof targets)[number], f: string) => {
      const rem = newRem(t, f, 24 * 3_600_000);
      note(`drain remediation ${rem.id} of ${f} on ${t.name}`);
      rem.request = parseRequest({
        ...rem.request,
        action: { ...rem.request.action, pipeline: 'ok', timeout: '5m' },
      });
    };
    for (const t of targets) drain(t, `drain-${t.name}`);
    const met = new Set<string>();
    for (const f of fingerprints) {
      for (const t of targets) {
        const key = `${t.namespace}/${f}`;
        const fp = await innerLedger.getFingerprint(key, f);
        if (fp.active && !met.has(key)) {
          met.add(key);
          drain(t, f); // someone of that fingerprint must meet a claim left by the dead
        }
      }
    }
    await runToQuiet('drain remediations', 20, 30_000, true);
    for (const t of targets) {
      const key = `${t.namespace}/Deployment/${t.name}`;
      const target = await innerLedger.getTarget(key);
      if (target.lock)
        fail('I2', `${key} is still locked by ${target.lock.remediationId} after every remediation ended`);
      if (target.unsettled) fail('I1', `${key} still has unsettled ${target.unsettled.pipelineRun}`);
      for (const c of pipelineRuns.created) {
        if (c.labels['remediation.dev/target-hash'] !== hash(key).slice(0, 40)) continue;
        const token = Number(c.labels['remediation.dev/fencing-token']);
        if (!(target.recordedThrough >= token))
          fail('I3', `outcome of ${c.name} (token ${token}) on ${key} was never recorded`);
      }
    }
    for (const f of fingerprints) {
      for (const ns of ['a', 'b']) {
        const fp = await innerLedger.getFingerprint(`${ns}/${f}`, f);
        if (fp.active)
          fail(
            'I2',
            `fingerprint ${fp.key} is still claimed by ${fp.active.remediationId} after every remediation ended`,
          );
      }
    }
  }

  return {
    seed: options.seed,
    steps: step,
    violation,
    trace,
    stats: {
      pipelineRuns: pipelineRuns.created.length,
      faults: faultCount,
      completed: rems.filter((r) => r.phase === 'Completed').length,
    },
  };
}
