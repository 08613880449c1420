/**
 * `remediate --version`. The build (scripts/build.mjs) writes the package version and the git
 * commit it was built from into the bundle, so answering reads no file; run from source (tests,
 * tsx) the version comes from package.json and the commit is unknown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Io } from './run';

export interface BuildInfo {
  version: string;
  /** `git describe --always --dirty` at build time; null when unknown (no git, or not built). */
  commit: string | null;
}

/** Replaced by the bundler (esbuild `define`); undeclared when the source runs as it is. */
declare const REMEDIATE_BUILD_INFO: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (typeof REMEDIATE_BUILD_INFO !== 'undefined') return REMEDIATE_BUILD_INFO;
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return { version: pkg.version, commit: null };
}

export function versionCommand(io: Io, json: boolean): number {
  const info = buildInfo();
  const node = process.version;
  io.stdout.write(
    json
      ? `${JSON.stringify({ version: info.version, commit: info.commit, node })}\n`
      : `remediate ${info.version}${info.commit ? ` (${info.commit})` : ''} node ${node}\n`,
  );
  return 0;
}
