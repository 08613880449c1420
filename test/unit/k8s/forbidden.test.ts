import { ApiException } from '@kubernetes/client-node';
import { isForbidden, KubernetesForbiddenError } from '../../../src/k8s/kube';

const refusal = {
  kind: 'Status',
  status: 'Failure',
  reason: 'Forbidden',
  code: 403,
  message:
    'pipelineruns.tekton.dev is forbidden: User "system:serviceaccount:remediation-system:remediation-worker" cannot list resource "pipelineruns" in API group "tekton.dev" in the namespace "remediation-runs"',
};

/** A refused watch as client-node's Watch rejects it: the status text only, the code on `statusCode`. */
function refusedWatch(status: number, text: string): Error {
  return Object.assign(new Error(text), { statusCode: status });
}

describe('KubernetesForbiddenError', () => {
  it('names the verb, the resource, the namespace and the API server’s own words', () => {
    const e = KubernetesForbiddenError.of(
      new ApiException(403, 'Forbidden', JSON.stringify(refusal), {}),
      'list',
      'pipelineruns.tekton.dev',
      'remediation-runs',
    );
    expect(e).toBeInstanceOf(KubernetesForbiddenError);
    expect(e).toMatchObject({ status: 403, verb: 'list', namespace: 'remediation-runs' });
    expect(e.message).toBe(
      `the Kubernetes API server refused to list pipelineruns.tekton.dev in namespace remediation-runs (HTTP 403: ${refusal.message}); grant this verb to the identity in use (the worker's ServiceAccount has its Roles in deploy/rbac.yaml)`,
    );
  });

  it('says only the status of a refused watch, which carries no message', () => {
    const e = KubernetesForbiddenError.of(
      refusedWatch(403, 'Forbidden'),
      'watch',
      'pipelineruns.tekton.dev',
      'x',
    );
    expect(e.message).toMatch(
      /^the Kubernetes API server refused to watch pipelineruns.tekton.dev in namespace x \(HTTP 403\); /,
    );
  });
});

describe('isForbidden', () => {
  it.each([
    ['a 403 answer', true, new ApiException(403, 'Forbidden', '{}', {})],
    ['a 401 answer', true, new ApiException(401, 'Unauthorized', '{}', {})],
    ['a refused watch', true, refusedWatch(403, 'Forbidden')],
    ['a 404 answer', false, new ApiException(404, 'Not Found', '{}', {})],
    ['a 500 answer', false, new ApiException(500, 'Internal Server Error', '{}', {})],
    ['a refused connection', false, new Error('connect ECONNREFUSED 127.0.0.1:6443')],
  ])('%s → %s', (_what, expected, e) => {
    expect(isForbidden(e)).toBe(expected);
  });
});
