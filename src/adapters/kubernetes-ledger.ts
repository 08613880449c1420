import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import {
  emptyFingerprintState,
  emptyTargetState,
  type BudgetState,
  type FingerprintState,
  type TargetState,
} from '../domain/model';
import {
  BUDGET_KIND,
  BUDGET_PLURAL,
  budgetObjectName,
  DEFAULT_CONTROL_NAMESPACE,
  FINGERPRINT_KIND,
  FINGERPRINT_PLURAL,
  fingerprintObjectName,
  KEY_HASH_LABEL,
  keyHash,
  LEDGER_API_VERSION,
  LEDGER_FINALIZER,
  LEDGER_GROUP,
  LEDGER_VERSION,
  type LedgerObjectMeta,
  type RemediationBudget,
  type RemediationFingerprint,
  type RemediationTarget,
  TARGET_KIND,
  TARGET_PLURAL,
  targetObjectName,
} from '../k8s/ledger-types';
import { apiMessage, apiStatus, isForbidden, isNotFound, KubernetesForbiddenError } from '../k8s/kube';
import {
  boundedAudit,
  budgetProblem,
  type Ledger,
  LedgerConflictError,
  LedgerInvalidStateError,
  LedgerRecordDeletedError,
  normalizeTargetState,
  type StoredTargetSpec,
} from '../ports/ledger';

type LedgerObject = RemediationTarget | RemediationFingerprint | RemediationBudget;

/** A target object as read back: one written before newer fields existed lacks them. */
type StoredRemediationTarget = Omit<RemediationTarget, 'spec'> & { spec: StoredTargetSpec };

/** The metadata of an object at one resourceVersion that a replace must carry over. */
interface SeenMetadata {
  resourceVersion: string;
  finalizers: string[];
  terminating: boolean;
}

/** Objects whose metadata the adapter remembers; a forgotten one costs one GET before its replace. */
const MAX_SEEN = 1024;

/**
 * The ledger as custom resources in one namespace (deploy/crds/ledger.yaml). The compare-and-swap
 * is the API server's own optimistic concurrency: a replace carries the read resourceVersion and a
 * stale one is answered 409; a create of an existing name is answered 409 too.
 *
 * Every create and replace writes LEDGER_FINALIZER (keeping other finalizers), so a delete only
 * marks the object: it stays readable and writable and its fencing token keeps growing. A replace
 * answered 404 means the object was removed anyway: LedgerRecordDeletedError, never a recreate.
 */
export class KubernetesLedger implements Ledger {
  private readonly api: CustomObjectsApi;
  /**
   * A PUT replaces metadata.finalizers too, so a replace must send the object's current list:
   * remembered per object name from the last read or write. Exact, since any change of the
   * finalizers (or a delete) moves resourceVersion and the replace then conflicts.
   */
  private readonly seen = new Map<string, SeenMetadata>();

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string = DEFAULT_CONTROL_NAMESPACE,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async getTarget(key: string): Promise<TargetState> {
    const object = await this.read<StoredRemediationTarget>(TARGET_PLURAL, targetObjectName(key), key);
    return object ? targetState(object) : emptyTargetState(key);
  }

  async putTarget(state: TargetState): Promise<TargetState> {
    const { version, ...spec } = normalizeTargetState(state, state.version);
    const object: RemediationTarget = {
      apiVersion: LEDGER_API_VERSION,
      kind: TARGET_KIND,
      metadata: this.metadata(targetObjectName(state.key), state.key, version),
      spec: boundedAudit(spec),
    };
    return targetState(await this.write(TARGET_PLURAL, object, version));
  }

  async listTargets(): Promise<TargetState[]> {
    return (await this.list<StoredRemediationTarget>(TARGET_PLURAL)).map(targetState);
  }

  async getFingerprint(key: string, fingerprint: string): Promise<FingerprintState> {
    const object = await this.read<RemediationFingerprint>(
      FINGERPRINT_PLURAL,
      fingerprintObjectName(key),
      key,
    );
    return object ? fingerprintState(object) : emptyFingerprintState(key, fingerprint);
  }

  async putFingerprint(state: FingerprintState): Promise<FingerprintState> {
    const { version, ...spec } = state;
    const object: RemediationFingerprint = {
      apiVersion: LEDGER_API_VERSION,
      kind: FINGERPRINT_KIND,
      metadata: this.metadata(fingerprintObjectName(state.key), state.key, version),
      spec,
    };
    return fingerprintState(await this.write(FINGERPRINT_PLURAL, object, version));
  }

  async getBudget(empty: BudgetState): Promise<BudgetState> {
    const object = await this.read<RemediationBudget>(BUDGET_PLURAL, budgetObjectName(empty.key), empty.key);
    return object ? budgetState(object) : { ...empty, version: null };
  }

  async putBudget(state: BudgetState): Promise<BudgetState> {
    const { version, ...spec } = state;
    // The CRD's maxItems, refused the same way before the round trip (and by the fake).
    const problem = budgetProblem(state);
    if (problem) throw new LedgerInvalidStateError(state.key, problem);
    const object: RemediationBudget = {
      apiVersion: LEDGER_API_VERSION,
      kind: BUDGET_KIND,
      metadata: this.metadata(budgetObjectName(state.key), state.key, version),
      spec,
    };
    return budgetState(await this.write(BUDGET_PLURAL, object, version));
  }

  async listBudgets(): Promise<BudgetState[]> {
    return (await this.list<RemediationBudget>(BUDGET_PLURAL)).map(budgetState);
  }

  private async list<O>(plural: string): Promise<O[]> {
    const items: O[] = [];
    let continueToken: string | undefined;
    do {
      const list = (await this.api
        .listNamespacedCustomObject({
          group: LEDGER_GROUP,
          version: LEDGER_VERSION,
          namespace: this.namespace,
          plural,
          limit: 500,
          _continue: continueToken,
        })
        .catch((err: unknown) => {
          throw this.forbiddenOr(err, 'list', plural);
        })) as { items: O[]; metadata?: { continue?: string } };
      items.push(...list.items);
      continueToken = list.metadata?.continue || undefined;
    } while (continueToken);
    return items;
  }

  private metadata(name: string, key: string, version: string | null): LedgerObjectMeta {
    return {
      name,
      namespace: this.namespace,
      labels: { [KEY_HASH_LABEL]: keyHash(key) },
      ...(version === null ? {} : { resourceVersion: version }),
    };
  }

  private async read<O extends { metadata: LedgerObjectMeta; spec: { key: string } }>(
    plural: string,
    name: string,
    key: string,
  ): Promise<O | null> {
    let object: O;
    try {
      object = (await this.api.getNamespacedCustomObject({
        group: LEDGER_GROUP,
        version: LEDGER_VERSION,
        namespace: this.namespace,
        plural,
        name,
      })) as O;
    } catch (err) {
      if (isNotFound(err)) {
        this.seen.delete(seenKey(plural, name));
        return null;
      }
      throw this.forbiddenOr(err, 'get', plural);
    }
    // A hash collision would silently merge two records' state: refuse instead.
    if (object.spec.key !== key)
      throw new Error(`ledger object ${name} holds key ${object.spec.key}, not ${key}`);
    this.remember(plural, object.metadata);
    return object;
  }

  private async write<O extends LedgerObject>(plural: string, object: O, version: string | null): Promise<O> {
    const target = { group: LEDGER_GROUP, version: LEDGER_VERSION, namespace: this.namespace, plural };
    const { name } = object.metadata;
    const key = object.spec.key;
    let written: O;
    try {
      if (version === null) {
        const body = { ...object, metadata: { ...object.metadata, finalizers: [LEDGER_FINALIZER] } };
        written = (await this.api.createNamespacedCustomObject({ ...target, body })) as O;
      } else {
        const current = await this.metadataAt(plural, name, key, version);
        const body = { ...object, metadata: { ...object.metadata, finalizers: finalizersFor(current) } };
        written = (await this.api.replaceNamespacedCustomObject({ ...target, name, body })) as O;
      }
    } catch (err) {
      if (err instanceof LedgerConflictError || err instanceof LedgerRecordDeletedError) throw err;
      const status = apiStatus(err);
      // 409: AlreadyExists on create, stale resourceVersion on replace.
      if (status === 409) throw new LedgerConflictError(key);
      // 404 on replace: removed although it carries our finalizer (someone took it off). Turning
      // this into a conflict would make the caller re-read the empty state and recreate it empty.
      if (status === 404 && version !== null) {
        this.seen.delete(seenKey(plural, name));
        throw new LedgerRecordDeletedError(key);
      }
      if (status === 422) throw new LedgerInvalidStateError(key, apiMessage(err));
      throw this.forbiddenOr(err, version === null ? 'create' : 'update', plural);
    }
    this.remember(plural, written.metadata);
    return written;
  }

  /** The object's metadata at `version`: remembered, else read (and refused if it moved on). */
  private async metadataAt(
    plural: string,
    name: string,
    key: string,
    version: string,
  ): Promise<SeenMetadata> {
    const remembered = this.seen.get(seenKey(plural, name));
    if (remembered?.resourceVersion === version) return remembered;
    const current = await this.read<LedgerObject>(plural, name, key);
    if (!current) throw new LedgerRecordDeletedError(key);
    if (current.metadata.resourceVersion !== version) throw new LedgerConflictError(key);
    return seenMetadata(current.metadata);
  }

  /** A refusal by RBAC as a KubernetesForbiddenError naming the verb; anything else unchanged. */
  private forbiddenOr(err: unknown, verb: string, plural: string): unknown {
    return isForbidden(err)
      ? KubernetesForbiddenError.of(err, verb, `${plural}.${LEDGER_GROUP}`, this.namespace)
      : err;
  }

  private remember(plural: string, metadata: LedgerObjectMeta): void {
    if (!metadata.resourceVersion) return;
    const id = seenKey(plural, metadata.name);
    this.seen.delete(id); // re-inserted last: the oldest entry is the first one
    this.seen.set(id, seenMetadata(metadata));
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.keys().next().value!);
  }
}

function seenKey(plural: string, name: string): string {
  return `${plural}/${name}`;
}

function seenMetadata(metadata: LedgerObjectMeta): SeenMetadata {
  return {
    resourceVersion: metadata.resourceVersion ?? '',
    finalizers: metadata.finalizers ?? [],
    terminating: Boolean(metadata.deletionTimestamp),
  };
}

/**
 * The object's finalizers plus ours. A terminating object may not gain finalizers (the API server
 * refuses): one written before the finalizer existed and held only by others' keeps theirs.
 */
function finalizersFor(current: SeenMetadata): string[] {
  if (current.finalizers.includes(LEDGER_FINALIZER) || current.terminating) return current.finalizers;
  return [...current.finalizers, LEDGER_FINALIZER];
}

function targetState(object: StoredRemediationTarget): TargetState {
  return normalizeTargetState(object.spec, object.metadata.resourceVersion ?? null);
}

function fingerprintState(object: RemediationFingerprint): FingerprintState {
  return { ...object.spec, version: object.metadata.resourceVersion ?? null };
}

function budgetState(object: RemediationBudget): BudgetState {
  return { ...object.spec, version: object.metadata.resourceVersion ?? null };
}
