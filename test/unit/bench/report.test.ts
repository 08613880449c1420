/**
 * The bench report's pure parts: merging each topology's metrics into columns with ratios, reading
 * older single-topology results files, and the console and Markdown tables built from them.
 */
import {
  consoleTable,
  formatValue,
  markdownTargets,
  mergeColumns,
  readReport,
  TOPOLOGY_TITLE,
  type BenchReport,
  type MergedMetric,
  type Metric,
  type Topology,
} from '../../../bench/report';
import type { MachineFacts } from '../../../bench/machine';

const machine: MachineFacts = {
  cores: 2,
  cpuModel: 'test cpu',
  totalMemoryBytes: 8 * 2 ** 30,
  platform: 'linux x64',
  node: 'v20.0.0',
  temporalSdk: '1.24.0',
  temporalCli: 'temporal version 1.9.1',
  etcd: 'etcd 3.6',
  apiserver: 'apiextensions-apiserver v0.34',
  git: { commit: 'abcdef0123456789', dirty: false },
  loadAverageAtStart: [1, 1, 1],
};

function metric(id: string, value: number | null, extra: Partial<Metric> = {}): Metric {
  return { id, name: `name of ${id}`, unit: 'ms', value, ...extra };
}

function report(metrics: MergedMetric[], topologies: Topology[]): BenchReport {
  return {
    benchmark: 'test',
    mode: 'quick',
    startedAt: '2026-12-06T10:00:00.000Z',
    durationMs: 1000,
    machine,
    loadAverageAtEnd: [1, 1, 1],
    topologies,
    stacks: {},
    workerPolicy: {},
    sizes: {},
    phases: [],
    metrics,
  };
}

/** The cells of a Markdown table row (without the outer pipes; escaped pipes stay inside a cell). */
function cells(line: string): string[] {
  return line
    .slice(2, -2)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

function rowOf(table: string, name: string): string[] {
  const line = table.split('\n').find((l) => cells(l)[0] === name);
  if (!line) throw new Error(`no row ${name} in\n${table}`);
  return cells(line);
}

describe('mergeColumns', () => {
  it('puts each topology’s value of a metric in its column, with production / dev as the ratio', () => {
    const merged = mergeColumns({
      dev: [metric('a', 40), metric('b', 200, { unit: 'MB' })],
      production: [metric('a', 100), metric('b', 150, { unit: 'MB' })],
    });
    expect(merged.map((m) => m.id)).toEqual(['a', 'b']);
    const [a, b] = merged as [MergedMetric, MergedMetric];
    expect(a.dev?.value).toBe(40);
    expect(a.production?.value).toBe(100);
    expect(a.ratio).toBeCloseTo(100 / 40, 2);
    expect(b.unit).toBe('MB');
    expect(b.ratio).toBeCloseTo(150 / 200, 2);
  });

  it('keeps the order in which metrics were measured and appends those only the production topology has', () => {
    const merged = mergeColumns({
      dev: [metric('x', 1), metric('y', 2)],
      production: [metric('z', 3), metric('y', 4), metric('x', 5)],
    });
    expect(merged.map((m) => m.id)).toEqual(['x', 'y', 'z']);
    const z = merged[2]!;
    expect(z.dev).toBeUndefined();
    expect(z.production?.value).toBe(3);
  });

  it('gives no ratio where a column is missing, a value is not a number, or dev is 0', () => {
    const merged = mergeColumns({
      dev: [metric('onlyDev', 10), metric('nullDev', null), metric('zeroDev', 0), metric('nullProd', 5)],
      production: [metric('nullDev', 7), metric('zeroDev', 3), metric('nullProd', null)],
    });
    for (const m of merged) expect(m.ratio).toBeUndefined();
    expect(merged.find((m) => m.id === 'onlyDev')?.production).toBeUndefined();
  });

  it('keeps target, met, summary and notes per column; the row’s target is the first column’s', () => {
    const summary = { samples: 3, median: 12, p95: 20, p99: 20, min: 10, max: 20, mean: 14 };
    const [m] = mergeColumns({
      dev: [metric('storm', 12, { target: '< 15 s', met: true, summary, notes: 'dev note' })],
      production: [metric('storm', 30, { notes: 'target is for the dev server' })],
    });
    expect(m!.target).toBe('< 15 s');
    expect(m!.dev).toEqual({ value: 12, target: '< 15 s', met: true, summary, notes: 'dev note' });
    expect(m!.production).toEqual({ value: 30, notes: 'target is for the dev server' });
  });

  it('takes the production column’s target when the dev server has none', () => {
    const [m] = mergeColumns({
      dev: [metric('a', 1)],
      production: [metric('a', 2, { target: '< 5 ms', met: true })],
    });
    expect(m!.target).toBe('< 5 ms');
  });

  it('refuses a metric measured twice on one topology (two scenarios would overwrite each other)', () => {
    expect(() => mergeColumns({ dev: [metric('a', 1), metric('a', 2)] })).toThrow(/a measured twice on dev/);
  });
});

describe('readReport', () => {
  it('reads a single-topology results file of the older flat shape as one column', () => {
    const legacy = {
      ...report([], ['dev']),
      topologies: undefined,
      stacks: undefined,
      stack: { ephemeral: true, temporal: 'production', note: 'on PostgreSQL' },
      metrics: [metric('a', 3, { target: '< 5 ms', met: true }), metric('b', 4)],
    };
    const r = readReport(legacy);
    expect(r.topologies).toEqual(['production']);
    expect(r.stacks).toEqual({ production: { ephemeral: true, note: 'on PostgreSQL' } });
    expect(r.metrics.map((m) => [m.id, m.production?.value, m.dev])).toEqual([
      ['a', 3, undefined],
      ['b', 4, undefined],
    ]);
  });

  it('takes a flat file without a topology for the dev server’s (written before the production topology existed)', () => {
    const r = readReport({ ...report([], ['dev']), topologies: undefined, metrics: [metric('a', 3)] });
    expect(r.topologies).toEqual(['dev']);
    expect(r.metrics[0]!.dev?.value).toBe(3);
  });

  it('passes a report with columns through and rejects what is no report', () => {
    const merged = report(mergeColumns({ dev: [metric('a', 1)], production: [metric('a', 2)] }), [
      'dev',
      'production',
    ]);
    expect(readReport(JSON.parse(JSON.stringify(merged)))).toEqual(merged);
    expect(() => readReport({ benchmark: 'x' })).toThrow(/no metrics/);
    expect(() => readReport(null)).toThrow(/no metrics/);
  });
});

describe('markdownTargets', () => {
  const both = report(
    mergeColumns({
      dev: [
        metric('latency', 35, { target: 'p50 < 40 ms', met: true }),
        metric('plain', 7),
        metric('storm', 12, { unit: 's', target: '< 15 s', met: true }),
        metric('memory', 250, { unit: 'MB', target: '< 300 MB', met: true }),
        metric('watch', 1, { unit: 'watches', target: 'constant', met: true }),
      ],
      production: [
        metric('watch', 1, { unit: 'watches', target: 'constant', met: true }),
        metric('latency', 90, { target: 'p50 < 40 ms', met: false }),
        metric('plain', 9),
        metric('storm', 20, { unit: 's' }),
      ],
    }),
    ['dev', 'production'],
  );

  it('lists only the metrics with a target, a value column per topology', () => {
    const table = markdownTargets(both);
    const lines = table.split('\n');
    expect(cells(lines[0]!)).toEqual([
      'metric',
      'target',
      TOPOLOGY_TITLE.dev,
      TOPOLOGY_TITLE.production,
      'met?',
    ]);
    expect(lines[1]).toMatch(/^\|-+(\|-+)+\|$/);
    expect(lines.slice(2).map((l) => cells(l)[0])).toEqual([
      'name of latency',
      'name of storm',
      'name of memory',
      'name of watch',
    ]);
    // Every row has as many cells as the header: a valid Markdown table.
    for (const l of lines) expect(cells(l)).toHaveLength(5);
  });

  it('says per topology whether the target is met', () => {
    const latency = rowOf(markdownTargets(both), 'name of latency');
    expect(latency.slice(1, 4)).toEqual(['p50 < 40 ms', '35 ms', '90 ms']);
    expect(latency[4]).toBe(`${TOPOLOGY_TITLE.dev} **yes**, ${TOPOLOGY_TITLE.production} **no**`);
  });

  it('says "on both" where both topologies judged a target alike', () => {
    const watch = rowOf(markdownTargets(both), 'name of watch');
    expect(watch[4]).toBe('**yes** on both');
  });

  it('judges only the column that has the target, and marks a metric one topology lacks', () => {
    const table = markdownTargets(both);
    const storm = rowOf(table, 'name of storm');
    expect(storm[1]).toBe(`${TOPOLOGY_TITLE.dev}: < 15 s`);
    expect(storm[4]).toBe(`${TOPOLOGY_TITLE.dev} **yes**`);
    expect(storm[4]).not.toContain(TOPOLOGY_TITLE.production);
    const memory = rowOf(table, 'name of memory');
    expect(memory.slice(2, 4)).toEqual(['250 MB', '—']);
    expect(memory[4]).toBe(`${TOPOLOGY_TITLE.dev} **yes**`);
  });

  it('lists every metric with --all', () => {
    expect(rowOf(markdownTargets(both, { all: true }), 'name of plain').slice(1)).toEqual([
      '',
      '7 ms',
      '9 ms',
      '',
    ]);
  });

  it('has one value column and a bare verdict for a single-topology run', () => {
    const single = report(mergeColumns({ dev: [metric('a', 5, { target: '< 10 ms', met: false })] }), [
      'dev',
    ]);
    const lines = markdownTargets(single).split('\n');
    expect(cells(lines[0]!)).toEqual(['metric', 'target', TOPOLOGY_TITLE.dev, 'met?']);
    expect(cells(lines[2]!)).toEqual(['name of a', '< 10 ms', '5 ms', '**no**']);
  });

  it('escapes pipes so that a name cannot break the table', () => {
    const r = report(mergeColumns({ dev: [metric('a', 1, { name: 'x | y', target: 'a|b' })] }), ['dev']);
    const row = markdownTargets(r).split('\n')[2]!;
    expect(cells(row)).toEqual(['x \\| y', 'a\\|b', '1 ms', '']);
  });

  it('shows the p95 beside a median and "n/a" for a value that was not measured', () => {
    const summary = { samples: 30, median: 35, p95: 61, p99: 70, min: 20, max: 80, mean: 40 };
    const r = report(
      mergeColumns({
        dev: [metric('a', 35, { target: 't', summary })],
        production: [metric('a', null, { target: 't', met: false })],
      }),
      ['dev', 'production'],
    );
    expect(rowOf(markdownTargets(r), 'name of a').slice(2, 4)).toEqual(['35 ms (p95 61 ms)', 'n/a']);
  });

  it('shows no p95 from a summary of another quantity (a rate beside start → Completed in ms)', () => {
    const latencies = { samples: 50, median: 3400, p95: 6800, p99: 7000, min: 900, max: 7100, mean: 3500 };
    const rate = { ...metric('rate', 7.17, { target: 't', summary: latencies }), unit: '/s' };
    const r = report(mergeColumns({ dev: [rate] }), ['dev']);
    expect(rowOf(markdownTargets(r), 'name of rate')[2]).toBe('7.17/s');
  });
});

describe('consoleTable', () => {
  it('shows both columns, the ratio and a verdict per topology for a run of both', () => {
    const r = report(
      mergeColumns({
        dev: [metric('a', 40, { target: 'p50 < 50 ms', met: true })],
        production: [metric('a', 100, { target: 'p50 < 50 ms', met: false })],
      }),
      ['dev', 'production'],
    );
    const [head, , row] = consoleTable(r).split('\n');
    expect(head!.split('|').map((c) => c.trim())).toEqual([
      'metric',
      'dev',
      'production',
      'ratio',
      'target',
      'met (dev)',
      'met (production)',
    ]);
    expect(row!.split('|').map((c) => c.trim())).toEqual([
      'name of a',
      '40 ms',
      '100 ms',
      '2.5×',
      'p50 < 50 ms',
      'yes',
      'NO',
    ]);
  });

  it('shows one column and no ratio for a single-topology run', () => {
    const r = report(mergeColumns({ production: [metric('a', 3)] }), ['production']);
    const [head, , row] = consoleTable(r).split('\n');
    expect(head!.split('|').map((c) => c.trim())).toEqual([
      'metric',
      'production',
      'target',
      'met (production)',
    ]);
    expect(row!.split('|').map((c) => c.trim())[1]).toBe('3 ms');
  });
});

describe('formatValue', () => {
  it('writes units after a space, ratios and rates attached, and n/a for nothing measured', () => {
    expect(formatValue(101, 'ms')).toBe('101 ms');
    expect(formatValue(1.2, '×')).toBe('1.2×');
    expect(formatValue(4.66, '/s')).toBe('4.66/s');
    expect(formatValue(null, 'ms')).toBe('n/a');
    expect(formatValue(Number.NaN, 'ms')).toBe('n/a');
  });
});
