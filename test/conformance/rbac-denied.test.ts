/**
 * What deploy/'s ServiceAccounts cannot do, with real tokens on a real kube-apiserver: each denial
 * asked both ways, `kubectl auth can-i` (SelfSubjectAccessReview) and the request itself, which
 * must be answered 403 Forbidden naming the ServiceAccount. The grants are asked too, so a denial
 * cannot pass because the token does not work at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTROL_NAMESPACE, EXECUTION_NAMESPACE } from '../../src/dev/stack/stack';
import { adminKubeConfig, conformanceStack } from './stack-env';
import { apiRequest, canI, rulesIn, whoAmI, type AccessQuestion } from './support/kube-identity';
import { applyDeploy, INTAKE_SA, serviceAccountIdentity, WORKER_SA, type Identity } from './support/product';

let dir: string;
let worker: Identity;
let intake: Identity;

beforeAll(async () => {
  const stack = conformanceStack();
  const admin = adminKubeConfig();
  dir = mkdtempSync(join(tmpdir(), 'conformance-rbac-denied-'));
  await applyDeploy(admin);
  const cluster = { server: stack.apiServer, caCertFile: stack.caCert };
  worker = await serviceAccountIdentity(admin, WORKER_SA, join(dir, 'worker.kubeconfig'), cluster);
  intake = await serviceAccountIdentity(admin, INTAKE_SA, join(dir, 'intake.kubeconfig'), cluster);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tekton = 'tekton.dev';
const ledger = 'ledger.remediation.dev';
const catalog = 'remediation.dev';
const rbac = 'rbac.authorization.k8s.io';

/** Every verb of deploy/rbac.yaml, where it is granted. */
const workerGrants: AccessQuestion[] = [
  ...['get', 'list', 'create', 'update'].map((verb) => ({
    verb,
    group: ledger,
    resource: 'remediationtargets',
    namespace: CONTROL_NAMESPACE,
  })),
  ...['get', 'create', 'update'].flatMap((verb) =>
    ['remediationfingerprints', 'remediationbudgets'].map((resource) => ({
      verb,
      group: ledger,
      resource,
      namespace: CONTROL_NAMESPACE,
    })),
  ),
  ...['list', 'watch'].map((verb) => ({
    verb,
    group: catalog,
    resource: 'remediationactions',
    namespace: CONTROL_NAMESPACE,
  })),
  ...['get', 'list', 'watch', 'create', 'patch'].map((verb) => ({
    verb,
    group: tekton,
    resource: 'pipelineruns',
    namespace: EXECUTION_NAMESPACE,
  })),
  { verb: 'list', group: tekton, resource: 'taskruns', namespace: EXECUTION_NAMESPACE },
  { verb: 'get', group: tekton, resource: 'pipelines', namespace: EXECUTION_NAMESPACE },
];

interface Denial {
  what: string;
  ask: AccessQuestion;
  /** The real request: method, path and body. */
  request: [method: string, path: string, body?: unknown];
}

const pipelineRun = {
  apiVersion: 'tekton.dev/v1',
  kind: 'PipelineRun',
  metadata: { name: 'rbac-probe' },
  spec: { pipelineRef: { name: 'restart-deployment' } },
};

const workerDenials: Denial[] = [
  {
    what: 'read Secrets in its own namespace',
    ask: { verb: 'get', resource: 'secrets', namespace: CONTROL_NAMESPACE, name: 'remediation-intake-token' },
    request: ['GET', `/api/v1/namespaces/${CONTROL_NAMESPACE}/secrets/remediation-intake-token`],
  },
  {
    what: 'list Secrets where its PipelineRuns run',
    ask: { verb: 'list', resource: 'secrets', namespace: EXECUTION_NAMESPACE },
    request: ['GET', `/api/v1/namespaces/${EXECUTION_NAMESPACE}/secrets`],
  },
  {
    what: 'create PipelineRuns in a namespace it was not granted',
    ask: { verb: 'create', group: tekton, resource: 'pipelineruns', namespace: 'default' },
    request: ['POST', '/apis/tekton.dev/v1/namespaces/default/pipelineruns', pipelineRun],
  },
  {
    what: 'write ledger records of another namespace',
    ask: { verb: 'create', group: ledger, resource: 'remediationtargets', namespace: 'default' },
    request: [
      'POST',
      '/apis/ledger.remediation.dev/v1alpha1/namespaces/default/remediationtargets',
      {
        apiVersion: 'ledger.remediation.dev/v1alpha1',
        kind: 'RemediationTarget',
        metadata: { name: 'rbac-probe' },
        spec: {},
      },
    ],
  },
  {
    what: 'delete ledger records',
    ask: { verb: 'delete', group: ledger, resource: 'remediationtargets', namespace: CONTROL_NAMESPACE },
    request: [
      'DELETE',
      `/apis/ledger.remediation.dev/v1alpha1/namespaces/${CONTROL_NAMESPACE}/remediationtargets/rbac-probe`,
    ],
  },
  {
    what: 'edit the action catalog',
    ask: { verb: 'create', group: catalog, resource: 'remediationactions', namespace: CONTROL_NAMESPACE },
    request: [
      'POST',
      `/apis/remediation.dev/v1alpha1/namespaces/${CONTROL_NAMESPACE}/remediationactions`,
      {
        apiVersion: 'remediation.dev/v1alpha1',
        kind: 'RemediationAction',
        metadata: { name: 'x' },
        spec: {},
      },
    ],
  },
  {
    what: 'delete PipelineRuns',
    ask: { verb: 'delete', group: tekton, resource: 'pipelineruns', namespace: EXECUTION_NAMESPACE },
    request: ['DELETE', `/apis/tekton.dev/v1/namespaces/${EXECUTION_NAMESPACE}/pipelineruns/rbac-probe`],
  },
  {
    what: 'create Pods (run code directly, past Tekton)',
    ask: { verb: 'create', resource: 'pods', namespace: EXECUTION_NAMESPACE },
    request: [
      'POST',
      `/api/v1/namespaces/${EXECUTION_NAMESPACE}/pods`,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'rbac-probe' },
        spec: { containers: [{ name: 'c', image: 'fake.local/probe:v1' }] },
      },
    ],
  },
  {
    what: 'create Namespaces (cluster-scoped)',
    ask: { verb: 'create', resource: 'namespaces' },
    request: [
      'POST',
      '/api/v1/namespaces',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'rbac-probe' } },
    ],
  },
  {
    what: 'create CustomResourceDefinitions (cluster-scoped)',
    ask: { verb: 'create', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
    request: [
      'POST',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'probes.rbac.example.com' },
        spec: {
          group: 'rbac.example.com',
          names: { plural: 'probes', kind: 'Probe' },
          scope: 'Namespaced',
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object' } },
            },
          ],
        },
      },
    ],
  },
  {
    what: 'create ClusterRoles (cluster-scoped)',
    ask: { verb: 'create', group: rbac, resource: 'clusterroles' },
    request: [
      'POST',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'rbac-probe' },
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      },
    ],
  },
  {
    what: 'escalate: bind itself to cluster-admin in its own namespace',
    ask: { verb: 'create', group: rbac, resource: 'rolebindings', namespace: CONTROL_NAMESPACE },
    request: [
      'POST',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${CONTROL_NAMESPACE}/rolebindings`,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'rbac-probe' },
        roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: WORKER_SA, namespace: CONTROL_NAMESPACE }],
      },
    ],
  },
  {
    what: 'escalate: widen its own Role',
    ask: {
      verb: 'update',
      group: rbac,
      resource: 'roles',
      namespace: EXECUTION_NAMESPACE,
      name: 'remediation-worker-pipelineruns',
    },
    request: [
      'PATCH',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${EXECUTION_NAMESPACE}/roles/remediation-worker-pipelineruns`,
      { rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
    ],
  },
  {
    what: 'escalate: mint a token for the runner ServiceAccount',
    ask: {
      verb: 'create',
      resource: 'serviceaccounts',
      subresource: 'token',
      namespace: EXECUTION_NAMESPACE,
      name: 'remediation-runner',
    },
    request: [
      'POST',
      `/api/v1/namespaces/${EXECUTION_NAMESPACE}/serviceaccounts/remediation-runner/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} },
    ],
  },
];

const intakeDenials: Denial[] = [
  {
    what: 'create PipelineRuns',
    ask: { verb: 'create', group: tekton, resource: 'pipelineruns', namespace: EXECUTION_NAMESPACE },
    request: ['POST', `/apis/tekton.dev/v1/namespaces/${EXECUTION_NAMESPACE}/pipelineruns`, pipelineRun],
  },
  {
    what: 'read the ledger',
    ask: { verb: 'list', group: ledger, resource: 'remediationtargets', namespace: CONTROL_NAMESPACE },
    request: [
      'GET',
      `/apis/ledger.remediation.dev/v1alpha1/namespaces/${CONTROL_NAMESPACE}/remediationtargets`,
    ],
  },
  {
    what: 'read the action catalog',
    ask: { verb: 'list', group: catalog, resource: 'remediationactions', namespace: CONTROL_NAMESPACE },
    request: ['GET', `/apis/remediation.dev/v1alpha1/namespaces/${CONTROL_NAMESPACE}/remediationactions`],
  },
  {
    what: 'read its own bearer token Secret',
    ask: { verb: 'get', resource: 'secrets', namespace: CONTROL_NAMESPACE, name: 'remediation-intake-token' },
    request: ['GET', `/api/v1/namespaces/${CONTROL_NAMESPACE}/secrets/remediation-intake-token`],
  },
];

async function expectDenied(id: Identity, d: Denial): Promise<void> {
  expect(await canI(id.kc, d.ask)).toBe(false);
  const [method, path, body] = d.request;
  const res = await apiRequest(id.kc, method, path, {
    ...(body === undefined ? {} : { body }),
    ...(method === 'PATCH' ? { contentType: 'application/merge-patch+json' } : {}),
  });
  expect({ status: res.status, reason: (res.json as { reason?: string } | undefined)?.reason }).toEqual({
    status: 403,
    reason: 'Forbidden',
  });
  expect((res.json as { message: string }).message).toContain(`User "${id.user}" cannot`);
}

describe('the worker ServiceAccount (deploy/rbac.yaml)', () => {
  it('authenticates as itself with its token (kubectl auth whoami)', async () => {
    expect(await whoAmI(worker.kc)).toBe(`system:serviceaccount:${CONTROL_NAMESPACE}:${WORKER_SA}`);
  });

  it('holds every verb of its Roles, where they are granted', async () => {
    const answers = await Promise.all(workerGrants.map(async (q) => [q, await canI(worker.kc, q)] as const));
    expect(answers.filter(([, allowed]) => !allowed).map(([q]) => q)).toEqual([]);
  });

  it.each(workerDenials)('cannot $what: can-i no, and the request is 403', (d) => expectDenied(worker, d));
});

describe('the intake ServiceAccount (no Role, no token mounted)', () => {
  it('authenticates as itself with a requested token', async () => {
    expect(await whoAmI(intake.kc)).toBe(`system:serviceaccount:${CONTROL_NAMESPACE}:${INTAKE_SA}`);
  });

  it('holds nothing beyond what every authenticated user has (kubectl auth can-i --list)', async () => {
    const selfReviews = new Set([
      'selfsubjectaccessreviews',
      'selfsubjectrulesreviews',
      'selfsubjectreviews',
    ]);
    for (const namespace of [CONTROL_NAMESPACE, EXECUTION_NAMESPACE]) {
      const rules = await rulesIn(intake.kc, namespace);
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) {
        expect(rule.verbs).toEqual(['create']);
        for (const resource of rule.resources ?? []) expect(selfReviews).toContain(resource);
      }
    }
  });

  it.each(intakeDenials)('cannot $what: can-i no, and the request is 403', (d) => expectDenied(intake, d));
});
