import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import {
  emptyFingerprintState,
  emptyTargetState,
  type FingerprintState,
  type TargetState,
} from '../domain/model';
import {
  boundedAudit,
  DEFAULT_CONTROL_NAMESPACE,
  FINGERPRINT_KIND,
  FINGERPRINT_PLURAL,
  fingerprintObjectName,
  KEY_HASH_LABEL,
  keyHash,
  LEDGER_API_VERSION,
  LEDGER_GROUP,
  LEDGER_VERSION,
  LedgerInvalidStateError,
  type RemediationFingerprint,
  type RemediationTarget,
  TARGET_KIND,
  TARGET_PLURAL,
  targetObjectName,
} from '../k8s/ledger-types';
import { apiMessage, apiStatus, isNotFound } from '../k8s/kube';
import { LedgerConflictError, type Ledger } from '../ports/ledger';

type LedgerObject = RemediationTarget | RemediationFingerprint;

/**
 * The ledger as custom resources in one namespace (deploy/crds/ledger.yaml). The compare-and-swap
 * is the API server's own optimistic concurrency: a replace carries the read resourceVersion and a
 * stale one is answered 409; a create of an existing name is answered 409 too.
 */
export class KubernetesLedger implements Ledger {
  private readonly api: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string = DEFAULT_CONTROL_NAMESPACE,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async getTarget(key: string): Promise<TargetState> {
    const object = await this.read<RemediationTarget>(TARGET_PLURAL, targetObjectName(key), key);
    return object ? toState(object) : emptyTargetState(key);
  }

  async putTarget(state: TargetState): Promise<TargetState> {
    const { version, ...spec } = state;
    const object: RemediationTarget = {
      apiVersion: LEDGER_API_VERSION,
      kind: TARGET_KIND,
      metadata: this.metadata(targetObjectName(state.key), state.key, version),
      spec: { ...spec, audit: boundedAudit(spec.audit) },
    };
    return toState(await this.write(TARGET_PLURAL, object, version));
  }

  async listTargets(): Promise<TargetState[]> {
    const states: TargetState[] = [];
    let continueToken: string | undefined;
    do {
      const list = (await this.api.listNamespacedCustomObject({
        group: LEDGER_GROUP,
        version: LEDGER_VERSION,
        namespace: this.namespace,
        plural: TARGET_PLURAL,
        limit: 500,
        _continue: continueToken,
      })) as { items: RemediationTarget[]; metadata?: { continue?: string } };
      states.push(...list.items.map(toState));
      continueToken = list.metadata?.continue || undefined;
    } while (continueToken);
    return states;
  }

  async getFingerprint(key: string, fingerprint: string): Promise<FingerprintState> {
    const object = await this.read<RemediationFingerprint>(
      FINGERPRINT_PLURAL,
      fingerprintObjectName(key),
      key,
    );
    return object ? toState(object) : emptyFingerprintState(key, fingerprint);
  }

  async putFingerprint(state: FingerprintState): Promise<FingerprintState> {
    const { version, ...spec } = state;
    const object: RemediationFingerprint = {
      apiVersion: LEDGER_API_VERSION,
      kind: FINGERPRINT_KIND,
      metadata: this.metadata(fingerprintObjectName(state.key), state.key, version),
      spec,
    };
    return toState(await this.write(FINGERPRINT_PLURAL, object, version));
  }

  private metadata(name: string, key: string, version: string | null): RemediationTarget['metadata'] {
    return {
      name,
      namespace: this.namespace,
      labels: { [KEY_HASH_LABEL]: keyHash(key) },
      ...(version === null ? {} : { resourceVersion: version }),
    };
  }

  private async read<O extends LedgerObject>(plural: string, name: string, key: string): Promise<O | null> {
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
      if (isNotFound(err)) return null;
      throw err;
    }
    // A hash collision would silently merge two records' state: refuse instead.
    if (object.spec.key !== key)
      throw new Error(`ledger object ${name} holds key ${object.spec.key}, not ${key}`);
    return object;
  }

  private async write<O extends LedgerObject>(plural: string, object: O, version: string | null): Promise<O> {
    const target = { group: LEDGER_GROUP, version: LEDGER_VERSION, namespace: this.namespace, plural };
    try {
      return (
        version === null
          ? await this.api.createNamespacedCustomObject({ ...target, body: object })
          : await this.api.replaceNamespacedCustomObject({
              ...target,
              name: object.metadata.name,
              body: object,
            })
      ) as O;
    } catch (err) {
      const status = apiStatus(err);
      // 409: AlreadyExists on create, stale resourceVersion on replace. 404 on replace: the record
      // was deleted since it was read, which is just as much a lost race.
      if (status === 409 || (status === 404 && version !== null))
        throw new LedgerConflictError(object.spec.key);
      if (status === 422) throw new LedgerInvalidStateError(object.spec.key, apiMessage(err));
      throw err;
    }
  }
}

function toState<O extends LedgerObject>(object: O): O['spec'] & { version: string | null } {
  return { ...object.spec, version: object.metadata.resourceVersion ?? null };
}
