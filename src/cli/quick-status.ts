/**
 * `remediate status ID` (without `--wait`), the command operators poll: answered without loading
 * the other commands (./commands.ts, with zod and the Kubernetes client). Same flags, settings,
 * output and errors as the command's full path, which `--wait` still takes. The settings, the
 * formatting and the query come from ./status-query.ts, a bundle of their own once built.
 */
import type { RemediationStatus } from '../temporal-contract';
import { onePositional, parseFlags } from './args';
import { ConfigError } from './errors';
import { loadStatusQuery } from './load-status-query';
import type { ConnectOptions, Reporting } from './run';
import { commandFlags } from './spec';

/** Asks one remediation's status (main.ts: a connection made for this one query). */
export type QueryStatus = (options: ConnectOptions, id: string) => Promise<RemediationStatus>;

/** The exit code, or undefined when the full path must answer (`--wait`). */
export async function quickStatus(
  args: string[],
  reporting: Reporting,
  queryStatus: QueryStatus,
): Promise<number | undefined> {
  const { values, positionals } = parseFlags(args, commandFlags.status);
  if (values.wait) return undefined;
  const id = onePositional(positionals, 'ID');
  const { ConnectSettings, TemporalConfigError, statusView } = await loadStatusQuery();
  const { io, json } = reporting;
  let options: ConnectOptions;
  try {
    options = new ConnectSettings(io).connectOptions(values, false, (line) => {
      if (!json) io.stderr.write(`remediate: warning: ${line}\n`);
    });
  } catch (error) {
    // Reported as the commands' classify does, without loading it.
    if (error instanceof TemporalConfigError) throw new ConfigError(error);
    throw error;
  }
  const status = await queryStatus(options, id);
  const now = io.now?.() ?? new Date();
  io.stdout.write(`${json ? JSON.stringify(status, null, 2) : statusView(status, now)}\n`);
  return 0;
}
