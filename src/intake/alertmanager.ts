/**
 * The Alertmanager webhook payload, version 4 (prometheus/alertmanager `notify/webhook`).
 * Unknown keys are dropped rather than refused: Alertmanager may add fields in a minor release,
 * and a refused notification is retried forever without ever starting a remediation.
 */
import { z } from 'zod';
import type { FieldError } from '../domain/request';
import { describeFieldErrors, fieldErrorsOf } from './fields';

/** Thrown by {@link parseAlertmanagerPayload}, listing every field problem. */
export class InvalidAlertmanagerPayloadError extends Error {
  override readonly name = 'InvalidAlertmanagerPayloadError';
  constructor(readonly errors: FieldError[]) {
    super(`invalid Alertmanager payload: ${describeFieldErrors(errors)}`);
  }
}

const labelSet = z.record(z.string(), z.string());
// Go's RFC 3339 with nanoseconds and a zone, e.g. 2026-01-01T10:00:00.123456789Z; the zero time
// 0001-01-01T00:00:00Z is what Alertmanager sends as endsAt while an alert fires.
const timestamp = z.iso.datetime({ offset: true, error: 'must be an RFC 3339 date-time with a zone' });
const alertStatus = z.enum(['firing', 'resolved']);

export const AlertSchema = z.object({
  status: alertStatus,
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().default(''),
  /** Alertmanager's hash of the label set; older senders and hand-written payloads omit it. */
  fingerprint: z.string().optional(),
});
export type Alert = z.output<typeof AlertSchema>;

export const AlertmanagerPayloadSchema = z.object({
  version: z.literal('4', { error: 'must be "4" (Alertmanager webhook payload version)' }),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: alertStatus,
  receiver: z.string(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(AlertSchema),
});
export type AlertmanagerPayload = z.output<typeof AlertmanagerPayloadSchema>;

/** Validates a decoded webhook body; throws {@link InvalidAlertmanagerPayloadError} listing every problem. */
export function parseAlertmanagerPayload(body: unknown): AlertmanagerPayload {
  const result = AlertmanagerPayloadSchema.safeParse(body, { reportInput: true });
  if (!result.success) throw new InvalidAlertmanagerPayloadError(fieldErrorsOf(result.error));
  return result.data;
}
