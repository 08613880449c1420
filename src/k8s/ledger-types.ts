/**
 * The ledger's custom resources (deploy/crds/ledger.yaml): RemediationTarget and
 * RemediationFingerprint in ledger.remediation.dev/v1alpha1. The persisted state is the domain
 * state minus `version`, which is the object's metadata.resourceVersion.
 */
import { createHash } from 'node:crypto';

import type { AuditEntry, FingerprintState, TargetState } from '../domain/model';

export const LEDGER_GROUP = 'ledger.remediation.dev';
export const LEDGER_VERSION = 'v1alpha1';
export const LEDGER_API_VERSION = `${LEDGER_GROUP}/${LEDGER_VERSION}`;

/** INTERFACES.md `controlNamespace`: where ledger objects live unless configured otherwise. */
export const DEFAULT_CONTROL_NAMESPACE = 'remediation-system';

export const TARGET_KIND = 'RemediationTarget';
export const TARGET_PLURAL = 'remediationtargets';
export const FINGERPRINT_KIND = 'RemediationFingerprint';
export const FINGERPRINT_PLURAL = 'remediationfingerprints';

/** Label holding the hash part of the object name, so objects can be selected by key. */
export const KEY_HASH_LABEL = 'ledger.remediation.dev/key-hash';

/** The audit trail keeps only the newest entries (CRD `maxItems`). */
export const MAX_AUDIT_ENTRIES = 50;
/** Lock waiters a target may queue (CRD `maxItems`); bounds the object size well under etcd's limit. */
export const MAX_WAITERS = 1000;

export type TargetSpec = Omit<TargetState, 'version'>;
export type FingerprintSpec = Omit<FingerprintState, 'version'>;

export interface LedgerObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}

export interface RemediationTarget {
  apiVersion: typeof LEDGER_API_VERSION;
  kind: typeof TARGET_KIND;
  metadata: LedgerObjectMeta;
  spec: TargetSpec;
}

export interface RemediationFingerprint {
  apiVersion: typeof LEDGER_API_VERSION;
  kind: typeof FINGERPRINT_KIND;
  metadata: LedgerObjectMeta;
  spec: FingerprintSpec;
}

/**
 * First 40 hex digits of sha256(key). Keys hold `/`, `::` and upper case, which object names
 * cannot; 160 bits make a collision practically impossible (and the adapter checks spec.key anyway).
 */
export function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 40);
}

export function targetObjectName(key: string): string {
  return `t-${keyHash(key)}`;
}

export function fingerprintObjectName(key: string): string {
  return `f-${keyHash(key)}`;
}

/** The newest MAX_AUDIT_ENTRIES entries, oldest first (entries are appended). */
export function boundedAudit(audit: readonly AuditEntry[]): AuditEntry[] {
  return audit.slice(-MAX_AUDIT_ENTRIES);
}

/**
 * A write the store refuses because the state breaks the CRD schema (negative counter, too many
 * waiters, bad timestamp …). A bug in the caller: retrying the same write cannot help.
 */
export class LedgerInvalidStateError extends Error {
  override readonly name = 'LedgerInvalidStateError';
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`ledger record ${key} rejected: ${detail}`);
  }
}
