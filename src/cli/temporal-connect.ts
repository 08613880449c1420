/**
 * The CLI's Temporal connection: the SDK's Connection, less its start-up GetSystemInfo call.
 * Shared by the commands (./heavy.ts) and the quick `status` path (./status-query.ts).
 */
import { Connection } from '@temporalio/client';
import type { TemporalConnectionOptions } from '../temporal-connection';

/** How long the CLI waits for the server's connection before it gives up (the SDK's default). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connection.connect less its GetSystemInfo call: one round trip fewer on every command (the first
 * real call checks the server anyway). It still waits for the channel, so an unreachable server
 * fails here, within the timeout, rather than after the SDK's retries of the first call.
 */
class CliConnection extends Connection {
  ready(): Promise<void> {
    return this.untilReady(Date.now() + CONNECT_TIMEOUT_MS);
  }
}

/** A ready connection; throws (having closed it) when the server cannot be reached in time. */
export async function connectTemporal(options: TemporalConnectionOptions): Promise<Connection> {
  // lazy() constructs `new this(…)`: a CliConnection.
  const connection = CliConnection.lazy(options) as CliConnection;
  try {
    await connection.ready();
  } catch (error) {
    await connection.close();
    throw error;
  }
  return connection;
}
