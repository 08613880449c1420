/**
 * The ledger's custom resources (deploy/crds/ledger.yaml): RemediationTarget and
 * RemediationFingerprint in ledger.remediation.dev/v1alpha1. The persisted state is the domain
 * state minus `version`, which is the object's metadata.resourceVersion.
 */
import { createHash } from 'node:crypto';

import type { BudgetState, FingerprintState, TargetState } from '../domain/model';

export const LEDGER_GROUP = 'ledger.remediation.dev';
export const LEDGER_VERSION = 'v1alpha1';
export const LEDGER_API_VERSION = `${LEDGER_GROUP}/${LEDGER_VERSION}`;

/** The `controlNamespace` setting's default: where ledger objects live unless configured otherwise. */
export const DEFAULT_CONTROL_NAMESPACE = 'remediation-system';

export const TARGET_KIND = 'RemediationTarget';
export const TARGET_PLURAL = 'remediationtargets';
export const FINGERPRINT_KIND = 'RemediationFingerprint';
export const FINGERPRINT_PLURAL = 'remediationfingerprints';
export const BUDGET_KIND = 'RemediationBudget';
export const BUDGET_PLURAL = 'remediationbudgets';

/** Label holding the hash part of the object name, so objects can be selected by key. */
export const KEY_HASH_LABEL = 'ledger.remediation.dev/key-hash';

/**
 * Written on every create and replace: `kubectl delete` then only sets deletionTimestamp and the
 * object stays readable and writable. Every record the adapter writes is state it must not lose (a
 * record with a fencing token must keep issuing higher ones), so the adapter never removes it.
 */
export const LEDGER_FINALIZER = 'ledger.remediation.dev/in-use';

export type TargetSpec = Omit<TargetState, 'version'>;
export type FingerprintSpec = Omit<FingerprintState, 'version'>;
export type BudgetSpec = Omit<BudgetState, 'version'>;

export interface LedgerObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  finalizers?: string[];
  /** Set by a delete while finalizers remain: the object is terminating but still there. */
  deletionTimestamp?: string;
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

export interface RemediationBudget {
  apiVersion: typeof LEDGER_API_VERSION;
  kind: typeof BUDGET_KIND;
  metadata: LedgerObjectMeta;
  spec: BudgetSpec;
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

export function budgetObjectName(key: string): string {
  return `b-${keyHash(key)}`;
}
