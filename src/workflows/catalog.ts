/**
 * The action catalog, asked from outside the worker: the client's pre-check before a start and
 * `remediate actions`. Both only read; the remediation workflow admits its action again itself.
 */
import { ApplicationFailure, proxyLocalActivities } from '@temporalio/workflow';
import type { RemediationActivities } from '../activities';
import type { ActionAdmission } from '../domain/catalog';
import { parseRemediationRequest } from '../domain/request';
import { ErrorType, nonRetryableErrorTypes, type ActionCatalogView } from '../temporal-contract';

const { admitAction, listActions: list } = proxyLocalActivities<RemediationActivities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '1m',
  retry: { initialInterval: '500ms', maximumInterval: '5s', nonRetryableErrorTypes },
});

/** Would this request's action be admitted? Writes nothing. */
export async function checkAction(input: { request: unknown }): Promise<ActionAdmission> {
  let request;
  try {
    request = parseRemediationRequest(input?.request);
  } catch (error) {
    throw ApplicationFailure.nonRetryable((error as Error).message, ErrorType.InvalidRequest);
  }
  return admitAction({ request });
}

/** The catalog as the worker sees it. */
export async function listActions(): Promise<ActionCatalogView> {
  return list();
}
