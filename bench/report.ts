/**
 * The bench report's shape and its tables, without I/O: the metrics measured on each Temporal
 * topology merged into one row per metric (a column per topology, and production / dev where both
 * are numbers), the console table `npm run bench` prints, and the Markdown table of the targets
 * that `npm run bench:table` prints for the README.
 */
import type { MachineFacts } from './machine';
import type { Summary } from './stats';

export const TOPOLOGIES = ['dev', 'production'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** What a topology's column is called in the tables. */
export const TOPOLOGY_TITLE: Record<Topology, string> = {
  dev: 'dev server',
  production: 'production topology',
};

/** One figure as a scenario measures it on one topology. */
export interface Metric {
  id: string;
  name: string;
  unit: string;
  /** null where the JSON holds NaN (JSON has no NaN): nothing was measured. */
  value: number | null;
  target?: string;
  met?: boolean;
  summary?: Summary;
  notes?: string;
}

/** One topology's value of a metric. */
export type MetricColumn = Pick<Metric, 'value' | 'target' | 'met' | 'summary' | 'notes'>;

/** One metric across the topologies it was measured on. */
export interface MergedMetric {
  id: string;
  name: string;
  unit: string;
  /** The first column's target (dev before production); each column keeps its own. */
  target?: string;
  dev?: MetricColumn;
  production?: MetricColumn;
  /** production / dev, where both are finite numbers in the same unit and dev is not 0. */
  ratio?: number;
}

export interface PhaseRecord {
  /** Prefixed with the topology ("[dev] latency: …") when it ran on one. */
  name: string;
  topology?: Topology;
  durationMs: number;
  loadAverageAfter: number[];
}

export interface StackNote {
  ephemeral: boolean;
  note: string;
}

export interface BenchReport {
  benchmark: string;
  mode: 'quick' | 'full';
  startedAt: string;
  durationMs: number;
  machine: MachineFacts;
  loadAverageAtEnd: number[];
  /** The topologies measured, in the order they ran (one stack at a time). */
  topologies: Topology[];
  stacks: Partial<Record<Topology, StackNote>>;
  workerPolicy: unknown;
  sizes: unknown;
  cliStartup?: Partial<Record<Topology, unknown>>;
  phases: PhaseRecord[];
  metrics: MergedMetric[];
}

/**
 * One row per metric id, in the order the metrics were first measured; a metric missing on a
 * topology has no column there (and no ratio).
 */
export function mergeColumns(columns: Partial<Record<Topology, readonly Metric[]>>): MergedMetric[] {
  const byId = new Map<string, MergedMetric>();
  for (const topology of TOPOLOGIES) {
    for (const m of columns[topology] ?? []) {
      let row = byId.get(m.id);
      if (!row) {
        row = { id: m.id, name: m.name, unit: m.unit };
        byId.set(m.id, row);
      }
      if (row[topology]) throw new Error(`metric ${m.id} measured twice on ${topology}`);
      row[topology] = column(m);
      if (row.target === undefined && m.target !== undefined) row.target = m.target;
    }
  }
  // Key order as a reader scans the JSON: what it is, its target, the columns, their ratio.
  return [...byId.values()].map((row) => {
    const ratio = ratioOf(row);
    return {
      id: row.id,
      name: row.name,
      unit: row.unit,
      ...(row.target !== undefined && { target: row.target }),
      ...(row.dev && { dev: row.dev }),
      ...(row.production && { production: row.production }),
      ...(ratio !== undefined && { ratio }),
    };
  });
}

function column(m: Metric): MetricColumn {
  return {
    value: m.value,
    ...(m.target !== undefined && { target: m.target }),
    ...(m.met !== undefined && { met: m.met }),
    ...(m.summary && { summary: m.summary }),
    ...(m.notes !== undefined && { notes: m.notes }),
  };
}

function ratioOf(row: MergedMetric): number | undefined {
  const dev = row.dev?.value;
  const production = row.production?.value;
  if (typeof dev !== 'number' || typeof production !== 'number') return undefined;
  if (!Number.isFinite(dev) || !Number.isFinite(production) || dev === 0) return undefined;
  return Math.round((production / dev) * 100) / 100;
}

/**
 * The report of a results file, also of one written before the bench measured both topologies
 * (a flat `metrics` list measured on `stack.temporal`, the dev server when absent): one column.
 */
export function readReport(json: unknown): BenchReport {
  if (!json || typeof json !== 'object' || !Array.isArray((json as { metrics?: unknown }).metrics))
    throw new Error('not a bench report: no metrics list');
  const report = json as BenchReport & { stack?: { temporal?: string; ephemeral?: boolean; note?: string } };
  if (Array.isArray(report.topologies)) return report;
  const topology: Topology = report.stack?.temporal === 'production' ? 'production' : 'dev';
  const { stack, ...rest } = report;
  return {
    ...rest,
    topologies: [topology],
    stacks: stack ? { [topology]: { ephemeral: stack.ephemeral ?? true, note: stack.note ?? '' } } : {},
    metrics: mergeColumns({ [topology]: report.metrics as unknown as Metric[] }),
  };
}

/** "101 ms", "4.66/s", "1.2×"; "n/a" for nothing measured. */
export function formatValue(value: number | null | undefined, unit: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'n/a';
  return unit === '×' || unit.startsWith('/') ? `${value}${unit}` : `${value} ${unit}`;
}

function cell(c: MetricColumn | undefined, unit: string): string {
  if (!c) return '—';
  const value = formatValue(c.value, unit);
  // A summary of the value itself (its median is the value), not of another quantity (throughput
  // metrics carry start → Completed in ms beside a rate).
  return c.summary && c.summary.samples > 1 && c.summary.median === c.value && c.summary.p95 !== c.value
    ? `${value} (p95 ${formatValue(c.summary.p95, unit)})`
    : value;
}

function metCell(c: MetricColumn | undefined): string {
  return c?.met === undefined ? '' : c.met ? 'yes' : 'NO';
}

/** The common target, or each column's where they differ ("dev server: < 15 s"). */
export function targetOf(row: MergedMetric, topologies: readonly Topology[]): string {
  const targets = topologies
    .filter((t) => row[t]?.target !== undefined)
    .map((t) => [t, row[t]!.target!] as const);
  if (targets.length === 0) return '';
  const measured = topologies.filter((t) => row[t]);
  if (targets.length === measured.length && targets.every(([, t]) => t === targets[0]![1]))
    return targets[0]![1];
  return targets.map(([t, target]) => `${TOPOLOGY_TITLE[t]}: ${target}`).join('; ');
}

/** Plain-text table for the terminal: metric | a column per topology | ratio | target | met per topology. */
export function consoleTable(report: BenchReport): string {
  const tops = report.topologies;
  const both = tops.length > 1;
  const head = ['metric', ...tops, ...(both ? ['ratio'] : []), 'target', ...tops.map((t) => `met (${t})`)];
  const rows = report.metrics.map((m) => [
    m.name,
    ...tops.map((t) => cell(m[t], m.unit)),
    ...(both ? [m.ratio === undefined ? '' : `${m.ratio}×`] : []),
    targetOf(m, tops),
    ...tops.map((t) => metCell(m[t])),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join(' | ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

/** The run's machine, commit, load and length in one sentence (the caption of either table). */
export function caption(report: BenchReport): string {
  const f = report.machine;
  const loads = report.phases.map((p) => p.loadAverageAfter[0]!).filter(Number.isFinite);
  const during = loads.length ? `, ${Math.min(...loads)}–${Math.max(...loads)} during the phases` : '';
  return (
    `${report.mode} run of ${report.topologies.map((t) => TOPOLOGY_TITLE[t]).join(' and ')}, ` +
    `${report.startedAt.slice(0, 10)}, ${(report.durationMs / 1000).toFixed(0)} s: ` +
    `${f.cores} cores (${f.cpuModel}), ${(f.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${f.node}, ` +
    `Temporal SDK ${f.temporalSdk}, ${f.temporalCli}` +
    `${f.temporalServer ? `, Temporal server ${f.temporalServer} on PostgreSQL ${f.postgres ?? '?'}` : ''}, ` +
    `${f.etcd}, ${f.apiserver}, commit ${f.git.commit.slice(0, 10)}${f.git.dirty ? ' (dirty tree)' : ''}; ` +
    `1-minute load average ${f.loadAverageAtStart[0]} at the start${during}`
  );
}

/**
 * Markdown table of the metrics that have a target (all of them with `all`): metric | target |
 * a value per topology | met? (per topology where more than one column says).
 */
export function markdownTargets(report: BenchReport, opts: { all?: boolean } = {}): string {
  const tops = report.topologies;
  const rows = report.metrics.filter((m) => opts.all || tops.some((t) => m[t]?.target !== undefined));
  const head = ['metric', 'target', ...tops.map((t) => TOPOLOGY_TITLE[t]), 'met?'];
  const body = rows.map((m) => [
    escape(m.name),
    escape(targetOf(m, tops)),
    ...tops.map((t) => escape(cell(m[t], m.unit))),
    metSummary(m, tops),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/**
 * "**yes**" in a single-topology table; with more columns "**yes** on both" where every column
 * judged it alike, else per topology ("dev server **yes**, production topology **no**").
 */
function metSummary(m: MergedMetric, tops: readonly Topology[]): string {
  const said = tops.filter((t) => m[t]?.met !== undefined);
  const word = (met: boolean): string => (met ? '**yes**' : '**no**');
  if (said.length === 0) return '';
  if (tops.length === 1) return word(m[said[0]!]!.met!);
  if (said.length === tops.length && said.every((t) => m[t]!.met === m[said[0]!]!.met))
    return `${word(m[said[0]!]!.met!)} on both`;
  return said.map((t) => `${TOPOLOGY_TITLE[t]} ${word(m[t]!.met!)}`).join(', ');
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|');
}
