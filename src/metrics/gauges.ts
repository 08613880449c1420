/**
 * Gauges on the worker's Prometheus endpoint, next to the SDK's runtime metrics and the product
 * counters of src/activities: how many open remediations are in each phase, how many wait for an
 * approval, and how many targets wait for an operator's clear. All are read from their source of
 * truth (Temporal visibility, the ledger) on a timer, so every worker replica reports the same
 * numbers and none of them has to track state of its own. Gauges carry no `_total` (they are not
 * counters): the exporter leaves their names as they are.
 */
import type { WorkflowClient } from '@temporalio/client';
import type { MetricGauge, MetricMeter } from '@temporalio/common';
import { BlockReason, Phase, type TargetState } from '../domain/model';
import type { Ledger } from '../ports/ledger';
import { REMEDIATION_WORKFLOW } from '../temporal-contract';

/** Open remediations blocked on an approval nobody has given yet (BlockReason is set by the workflow). */
export const AWAITING_APPROVAL_QUERY =
  `WorkflowType = '${REMEDIATION_WORKFLOW}' AND ExecutionStatus = 'Running' ` +
  `AND BlockReason = '${BlockReason.AwaitingApproval}'`;

/** The phases of a remediation still running; a closed one is counted by `remediation_finished_total`. */
export const OPEN_PHASES = [
  Phase.Pending,
  Phase.Routing,
  Phase.Blocked,
  Phase.Executing,
  Phase.Verifying,
] as const;
export type OpenPhase = (typeof OPEN_PHASES)[number];

/** Open remediations whose current phase (the RemediationPhase search attribute) is `phase`. */
export function openInPhaseQuery(phase: OpenPhase): string {
  return (
    `WorkflowType = '${REMEDIATION_WORKFLOW}' AND ExecutionStatus = 'Running' ` +
    `AND RemediationPhase = '${phase}'`
  );
}

export const GAUGES = {
  openRemediations: {
    name: 'remediation_open_remediations',
    description: 'Open remediations by current phase (label phase; Temporal visibility)',
  },
  awaitingApproval: {
    name: 'remediation_awaiting_approval',
    description: 'Open remediations blocked with AwaitingApproval (Temporal visibility)',
  },
  manualReview: {
    name: 'remediation_targets_manual_review',
    description: 'Targets whose ledger record requires manual review (cleared by an operator)',
  },
} as const;
export type GaugeId = keyof typeof GAUGES;

/** Where the numbers come from; `workerGaugeSources` wires the real ones. */
export interface GaugeSources {
  /** How many workflow executions match a visibility query (approximate, eventually consistent). */
  countWorkflows(query: string): Promise<number>;
  /** Every target record of the ledger. */
  listTargets(): Promise<readonly Pick<TargetState, 'manualReview'>[]>;
}

/** The worker's sources: Temporal visibility through the client, the ledger's target records. */
export function workerGaugeSources(deps: {
  workflows: Pick<WorkflowClient, 'count'>;
  ledger: Pick<Ledger, 'listTargets'>;
}): GaugeSources {
  return {
    countWorkflows: async (query) => (await deps.workflows.count(query)).count,
    listTargets: () => deps.ledger.listTargets(),
  };
}

export type GaugeReading<T = number> = { ok: true; value: T } | { ok: false; error: string };
export interface GaugeReadings {
  /** One count per open phase, read together: all of them or an error (no half-updated set). */
  openRemediations: GaugeReading<Record<OpenPhase, number>>;
  awaitingApproval: GaugeReading;
  manualReview: GaugeReading;
}

/** Targets an operator must clear: `manualReview.required` set on their record. */
export function countManualReview(targets: readonly Pick<TargetState, 'manualReview'>[]): number {
  return targets.filter((target) => target.manualReview?.required === true).length;
}

/** Bounds on one read: give up after `timeoutMs`, or at once when `signal` aborts. */
export interface ReadLimits {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Every number, each gauge on its own: one source failing (or not answering within the limits)
 * makes only its reading an error. Never throws.
 */
export async function readGauges(sources: GaugeSources, limits: ReadLimits = {}): Promise<GaugeReadings> {
  const [openRemediations, awaitingApproval, manualReview] = await Promise.all([
    readOpenByPhase(sources, limits),
    reading(() => sources.countWorkflows(AWAITING_APPROVAL_QUERY), 'visibility count', limits),
    reading(async () => countManualReview(await sources.listTargets()), 'ledger list', limits),
  ]);
  return { openRemediations, awaitingApproval, manualReview };
}

async function readOpenByPhase(
  sources: GaugeSources,
  limits: ReadLimits,
): Promise<GaugeReading<Record<OpenPhase, number>>> {
  const readings = await Promise.all(
    OPEN_PHASES.map((phase) =>
      reading(() => sources.countWorkflows(openInPhaseQuery(phase)), `visibility count of ${phase}`, limits),
    ),
  );
  const value = {} as Record<OpenPhase, number>;
  for (const [i, phase] of OPEN_PHASES.entries()) {
    const read = readings[i]!;
    if (!read.ok) return read;
    value[phase] = read.value;
  }
  return { ok: true, value };
}

async function reading(read: () => Promise<number>, what: string, limits: ReadLimits): Promise<GaugeReading> {
  try {
    const value = await bounded(read(), limits);
    if (!Number.isSafeInteger(value) || value < 0) {
      return { ok: false, error: `${what} answered ${String(value)}, not a count` };
    }
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: `${what} failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** `promise`, or a rejection once the limits run out; leaves no timer or listener behind. */
function bounded<T>(promise: Promise<T>, { timeoutMs, signal }: ReadLimits): Promise<T> {
  if (timeoutMs === undefined && !signal) return promise;
  promise.catch(() => undefined); // a late failure after giving up is not unhandled
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const limit = new Promise<never>((_, reject) => {
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    }
    if (signal) {
      onAbort = () => reject(new Error('stopped'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  return Promise.race([promise, limit]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

export const DEFAULT_GAUGE_INTERVAL_MS = 30_000;

export interface GaugeLoopOptions {
  /** The Runtime's meter (`Runtime.instance().metricMeter`); tests pass an in-memory one. */
  meter: Pick<MetricMeter, 'createGauge'>;
  sources: GaugeSources;
  /** Pause between the end of one refresh and the start of the next; default 30 s. */
  intervalMs?: number;
  /** How long a source may take before its refresh counts as failed; default `intervalMs`. */
  timeoutMs?: number;
  /** One line per change of a gauge's health: failing with a new error (warn), or refreshed again (info). */
  log: (line: string, level: 'info' | 'warn') => void;
}

export interface GaugeLoop {
  /**
   * Ends the loop: a refresh in flight gives up at once (its late answers are dropped); no gauge is
   * set and no timer is left once this resolves.
   */
  stop(): Promise<void>;
}

/**
 * Refreshes every gauge at once, then every `intervalMs`. A failing source leaves its gauge at
 * the last value; the failure is logged when it starts or its message changes, and the recovery
 * once. Nothing here throws or rejects, so the loop never takes the worker down.
 */
export function startGaugeLoop(options: GaugeLoopOptions): GaugeLoop {
  const intervalMs = options.intervalMs ?? DEFAULT_GAUGE_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? intervalMs;
  const ids = Object.keys(GAUGES) as GaugeId[];
  const gauges = {} as Record<GaugeId, MetricGauge>;
  for (const id of ids) {
    gauges[id] = options.meter.createGauge(GAUGES[id].name, 'int', undefined, GAUGES[id].description);
  }
  const lastError: Record<GaugeId, string | null> = {
    openRemediations: null,
    awaitingApproval: null,
    manualReview: null,
  };
  const log = (line: string, level: 'info' | 'warn'): void => {
    try {
      options.log(line, level);
    } catch {
      // a broken log sink must not stop the gauges
    }
  };

  let stopped = false;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const refresh = async (): Promise<void> => {
    const readings = await readGauges(options.sources, { timeoutMs, signal: stopping.signal });
    if (stopped) return;
    for (const id of ids) {
      const { name } = GAUGES[id];
      const read = readings[id];
      let error = read.ok ? null : read.error;
      if (read.ok) {
        try {
          const { value } = read;
          if (typeof value === 'number') gauges[id].set(value);
          else for (const phase of OPEN_PHASES) gauges[id].set(value[phase], { phase });
        } catch (setError) {
          error = `setting it failed: ${setError instanceof Error ? setError.message : String(setError)}`;
        }
      }
      if (error !== null && error !== lastError[id]) {
        log(
          `metrics: ${name} not refreshed (keeps its last value, retried every ${intervalMs} ms): ${error}`,
          'warn',
        );
      } else if (error === null && lastError[id] !== null) {
        log(`metrics: ${name} refreshed again`, 'info');
      }
      lastError[id] = error;
    }
  };

  const tick = (): void => {
    inFlight = refresh()
      .catch((error: unknown) => log(`metrics: gauge refresh failed: ${String(error)}`, 'warn'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();

  return {
    async stop() {
      stopped = true;
      stopping.abort();
      clearTimeout(timer);
      await inFlight;
    },
  };
}
