/** Machine facts recorded next to every figure: a number without its machine means little. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ProvisionResult } from '../src/dev/stack/stack';
import type { TemporalServerTools } from '../src/dev/stack/temporal-production';

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  totalMemoryBytes: number;
  platform: string;
  node: string;
  temporalSdk: string;
  temporalCli: string;
  etcd: string;
  apiserver: string;
  /** The production topology's server, Web UI server and PostgreSQL, when it was measured. */
  temporalServer?: string;
  temporalUi?: string;
  postgres?: string;
  git: { commit: string; dirty: boolean };
  loadAverageAtStart: number[];
}

const repoRoot = join(__dirname, '..');

export function machineFacts(tools: ProvisionResult, serverTools?: TemporalServerTools): MachineFacts {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemoryBytes: totalmem(),
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    temporalSdk: packageVersion('@temporalio/worker'),
    temporalCli: tools.temporal.version,
    etcd: tools.etcd.version,
    apiserver: `apiextensions-apiserver ${tools.apiserver.version}`,
    ...(serverTools && {
      temporalServer: serverTools.temporalServer.version,
      temporalUi: serverTools.temporalUi.version,
      postgres: serverTools.postgres.version,
    }),
    git: gitState(),
    loadAverageAtStart: loadavg().map(round2),
  };
}

function packageVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function gitState(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    // Colleagues work in this checkout: "dirty" says the measured tree may differ from the commit.
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
        cwd: repoRoot,
        encoding: 'utf8',
      }).trim().length > 0;
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
