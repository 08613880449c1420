/**
 * What `remediate status ID` needs beyond ./run.ts: the connection settings, the status query
 * through the Temporal SDK's own client (its TLS, API key, gRPC metadata, retries, errors and
 * payload conversion) and the text view, without what the other commands load (zod, the
 * Kubernetes client, the commands). The build bundles it apart (dist/cli/status-query.cjs) with
 * only the protobuf messages a query uses; ./quick-status.ts loads it through
 * ./load-status-query.ts.
 */
import { Client } from '@temporalio/client';
import { STATUS_QUERY, remediationWorkflowId } from '../remediation-ids';
import type { RemediationStatus } from '../temporal-contract';
import type { TemporalConnectionOptions } from '../temporal-connection';
import { connectTemporal } from './temporal-connect';

export { TemporalConfigError } from '../temporal-connection';
export { ConnectSettings } from './connect-options';
export { statusView } from './format';

export interface StatusQuery {
  status(id: string): Promise<RemediationStatus>;
  close(): Promise<void>;
}

/** Connects (throwing when the server cannot be reached in time) and returns the query. */
export async function connectStatusQuery(
  connection: TemporalConnectionOptions,
  namespace: string,
): Promise<StatusQuery> {
  const client = new Client({ connection: await connectTemporal(connection), namespace });
  return {
    status: (id) =>
      client.workflow.getHandle(remediationWorkflowId(id)).query<RemediationStatus>(STATUS_QUERY),
    close: () => client.connection.close(),
  };
}
