/**
 * CLI start-up, as an operator pays it: wall time of whole processes, from spawn to exit, of
 * `remediate` (bin/remediate.js, i.e. the prebuilt bundle) beside the `temporal` CLI, both against
 * the bench's own Temporal (the dev server, or the production topology over mTLS), in turns so that
 * both see the same load:
 *
 *   remediate --help              temporal --help
 *   remediate status ID           temporal workflow describe --workflow-id remediation-ID
 *   remediate list --limit 20     temporal workflow list --limit 20
 *
 * `status` answers from the workflow (a query the worker serves), `describe` from the server alone.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StackInfo } from '../src/dev/stack/stack';
import { round2 } from './machine';
import { percentile } from './stats';
import { clientTlsEnv } from '../src/dev/stack/temporal-production';

export interface Spread {
  samples: number;
  p50: number;
  p90: number;
  min: number;
  max: number;
}

export interface CliStartupRow {
  name: string;
  remediate: { argv: string[]; ms: Spread };
  temporal: { argv: string[]; ms: Spread };
  /** remediate p50 / temporal p50. */
  ratio: number;
}

const repoRoot = join(__dirname, '..');
const remediateBin = join(repoRoot, 'bin', 'remediate.js');

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: round2(percentile(sorted, 50)),
    p90: round2(percentile(sorted, 90)),
    min: round2(sorted[0] ?? Number.NaN),
    max: round2(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** Milliseconds from spawn to exit; a non-zero exit or empty output fails the bench. */
function timed(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    execFile(file, args, { env, cwd, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (error) return reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      if (!stdout.trim()) return reject(new Error(`${file} ${args.join(' ')} printed nothing`));
      resolve(ms);
    });
  });
}

export async function cliStartup(opts: {
  info: StackInfo;
  taskQueue: string;
  /** A remediation to describe (open, so `status` is served from the worker's cache as in an incident). */
  id: string;
  runs: number;
  log: (line: string) => void;
}): Promise<CliStartupRow[]> {
  const { info, taskQueue, id, runs } = opts;
  // Both CLIs find the server through the same variables, with an empty profile file so that no
  // profile of the user running the bench applies, and from a folder without .stack/stack.json.
  const cwd = mkdtempSync(join(tmpdir(), 'remediation-cli-bench-'));
  const configFile = join(cwd, 'temporal.toml');
  writeFileSync(configFile, '[profile.default]\n');
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: info.temporal.address,
    TEMPORAL_NAMESPACE: info.temporal.namespace,
    TEMPORAL_CONFIG_FILE: configFile,
    // The production topology's frontend requires the stack's client certificate (mTLS).
    ...(info.temporal.tls && clientTlsEnv(info.temporal.tls)),
    REMEDIATION_TASK_QUEUE: taskQueue,
  };
  const pairs: [name: string, remediate: string[], temporal: string[]][] = [
    ['--help', ['--help'], ['--help']],
    [
      'status ID / workflow describe',
      ['status', id],
      ['workflow', 'describe', '--workflow-id', `remediation-${id}`],
    ],
    ['list / workflow list', ['list', '--limit', '20'], ['workflow', 'list', '--limit', '20']],
  ];
  const rows: CliStartupRow[] = [];
  try {
    for (const [name, remediateArgs, temporalArgs] of pairs) {
      const ours: number[] = [];
      const theirs: number[] = [];
      // One warm-up each (page cache), then alternate so both see the same load.
      await timed(process.execPath, [remediateBin, ...remediateArgs], env, cwd);
      await timed(info.temporal.cli, temporalArgs, env, cwd);
      for (let i = 0; i < runs; i++) {
        ours.push(await timed(process.execPath, [remediateBin, ...remediateArgs], env, cwd));
        theirs.push(await timed(info.temporal.cli, temporalArgs, env, cwd));
      }
      const row: CliStartupRow = {
        name,
        remediate: { argv: ['remediate', ...remediateArgs], ms: spread(ours) },
        temporal: { argv: ['temporal', ...temporalArgs], ms: spread(theirs) },
        ratio: 0,
      };
      row.ratio = round2(row.remediate.ms.p50 / row.temporal.ms.p50);
      opts.log(
        `cli ${name}: remediate p50 ${row.remediate.ms.p50} ms, temporal p50 ${row.temporal.ms.p50} ms`,
      );
      rows.push(row);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  return rows;
}

/** The rows as a table: p50/p90 of each side and the ratio of the medians. */
export function cliStartupTable(rows: CliStartupRow[]): string {
  const head = ['command', 'remediate p50', 'p90', 'temporal p50', 'p90', 'ratio'];
  const cells = rows.map((r) => [
    r.name,
    `${r.remediate.ms.p50} ms`,
    `${r.remediate.ms.p90} ms`,
    `${r.temporal.ms.p50} ms`,
    `${r.temporal.ms.p90} ms`,
    `${r.ratio}×`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i]!)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}
