/**
 * Properties of the ledger transitions under random sequences: retried records, out-of-order
 * records, and a small model of several remediations on one target (routing, run intents,
 * PipelineRuns that finish, disappear or outlive their timeout, terminations, crashes, retries,
 * operator clears), checked after every step.
 */
import fc from 'fast-check';
import { backoff } from '../../../src/domain/backoff';
import { defaultPolicyConfig } from '../../../src/domain/config';
import {
  beginRun,
  clearTarget,
  disappeared,
  finishOnFingerprint,
  finishOnTarget,
  pruneWaiters,
  recordOutcome,
  route,
  routeQuestions,
  runsToObserve,
  wakeQuestions,
  watchTimedOut,
  type Caller,
  type ObservedRun,
  type OutcomeInput,
  type RouteQuestions,
} from '../../../src/domain/ledger';
import {
  emptyFingerprintState,
  emptyTargetState,
  type Failure,
  type FingerprintState,
  type Phase,
  type TargetState,
} from '../../../src/domain/model';
import { isParked } from '../../../src/domain/routing';

const T = Date.parse('2026-03-02T10:00:00.000Z');
const SEC = 1_000;
const MIN = 60 * SEC;
const at = (ms: number): string => new Date(ms).toISOString();
const policy = defaultPolicyConfig;
const KEY = 'prod/Deployment/api';
const freshTarget = (): TargetState => ({ ...emptyTargetState(KEY), version: '1' });

const stepFailed: Failure = {
  category: 'StepFailed',
  wasExecutionFailure: true,
  reason: 'Failed',
  message: 'exit 1',
};
const imagePull: Failure = {
  category: 'ImagePullFailed',
  wasExecutionFailure: false,
  reason: 'TaskRunImagePullFailed',
  message: 'no such image',
};
const cancelledRun: Failure = {
  category: 'Cancelled',
  wasExecutionFailure: true,
  reason: 'PipelineRunCancelled',
  message: 'cancelled',
};

// ----------------------------------------------------------------- recording exactly once (I3)

type Kind = 'success' | 'pre' | 'exec' | 'cancelled';
const outcomeOf = (kind: Kind): OutcomeInput['outcome'] =>
  kind === 'success'
    ? { succeeded: true }
    : kind === 'pre'
      ? { succeeded: false, failure: imagePull }
      : kind === 'exec'
        ? { succeeded: false, failure: stepFailed }
        : { cancelled: true };
const recordInput = (token: number, kind: Kind, jitterSample: number): OutcomeInput => ({
  remediationId: `R${token}`,
  actionId: 'restart',
  pipelineRun: `pr-R${token}-${token}-1`,
  fencingToken: token,
  outcome: outcomeOf(kind),
  jitterSample,
});

/** An independent oracle for the counters: each outcome applied once, in the given order. */
interface Counters {
  consecutiveFailures: number;
  nextAllowedExecution: string | null;
  manualReviewRequired: boolean;
  recordedThrough: number;
}
function oracle(events: { token: number; kind: Kind | 'clear'; jitter: number; now: number }[]): Counters {
  const c: Counters = {
    consecutiveFailures: 0,
    nextAllowedExecution: null,
    manualReviewRequired: false,
    recordedThrough: 0,
  };
  for (const e of events) {
    if (e.kind === 'clear') {
      c.consecutiveFailures = 0;
      c.nextAllowedExecution = null;
      c.manualReviewRequired = false;
      continue;
    }
    c.recordedThrough = Math.max(c.recordedThrough, e.token);
    if (e.kind === 'success') {
      c.consecutiveFailures = 0;
      c.nextAllowedExecution = null;
    } else if (e.kind === 'pre') {
      c.consecutiveFailures += 1;
      c.nextAllowedExecution = at(e.now + backoff(c.consecutiveFailures, policy.backoff, () => e.jitter));
    } else if (e.kind === 'exec') {
      c.manualReviewRequired = true;
    }
  }
  return c;
}
const countersOf = (t: TargetState): Counters => ({
  consecutiveFailures: t.consecutiveFailures,
  nextAllowedExecution: t.nextAllowedExecution,
  manualReviewRequired: t.manualReview?.required ?? false,
  recordedThrough: t.recordedThrough,
});

const outcomesArb = fc.array(
  fc.record({
    kind: fc.constantFrom<Kind>('success', 'pre', 'exec', 'cancelled'),
    jitter: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  }),
  { minLength: 1, maxLength: 8 },
);

describe('recordOutcome: every outcome counts exactly once (I3)', () => {
  it('retries in random places change nothing; the counters equal each distinct token applied once in token order', () => {
    fc.assert(
      fc.property(
        outcomesArb,
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 16 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        (outcomes, retrySeeds, clearSeeds) => {
          // Acquire k, record k (first time), in token order; retries of k anywhere after its first record.
          type Ev = { type: 'acquire' | 'record' | 'retry'; token: number } | { type: 'clear' };
          const events: Ev[] = outcomes.flatMap((_, i): Ev[] => [
            { type: 'acquire', token: i + 1 },
            { type: 'record', token: i + 1 },
          ]);
          for (const [which, where] of retrySeeds) {
            const token = (which % outcomes.length) + 1;
            const first = events.findIndex((e) => e.type === 'record' && e.token === token);
            const pos = first + 1 + (where % (events.length - first));
            events.splice(pos, 0, { type: 'retry', token });
          }
          for (const where of clearSeeds) events.splice(where % (events.length + 1), 0, { type: 'clear' });

          let state = freshTarget();
          const applied: { token: number; kind: Kind | 'clear'; jitter: number; now: number }[] = [];
          events.forEach((e, i) => {
            const now = T + i * SEC;
            if (e.type === 'clear') {
              const cleared = clearTarget(state, { by: 'op', reason: 'r' }, now);
              if (cleared.kind !== 'cleared') throw new Error('clear refused');
              state = cleared.target;
              applied.push({ token: 0, kind: 'clear', jitter: 0, now });
              return;
            }
            const o = outcomes[e.token - 1]!;
            if (e.type === 'acquire') {
              state = {
                ...state,
                fencingToken: e.token,
                lock: {
                  remediationId: `R${e.token}`,
                  workflowId: `wf-R${e.token}`,
                  runId: 'run-1',
                  acquiredAt: at(now),
                  fencingToken: e.token,
                  run: { pipelineRun: `pr-R${e.token}-${e.token}-1`, notAfter: at(now + 35 * MIN) },
                },
              };
              return;
            }
            const input = recordInput(e.token, o.kind, o.jitter);
            const result = recordOutcome(state, input, now, policy, e.type === 'retry');
            if (e.type === 'retry') {
              // A retry never records, never releases a lock that is not its own, never moves a counter.
              expect(result.recorded).toBe(false);
              expect(result.target).toEqual(state);
            } else {
              expect(result.recorded).toBe(true);
              expect(result.target.lock).toBeNull();
              applied.push({ token: e.token, kind: o.kind, jitter: o.jitter, now });
            }
            state = result.target;
          });
          expect(countersOf(state)).toEqual(oracle(applied));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('in any arrival order with repeats, only a token above every token recorded so far counts', () => {
    fc.assert(
      fc.property(
        outcomesArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (outcomes, order, retryFlag) => {
          let state = freshTarget();
          let highest = 0;
          const applied: { token: number; kind: Kind; jitter: number; now: number }[] = [];
          order.forEach((n, i) => {
            const token = (n % outcomes.length) + 1;
            const o = outcomes[token - 1]!;
            const now = T + i * SEC;
            const result = recordOutcome(state, recordInput(token, o.kind, o.jitter), now, policy, retryFlag);
            expect(result.recorded).toBe(token > highest);
            if (token > highest) {
              highest = token;
              applied.push({ token, kind: o.kind, jitter: o.jitter, now });
            } else {
              expect(result.target).toEqual(state);
            }
            state = result.target;
          });
          expect(countersOf(state)).toEqual(oracle(applied));
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ------------------------------------------------------ a model of remediations on one target

interface Rem {
  id: string;
  wf: string;
  fpKey: string;
  actionId: string;
  deadline: number;
  status: 'new' | 'waiting' | 'holding' | 'done';
  /** The workflow is closed (ended or terminated): liveness questions answer "closed". */
  closed: boolean;
  token: number | null;
  pr: string | null;
  prNotAfter: number;
  attempt: number;
  ranPr: boolean;
  claimedSomething: boolean;
  released: boolean;
  lastRecord: OutcomeInput | null;
}
interface Pr {
  owner: string;
  state: ObservedRun;
}

type Op =
  | { op: 'step'; i: number; observe: boolean }
  | { op: 'finishPr'; result: 'succeeded' | 'pre' | 'exec' | 'deleted' }
  | { op: 'terminate'; i: number }
  | { op: 'crash'; i: number }
  | { op: 'retryRecord'; i: number }
  | { op: 'retryFinish'; i: number }
  | { op: 'clear' }
  | { op: 'tick'; ms: number };

const N = 5;
const remIndex = fc.integer({ min: 0, max: N - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant('step' as const), i: remIndex, observe: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('finishPr' as const),
      result: fc.oneof(
        { weight: 3, arbitrary: fc.constant('succeeded' as const) },
        { weight: 2, arbitrary: fc.constant('pre' as const) },
        { weight: 1, arbitrary: fc.constant('exec' as const) },
        { weight: 1, arbitrary: fc.constant('deleted' as const) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('terminate' as const), i: remIndex }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const), i: remIndex }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('retryRecord' as const), i: remIndex }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('retryFinish' as const), i: remIndex }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 8 * MIN }) }),
  },
);

class World {
  now = T;
  target = freshTarget();
  fps = new Map<string, FingerprintState>();
  prs = new Map<string, Pr>();
  rems: Rem[];
  /** Verdicts of `run` seen, for the coverage sanity check. */
  runs = 0;
  settled = 0;
  verdicts = new Map<string, number>();

  constructor() {
    const spec = [
      ['A', 'F1', 'restart'],
      ['B', 'F1', 'scale'],
      ['C', 'F2', 'restart'],
      ['D', 'F3', 'scale'],
      ['E', 'F4', 'restart'],
    ] as const;
    this.rems = spec.map(([id, fpKey, actionId]) => ({
      id,
      wf: `wf-${id}`,
      fpKey,
      actionId,
      deadline: 0, // set on the first pass: an hour from then
      status: 'new',
      closed: false,
      token: null,
      pr: null,
      prNotAfter: 0,
      attempt: 1,
      ranPr: false,
      claimedSomething: false,
      released: false,
      lastRecord: null,
    }));
  }

  caller(r: Rem): Caller {
    return { remediationId: r.id, workflowId: r.wf, runId: 'run-1' };
  }
  fp(key: string): FingerprintState {
    return this.fps.get(key) ?? emptyFingerprintState(`prod/${key}`, key);
  }
  isClosed(workflowId: string): boolean {
    return this.rems.find((r) => r.wf === workflowId)?.closed ?? true;
  }
  /** As the activity asks: holder, claimant, then the queue until the first live waiter. */
  closedAmong(q: RouteQuestions): Set<string> {
    const closed = new Set<string>();
    if (q.lockHolder && this.isClosed(q.lockHolder.workflowId)) closed.add(q.lockHolder.workflowId);
    if (q.claimant && this.isClosed(q.claimant)) closed.add(q.claimant);
    for (const id of q.queue) {
      if (!this.isClosed(id)) break;
      closed.add(id);
    }
    return closed;
  }
  pruned(): TargetState {
    return pruneWaiters(
      this.target,
      this.closedAmong({ lockHolder: null, claimant: null, queue: wakeQuestions(this.target, this.now) }),
    );
  }
  running(): string[] {
    return [...this.prs].filter(([, pr]) => pr.state.state === 'running').map(([name]) => name);
  }
  cancel(name: string): void {
    const pr = this.prs.get(name);
    if (pr?.state.state === 'running') pr.state = { state: 'failed', failure: cancelledRun };
  }

  release(r: Rem, phase: Phase): void {
    const input = { caller: this.caller(r), phase };
    this.target = finishOnTarget(this.pruned(), input, this.now).target;
    this.fps.set(r.fpKey, finishOnFingerprint(this.fp(r.fpKey), input, this.now).fingerprint);
    r.released = true;
  }
  end(r: Rem, phase: Phase | null): void {
    if (phase) this.release(r, phase);
    r.status = 'done';
    r.closed = true;
  }

  routeOnce(r: Rem, observe: boolean): void {
    const before = this.target;
    const fingerprint = this.fp(r.fpKey);
    const questions = routeQuestions(before, fingerprint, this.caller(r), this.now);
    const closed = this.closedAmong(questions);
    const runs = new Map<string, ObservedRun>();
    if (observe)
      for (const name of runsToObserve(before, closed))
        runs.set(name, this.prs.get(name)?.state ?? { state: 'missing' });
    const result = route(
      { target: before, fingerprint },
      { caller: this.caller(r), actionId: r.actionId, deadline: r.deadline, overrideActive: false },
      { closed, runs },
      this.now,
      policy,
    );
    this.settled += result.target.audit
      .slice(before.audit.length)
      .filter((a) => a.action === 'orphanSettled').length;
    this.target = result.target;
    this.fps.set(r.fpKey, result.fingerprint);
    for (const e of result.effects) if (e.kind === 'cancelPipelineRun') this.cancel(e.pipelineRun);

    const v = result.verdict;
    const tag = v.kind === 'run' ? 'run' : `${v.kind}:${v.reason}`;
    this.verdicts.set(tag, (this.verdicts.get(tag) ?? 0) + 1);
    if (v.kind === 'run') {
      this.runs++;
      // I1: nobody else's PipelineRun may still be going, and nothing is left to settle.
      expect(this.running()).toEqual([]);
      expect(result.target.unsettled).toBeNull();
      // I8: no live, unparked waiter stood ahead of the caller.
      const position = before.waiters.findIndex((w) => w.remediationId === r.id);
      const ahead = position < 0 ? before.waiters : before.waiters.slice(0, position);
      const liveAhead = ahead.filter((w) => !isParked(w, this.now) && !this.isClosed(w.workflowId));
      expect(liveAhead).toEqual([]);
      expect(result.target.lock).toMatchObject({ remediationId: r.id, fencingToken: result.fencingToken });
      expect(result.fencingToken).toBe(result.target.fencingToken);
      r.status = 'holding';
      r.token = result.fencingToken;
      r.claimedSomething = true;
    } else if (v.kind === 'wait') {
      r.status = 'waiting';
      r.claimedSomething = true;
    } else {
      const duplicate = v.reason === 'DuplicateInProgress';
      this.end(r, duplicate && !r.claimedSomething ? null : r.ranPr ? 'Failed' : 'Skipped');
    }
  }

  record(r: Rem, failure: Failure | null, jitterSample = 0.5): void {
    const input: OutcomeInput = {
      remediationId: r.id,
      actionId: r.actionId,
      pipelineRun: r.pr!,
      fencingToken: r.token!,
      outcome: failure ? { succeeded: false, failure } : { succeeded: true },
      jitterSample,
    };
    this.target = recordOutcome(this.pruned(), input, this.now, policy).target;
    r.lastRecord = input;
    r.pr = null;
    r.token = null;
    if (!failure) this.end(r, 'Completed');
    else if (failure.wasExecutionFailure) this.end(r, 'Failed');
    else {
      r.status = 'waiting';
      r.attempt++;
    }
  }

  step(r: Rem, observe: boolean): void {
    if (r.closed) return;
    if (r.status === 'new') r.deadline = this.now + policy.defaultDeadlineMs;
    if (r.status === 'new' || r.status === 'waiting') return this.routeOnce(r, observe);
    if (r.status !== 'holding') return;
    if (r.pr === null) {
      const name = `pr-${r.id}-${r.token}-${r.attempt}`;
      const notAfter = this.now + policy.pipelineRunTimeoutMs + policy.watchGraceMs;
      const begun = beginRun(
        this.target,
        { remediationId: r.id, fencingToken: r.token!, pipelineRun: name, notAfter, deadline: r.deadline },
        this.now,
      );
      if (begun.kind === 'refused') {
        r.token = null;
        if (begun.reason === 'LockLost') r.status = 'waiting';
        else this.end(r, r.ranPr ? 'Failed' : 'Skipped');
        return;
      }
      this.target = begun.target;
      // I1: the create happens only while no other PipelineRun of the target is going.
      expect(this.running()).toEqual([]);
      this.prs.set(name, { owner: r.id, state: { state: 'running' } });
      r.pr = name;
      r.prNotAfter = notAfter;
      r.ranPr = true;
      return;
    }
    const observed = this.prs.get(r.pr)?.state ?? { state: 'missing' };
    if (observed.state === 'running') {
      if (this.now < r.prNotAfter) return; // still watching
      this.cancel(r.pr);
      return this.record(r, watchTimedOut(r.pr, at(r.prNotAfter)));
    }
    if (observed.state === 'succeeded') return this.record(r, null);
    if (observed.state === 'missing') return this.record(r, disappeared(r.pr));
    return this.record(r, observed.failure, (this.now % 1000) / 1000);
  }

  apply(op: Op): void {
    const r = 'i' in op ? this.rems[op.i]! : null;
    switch (op.op) {
      case 'step':
        return this.step(r!, op.observe);
      case 'finishPr': {
        // At most one PipelineRun is ever going; whose it is does not matter.
        const name = this.running()[0];
        if (!name) return;
        if (op.result === 'deleted') this.prs.delete(name);
        else
          this.prs.get(name)!.state =
            op.result === 'succeeded'
              ? { state: 'succeeded' }
              : { state: 'failed', failure: op.result === 'pre' ? imagePull : stepFailed };
        return;
      }
      case 'terminate':
        if (!r!.closed) {
          r!.closed = true;
          r!.status = 'done';
        }
        return;
      case 'crash':
        // An unexpected error while the run goes: the workflow releases without recording.
        if (!r!.closed && r!.status === 'holding' && r!.pr) this.end(r!, 'Failed');
        return;
      case 'retryRecord': {
        if (!r!.lastRecord) return;
        const before = this.pruned();
        const result = recordOutcome(before, r!.lastRecord, this.now, policy, true);
        expect(result.recorded).toBe(false);
        expect(result.target).toEqual(before);
        this.target = result.target;
        return;
      }
      case 'retryFinish': {
        if (!r!.released) return;
        const input = { caller: this.caller(r!), phase: 'Failed' as const };
        const before = this.pruned();
        const onTarget = finishOnTarget(before, input, this.now, true);
        const onFp = finishOnFingerprint(this.fp(r!.fpKey), input, this.now);
        expect(onTarget.changed).toBe(false);
        expect(onFp.changed).toBe(false);
        this.target = onTarget.target;
        return;
      }
      case 'clear': {
        const cleared = clearTarget(this.target, { by: 'op', reason: 'checked' }, this.now);
        if (cleared.kind === 'cleared') this.target = cleared.target;
        return;
      }
      case 'tick':
        this.now += op.ms;
        return;
    }
  }

  /** What must hold after every step, whatever happened. */
  check(prev: TargetState, op: Op): void {
    const t = this.target;
    // Fencing tokens and the record mark never go backwards (I3, I5).
    expect(t.fencingToken).toBeGreaterThanOrEqual(prev.fencingToken);
    expect(t.recordedThrough).toBeGreaterThanOrEqual(prev.recordedThrough);
    expect(t.recordedThrough).toBeLessThanOrEqual(t.fencingToken);
    if (t.lock) {
      expect(t.lock.fencingToken).toBeLessThanOrEqual(t.fencingToken);
      expect(t.lock.fencingToken).toBeGreaterThan(t.recordedThrough);
    }
    // I5: only an operator's clear lifts a manual review.
    if (prev.manualReview?.required && op.op !== 'clear') expect(t.manualReview?.required).toBe(true);
    // I1: a PipelineRun that is still going is always accounted for on the target, as the
    // holder's run intent or as the unsettled run, so nobody else can take the target beside it.
    const going = this.running();
    expect(going.length).toBeLessThanOrEqual(1);
    for (const name of going) {
      const accounted = t.lock?.run?.pipelineRun === name || t.unsettled?.pipelineRun === name;
      expect({ name, accounted }).toEqual({ name, accounted: true });
    }
    // The queue holds each remediation once.
    const ids = t.waiters.map((w) => w.remediationId);
    expect(new Set(ids).size).toBe(ids.length);
  }
}

describe('the ledger under random interleavings (model)', () => {
  it('keeps fencing monotone, one PipelineRun at a time, FIFO for live waiters, manual review sticky', () => {
    let totalRuns = 0;
    let totalSettled = 0;
    let totalTakeovers = 0;
    const hist = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 120, size: 'max' }), (ops) => {
        const world = new World();
        for (const op of ops) {
          const prev = world.target;
          world.apply(op);
          world.check(prev, op);
        }
        for (const [k, n] of world.verdicts) hist.set(k, (hist.get(k) ?? 0) + n);
        totalRuns += world.runs;
        totalSettled += world.settled;
        totalTakeovers += world.target.audit.filter((a) => a.action === 'lockTakeover').length;
      }),
      { numRuns: 200 },
    );
    // The generator does reach the interesting paths.
    expect(totalRuns).toBeGreaterThan(150);
    expect(totalSettled).toBeGreaterThan(15);
    expect(totalTakeovers).toBeGreaterThan(15);
    expect(hist.get('end:DuplicateInProgress')).toBeGreaterThan(0);
    expect(hist.get('wait:PreviousExecutionFailed')).toBeGreaterThan(0);
  });
});
