/**
 * The world a simulated schedule runs in: one fake clock, the in-memory ledger and PipelineRuns
 * wrapped so faults can be injected (conflict storms, outages, lost responses, deletions), and
 * the Remediations port answered from the simulation's own table of workflows.
 */
import { InMemoryLedger } from '../fakes/in-memory-ledger';
import { InMemoryPipelineRuns, type Timer } from '../fakes/in-memory-pipeline-runs';
import type { BudgetState, FingerprintState, TargetState } from '../../domain/model';
import { LedgerConflictError, LedgerInvalidStateError, type Ledger } from '../../ports/ledger';
import type { PipelineRuns } from '../../ports/pipeline-runs';
import type { Remediations } from '../../ports/remediations';
import type { Random } from './random';

export const EXECUTION_NAMESPACE = 'sim-runs';

/** Thrown by every port call during an injected outage (the API server is down). */
export class OutageError extends Error {
  override readonly name = 'OutageError';
}

/** Thrown after a write landed: the caller never hears that it did (a lost response). */
export class LostResponseError extends Error {
  override readonly name = 'LostResponseError';
}

export class SimClock implements Timer {
  constructor(public current: number) {}
  now(): number {
    return this.current;
  }
  setTimeout(): () => void {
    throw new Error('the simulation polls; nothing may wait on the fake clock');
  }
}

export interface Faults {
  /** Port calls fail until this time (fake clock). */
  outageUntil: number;
  /** The next N ledger writes lose their compare-and-swap. */
  conflicts: number;
  /** The next ledger write lands, but its caller gets an error. */
  loseNextResponse: boolean;
  /** The next target write is refused as invalid (a non-retryable error, e.g. a full lock queue). */
  refuseNext: boolean;
}

/** Every ledger write, seen from outside: what the invariant checks read. */
export interface WriteEvent {
  kind: 'target' | 'fingerprint' | 'budget';
  /** The write landed but its caller was told it failed (and so could not go on to notify). */
  responseLost: boolean;
  before: TargetState | FingerprintState | BudgetState;
  after: TargetState | FingerprintState | BudgetState;
  /** The fake clock when it landed (a step may move the clock on afterwards). */
  at: number;
}

export class FaultyLedger implements Ledger {
  readonly writes: WriteEvent[] = [];
  constructor(
    readonly inner: InMemoryLedger,
    private readonly faults: Faults,
    private readonly clock: SimClock,
  ) {}

  private gate(): void {
    if (this.clock.now() < this.faults.outageUntil) throw new OutageError('ledger: API server unavailable');
  }

  private async write<S extends TargetState | FingerprintState | BudgetState>(
    kind: WriteEvent['kind'],
    state: S,
    read: () => Promise<S>,
    put: () => Promise<S>,
  ): Promise<S> {
    this.gate();
    if (this.faults.conflicts > 0) {
      this.faults.conflicts--;
      throw new LedgerConflictError(state.key);
    }
    if (this.faults.refuseNext && kind === 'target') {
      this.faults.refuseNext = false;
      throw new LedgerInvalidStateError(state.key, 'waiters: must have at most 1000 items (injected)');
    }
    const before = await read();
    const after = await put();
    this.writes.push({
      kind,
      before,
      after,
      responseLost: this.faults.loseNextResponse,
      at: this.clock.now(),
    });
    if (this.faults.loseNextResponse) {
      this.faults.loseNextResponse = false;
      throw new LostResponseError(`write of ${state.key} landed; the response was lost`);
    }
    return after;
  }

  async getTarget(key: string): Promise<TargetState> {
    this.gate();
    return this.inner.getTarget(key);
  }
  putTarget(state: TargetState): Promise<TargetState> {
    return this.write(
      'target',
      state,
      () => this.inner.getTarget(state.key),
      () => this.inner.putTarget(state),
    );
  }
  async listTargets(): Promise<TargetState[]> {
    this.gate();
    return this.inner.listTargets();
  }
  async getFingerprint(key: string, fingerprint: string): Promise<FingerprintState> {
    this.gate();
    return this.inner.getFingerprint(key, fingerprint);
  }
  putFingerprint(state: FingerprintState): Promise<FingerprintState> {
    return this.write(
      'fingerprint',
      state,
      () => this.inner.getFingerprint(state.key, state.fingerprint),
      () => this.inner.putFingerprint(state),
    );
  }
  async getBudget(empty: BudgetState): Promise<BudgetState> {
    this.gate();
    return this.inner.getBudget(empty);
  }
  putBudget(state: BudgetState): Promise<BudgetState> {
    return this.write(
      'budget',
      state,
      () => this.inner.getBudget(state),
      () => this.inner.putBudget(state),
    );
  }
  async listBudgets(): Promise<BudgetState[]> {
    this.gate();
    return this.inner.listBudgets();
  }
}

/** PipelineRuns that fail during an outage; everything else is the in-memory fake. */
export class FaultyPipelineRuns implements PipelineRuns {
  readonly created: { name: string; at: number; labels: Record<string, string> }[] = [];
  /** Told of every create that made a new run, with exactly what was asked (the catalog check). */
  onCreated: (request: Parameters<PipelineRuns['create']>[0]) => void = () => {};
  /** Bumped by every change that time alone does not explain (create, cancel, delete). */
  generation = 0;
  constructor(
    readonly inner: InMemoryPipelineRuns,
    private readonly faults: Faults,
    private readonly clock: SimClock,
  ) {}
  private gate(): void {
    if (this.clock.now() < this.faults.outageUntil) throw new OutageError('tekton: API server unavailable');
  }
  async create(...args: Parameters<PipelineRuns['create']>) {
    this.gate();
    const result = await this.inner.create(...args);
    this.generation++;
    if (result.created) {
      this.created.push({ name: args[0].name, at: this.clock.now(), labels: args[0].labels });
      this.onCreated(args[0]);
    }
    return result;
  }
  /** Changes nothing, so no generation bump; gated like every call that reaches the API server. */
  async dryRun(...args: Parameters<PipelineRuns['dryRun']>) {
    this.gate();
    return this.inner.dryRun(...args);
  }
  async observe(...args: Parameters<PipelineRuns['observe']>) {
    this.gate();
    return this.inner.observe(...args);
  }
  waitForCompletion(): never {
    throw new Error('the simulation observes; it never blocks on a watch');
  }
  watchConnections(): number {
    return this.inner.watchConnections();
  }
  async cancel(...args: Parameters<PipelineRuns['cancel']>) {
    this.gate();
    this.generation++;
    return this.inner.cancel(...args);
  }
  delete(namespace: string, name: string): boolean {
    this.generation++;
    return this.inner.delete(namespace, name);
  }
  async list(...args: Parameters<PipelineRuns['list']>) {
    this.gate();
    return this.inner.list(...args);
  }
}

export interface SimWorkflow {
  workflowId: string;
  runId: string;
  targetKey: string;
  closed: boolean;
  /** Run ids of this workflow id that have closed (continued as new). */
  closedRuns: Set<string>;
}

/** Remediations port over the simulation's workflow table. */
export class SimRemediations implements Remediations {
  readonly wakes: { workflowId: string; cause: string; at: number }[] = [];
  readonly duplicates = new Map<string, number>();
  constructor(
    private readonly workflows: Map<string, SimWorkflow>,
    private readonly faults: Faults,
    private readonly clock: SimClock,
    private readonly onWake: (workflowId: string) => void,
  ) {}
  private gate(): void {
    if (this.clock.now() < this.faults.outageUntil) throw new OutageError('temporal: unavailable');
  }
  async isRunning(workflowId: string, runId?: string): Promise<boolean> {
    const w = this.workflows.get(workflowId);
    if (!w || w.closed) return false;
    return runId === undefined || runId === w.runId;
  }
  async wake(workflowId: string, cause: string): Promise<void> {
    this.wakes.push({ workflowId, cause, at: this.clock.now() });
    this.onWake(workflowId);
  }
  async notifyDuplicate(workflowId: string): Promise<void> {
    this.duplicates.set(workflowId, (this.duplicates.get(workflowId) ?? 0) + 1);
  }
  async runningOnTarget(targetKey: string): Promise<string[]> {
    this.gate();
    return [...this.workflows.values()]
      .filter((w) => !w.closed && w.targetKey === targetKey)
      .map((w) => w.workflowId);
  }
}

export function pickFrom<T>(random: Random, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[random.int(items.length)];
}
