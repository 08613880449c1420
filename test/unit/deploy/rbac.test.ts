/**
 * deploy/rbac.yaml grants the worker exactly what its adapters call — no missing verb (the worker
 * would fail with 403 in production only), no extra verb (least privilege), no wildcard, no
 * ClusterRole. The calls are recorded by driving the real adapters against a recording client,
 * not copied by hand, so a new API call in an adapter fails this test until RBAC follows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Watch, type KubeConfig } from '@kubernetes/client-node';

import { startKubernetesActionCatalog } from '../../../src/adapters/kubernetes-action-catalog';
import { KubernetesLedger } from '../../../src/adapters/kubernetes-ledger';
import { KubernetesPipelineRuns } from '../../../src/adapters/kubernetes-pipeline-runs';
import { emptyBudgetState, emptyFingerprintState, emptyTargetState } from '../../../src/domain/model';
import { readGauges, workerGaugeSources } from '../../../src/metrics/gauges';
import type { ActionCatalog } from '../../../src/ports/action-catalog';
import type { Ledger } from '../../../src/ports/ledger';
import type { PipelineRuns } from '../../../src/ports/pipeline-runs';
import { deployManifests, find, type K8sObject, repoPath } from './support';

/**
 * The port methods the worker's activities call (src/activities). The last test keeps this table
 * honest: a port method not listed here must not appear in src/activities.
 */
interface PortMethods {
  ledger: readonly (keyof Ledger)[];
  pipelineRuns: readonly (keyof PipelineRuns)[];
  catalog: readonly (keyof ActionCatalog)[];
}
const WORKER_CALLS = {
  ledger: ['getTarget', 'putTarget', 'getFingerprint', 'putFingerprint', 'getBudget', 'putBudget'],
  pipelineRuns: ['create', 'dryRun', 'observe', 'waitForCompletion', 'cancel'],
  catalog: ['get', 'list'],
} as const satisfies PortMethods;
const ALL_PORT_METHODS = {
  ledger: [
    'getTarget',
    'putTarget',
    'listTargets',
    'getFingerprint',
    'putFingerprint',
    'getBudget',
    'putBudget',
    'listBudgets',
  ],
  pipelineRuns: ['create', 'dryRun', 'observe', 'waitForCompletion', 'cancel', 'list'],
  catalog: ['get', 'list'],
} as const satisfies PortMethods;

/** CustomObjectsApi method → the RBAC verb the API server checks for it. */
const VERB_OF: Record<string, string> = {
  getNamespacedCustomObject: 'get',
  listNamespacedCustomObject: 'list',
  createNamespacedCustomObject: 'create',
  replaceNamespacedCustomObject: 'update',
  patchNamespacedCustomObject: 'patch',
  deleteNamespacedCustomObject: 'delete',
};

type Grant = `${string}|${string}|${string}|${string}`; // namespace|group|resource|verb

interface Request {
  group: string;
  plural: string;
  namespace: string;
  name?: string;
  body?: unknown;
}

/**
 * A CustomObjectsApi that records every call as a grant and answers like an API server holding
 * `existing` objects (and a running PipelineRun), enough for each adapter path to run to its end.
 */
function recordingKubeConfig(grants: Set<Grant>): KubeConfig {
  const running = {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'pr', namespace: 'remediation-runs', uid: 'u', resourceVersion: '1' },
    spec: { pipelineRef: { name: 'p' } },
    status: { conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running' }] },
  };
  const api = new Proxy(
    {},
    {
      get: (_t, method: string) => async (req: Request) => {
        const verb = VERB_OF[method];
        if (!verb) throw new Error(`unexpected CustomObjectsApi.${method}: map it to an RBAC verb`);
        grants.add(`${req.namespace}|${req.group}|${req.plural}|${verb}`);
        if (req.group === 'tekton.dev') {
          if (verb === 'list')
            return {
              metadata: { resourceVersion: '1' },
              items: req.plural === 'pipelineruns' ? [running] : [],
            };
          return running;
        }
        // Ledger: nothing stored yet → 404 on get; writes echo the body with a version.
        if (verb === 'get') throw Object.assign(new Error('not found'), { statusCode: 404 });
        if (verb === 'list') return { items: [] };
        const body = req.body as { metadata: object };
        return { ...body, metadata: { ...body.metadata, resourceVersion: '2' } };
      },
    },
  );
  return { makeApiClient: () => api } as unknown as KubeConfig;
}

async function recordWorkerGrants(): Promise<Set<Grant>> {
  const grants = new Set<Grant>();
  const kubeConfig = recordingKubeConfig(grants);
  const watch = jest.spyOn(Watch.prototype, 'watch').mockImplementation(async (path: string) => {
    const [, group, , namespace, plural] = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)$/.exec(
      path,
    )!;
    grants.add(`${namespace}|${group}|${plural}|watch`);
    return new AbortController();
  });
  try {
    const ledger = new KubernetesLedger(kubeConfig, 'remediation-system');
    const target = emptyTargetState('prod/Deployment/api');
    const fingerprint = emptyFingerprintState('prod/fp', 'fp');
    const budget = emptyBudgetState('per-ns:prod', 'per-ns', 'namespace', 'prod');
    const ledgerCalls: Record<(typeof WORKER_CALLS.ledger)[number], () => Promise<unknown>> = {
      getTarget: () => ledger.getTarget(target.key),
      putTarget: async () => ledger.putTarget(await ledger.putTarget(target)), // create, then update
      getFingerprint: () => ledger.getFingerprint(fingerprint.key, 'fp'),
      putFingerprint: async () => ledger.putFingerprint(await ledger.putFingerprint(fingerprint)),
      getBudget: () => ledger.getBudget(budget),
      putBudget: async () => ledger.putBudget(await ledger.putBudget(budget)),
    };
    for (const call of Object.values(ledgerCalls)) await call();
    // The worker's gauges (src/metrics/gauges.ts) read the ledger too, outside the activities.
    const gauges = await readGauges(
      workerGaugeSources({ workflows: { count: async () => ({ count: 0, groups: [] }) }, ledger }),
    );
    expect(gauges.manualReview).toEqual({ ok: true, value: 0 });

    const runs = new KubernetesPipelineRuns(kubeConfig, { minBackoffMs: 1, maxBackoffMs: 1 });
    const abort = new AbortController();
    const runCalls: Record<(typeof WORKER_CALLS.pipelineRuns)[number], () => Promise<unknown>> = {
      create: () =>
        runs.create({ name: 'pr', namespace: 'remediation-runs', pipeline: 'p', params: {}, labels: {} }),
      dryRun: () =>
        runs.dryRun({ name: 'pr', namespace: 'remediation-runs', pipeline: 'p', params: {}, labels: {} }),
      waitForCompletion: async () => {
        const waiting = runs.waitForCompletion('remediation-runs', 'pr', {
          signal: abort.signal,
          heartbeatMs: 60_000,
        });
        // The wait reads its run, the shared watch lists and then watches: stop once the watch started.
        while (watch.mock.calls.length === 0) await new Promise((r) => setTimeout(r, 1));
        abort.abort();
        await waiting.catch(() => undefined);
      },
      observe: () => runs.observe('remediation-runs', 'pr'),
      cancel: () => runs.cancel('remediation-runs', 'pr'),
    };
    for (const call of Object.values(runCalls)) await call();
    runs.close();

    // After the PipelineRun wait: its loop above stops at the first watch call.
    const catalog = startKubernetesActionCatalog(kubeConfig, 'remediation-system', { log: () => undefined });
    const catalogCalls: Record<(typeof WORKER_CALLS.catalog)[number], () => Promise<unknown>> = {
      get: () => catalog.get('restart-deployment'),
      list: () => catalog.list(),
    };
    try {
      for (const call of Object.values(catalogCalls)) await call();
      // The informer watches once its list is in.
      while (!watch.mock.calls.some(([path]) => path.includes('/remediationactions')))
        await new Promise((r) => setTimeout(r, 1));
    } finally {
      await catalog.close();
    }
  } finally {
    watch.mockRestore();
  }
  return grants;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** What the worker's ServiceAccount is granted, expanded to namespace|group|resource|verb. */
function grantedToWorker(manifests: readonly K8sObject[]): Set<Grant> {
  const grants = new Set<Grant>();
  for (const binding of manifests.filter((o) => o.kind === 'RoleBinding')) {
    const b = binding as K8sObject & {
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string; namespace?: string }[];
    };
    if (
      !b.subjects.some(
        (s) =>
          s.kind === 'ServiceAccount' &&
          s.name === 'remediation-worker' &&
          s.namespace === 'remediation-system',
      )
    )
      continue;
    const namespace = b.metadata.namespace!;
    const role = manifests.find(
      (o) =>
        o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name && o.metadata.namespace === namespace,
    ) as (K8sObject & { rules: Rule[] }) | undefined;
    if (!role)
      throw new Error(
        `RoleBinding ${b.metadata.name} refers to a missing ${b.roleRef.kind} ${b.roleRef.name} in ${namespace}`,
      );
    for (const rule of role.rules)
      for (const group of rule.apiGroups ?? [''])
        for (const resource of rule.resources ?? [])
          for (const verb of rule.verbs) grants.add(`${namespace}|${group}|${resource}|${verb}`);
  }
  return grants;
}

describe('deploy/rbac.yaml', () => {
  const manifests = deployManifests();
  const rbac = manifests.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io/'));

  it('grants the worker exactly the calls its adapters make', async () => {
    const needed = await recordWorkerGrants();
    const granted = grantedToWorker(manifests);
    expect({
      missing: [...needed].filter((g) => !granted.has(g)).sort(),
      extra: [...granted].filter((g) => !needed.has(g)).sort(),
    }).toEqual({
      missing: [],
      extra: [],
    });
  });

  it('has no ClusterRole or ClusterRoleBinding anywhere in deploy/', () => {
    expect(manifests.filter((o) => o.kind.startsWith('Cluster')).map((o) => o.source)).toEqual([]);
  });

  it('has no wildcard and no escalation verb (bind, escalate, impersonate)', () => {
    const rules = rbac.flatMap((o) =>
      ((o as K8sObject & { rules?: Rule[] }).rules ?? []).map((r) => ({ source: o.source, ...r })),
    );
    expect(rules.length).toBeGreaterThan(0);
    const bad = rules.filter(
      (r) =>
        [...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs].some((v) => v.includes('*')) ||
        r.verbs.some((v) => ['bind', 'escalate', 'impersonate'].includes(v)),
    );
    expect(bad).toEqual([]);
  });

  it('binds the ServiceAccount that the worker Deployment runs as', () => {
    const deployment = find<K8sObject & { spec: { template: { spec: { serviceAccountName: string } } } }>(
      manifests,
      'Deployment',
      'remediation-worker',
    );
    const account = find(manifests, 'ServiceAccount', deployment.spec.template.spec.serviceAccountName);
    expect(account.metadata.namespace).toBe('remediation-system');
  });

  it('keeps the table of worker calls honest: other port methods are not called by activities', () => {
    const activities = readdirSync(repoPath('src/activities'))
      .map((f) => readFileSync(join(repoPath('src/activities'), f), 'utf8'))
      .join('\n');
    // Calls are qualified by the port's variable (`pipelineRuns.list(`), since ports share method
    // names (`catalog.list(` is a listed call); each port must really be called by that name.
    const ports = Object.keys(ALL_PORT_METHODS) as (keyof PortMethods)[];
    expect(ports.filter((port) => !new RegExp(`\\b${port}\\.\\w+\\(`).test(activities))).toEqual([]);
    const unlisted = ports.flatMap((port) =>
      ALL_PORT_METHODS[port]
        .filter((m) => !(WORKER_CALLS[port] as readonly string[]).includes(m))
        .map((m) => `${port}.${m}`),
    );
    expect(
      unlisted.filter((call) => new RegExp(`\\b${call.replace('.', '\\.')}\\(`).test(activities)),
    ).toEqual([]);
  });
});
