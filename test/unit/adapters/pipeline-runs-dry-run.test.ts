/**
 * PipelineRuns.dryRun beyond the contract: the Kubernetes adapter against a scripted API (the exact
 * body create submits, with dryRun=All; which answers are a rejection, which are accepted, which
 * throw so the activity retries), the fake's scripted refusals, and the simulation's outage gate.
 */
import { ApiException, type KubeConfig } from '@kubernetes/client-node';

import { KubernetesPipelineRuns } from '../../../src/adapters/kubernetes-pipeline-runs';
import { InMemoryPipelineRuns, VirtualTimer } from '../../../src/dev/fakes/in-memory-pipeline-runs';
import { FaultyPipelineRuns, OutageError, SimClock } from '../../../src/dev/simulation/world';
import { pipelineRunFor, type PipelineRunRequest } from '../../../src/ports/pipeline-runs';

const namespace = 'remediation-runs';

const request: PipelineRunRequest = {
  name: 'rem-abc-1',
  namespace,
  pipeline: 'restart-deployment',
  params: { namespace: 'prod', name: 'api' },
  serviceAccountName: 'remediator',
  timeout: '30m0s',
  labels: { 'remediation.dev/remediation-id': 'r1', 'remediation.dev/attempt': '1' },
  annotations: { 'remediation.dev/target': 'prod/Deployment/api' },
};

const apiError = (code: number, message: string) =>
  new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', message }), {});

type Answer = unknown | Error;

/** A CustomObjectsApi whose get (the Pipeline) and create answer as scripted; records every call. */
function scripted(answers: { get?: Answer; create?: Answer }) {
  const calls: { method: string; req: Record<string, unknown> }[] = [];
  const answer = (a: Answer) => {
    if (a instanceof Error) throw a;
    return a;
  };
  const api = {
    getNamespacedCustomObject: jest.fn(async (req: Record<string, unknown>) => {
      calls.push({ method: 'get', req });
      return answer(answers.get ?? { kind: 'Pipeline' });
    }),
    createNamespacedCustomObject: jest.fn(async (req: Record<string, unknown>) => {
      calls.push({ method: 'create', req });
      return answer(answers.create ?? { ...(req['body'] as object), metadata: { uid: 'u1' } });
    }),
  };
  const runs = new KubernetesPipelineRuns({ makeApiClient: () => api } as unknown as KubeConfig);
  return { runs, calls };
}

describe('KubernetesPipelineRuns.dryRun', () => {
  it('GETs the Pipeline, then POSTs exactly the body create submits, with dryRun=All', async () => {
    const dry = scripted({});
    const real = scripted({});
    await dry.runs.dryRun(request);
    await real.runs.create(request);
    expect(dry.calls.map((c) => c.method)).toEqual(['get', 'create']);
    expect(dry.calls[0]!.req).toEqual({
      group: 'tekton.dev',
      version: 'v1',
      plural: 'pipelines',
      namespace,
      name: 'restart-deployment',
    });
    const { dryRun, ...submitted } = dry.calls[1]!.req;
    expect(dryRun).toBe('All');
    expect(submitted).toEqual(real.calls[0]!.req);
    expect(submitted['body']).toEqual(pipelineRunFor(request));
    expect(real.calls[0]!.req).not.toHaveProperty('dryRun');
  });

  it('when accepted → wouldRun read from the submitted object', async () => {
    const { runs } = scripted({});
    expect(await runs.dryRun(request)).toEqual({
      pipelineExists: true,
      accepted: true,
      rejection: null,
      alreadyExists: false,
      wouldRun: {
        pipelineRun: 'rem-abc-1',
        pipeline: 'restart-deployment',
        params: { namespace: 'prod', name: 'api' },
        serviceAccountName: 'remediator',
      },
    });
  });

  it('when the Pipeline GET is 404 → pipelineExists false, and the dry run still happens', async () => {
    const { runs, calls } = scripted({ get: apiError(404, 'pipelines.tekton.dev "x" not found') });
    expect(await runs.dryRun(request)).toMatchObject({ pipelineExists: false, accepted: true });
    expect(calls.map((c) => c.method)).toEqual(['get', 'create']);
  });

  it.each([
    ['403 (RBAC)', apiError(403, 'forbidden')],
    ['503', apiError(503, 'the server is currently unable to handle the request')],
    ['a network error', new Error('connect ECONNREFUSED 127.0.0.1:6443')],
  ])('when the Pipeline GET fails with %s → throws (the activity retries)', async (_what, error) => {
    const { runs } = scripted({ get: error });
    await expect(runs.dryRun(request)).rejects.toBe(error);
  });

  it('when the name exists (409 AlreadyExists, answered after validation) → accepted, alreadyExists', async () => {
    const { runs } = scripted({
      create: apiError(409, 'pipelineruns.tekton.dev "rem-abc-1" already exists'),
    });
    expect(await runs.dryRun(request)).toMatchObject({
      accepted: true,
      rejection: null,
      alreadyExists: true,
    });
  });

  it.each([
    [
      400,
      'admission webhook "validation.webhook.pipeline.tekton.dev" denied the request: invalid value: forever',
    ],
    [403, 'pipelineruns.tekton.dev is forbidden: User "x" cannot create resource "pipelineruns"'],
    [404, 'the server could not find the requested resource'],
    [422, 'PipelineRun.tekton.dev "rem-abc-1" is invalid: metadata.labels: Invalid value: "a b"'],
    [
      500,
      'Internal error occurred: failed calling webhook "webhook.pipeline.tekton.dev": connection refused',
    ],
  ])(
    'when the dry run is refused with %i (as create would throw it) → not accepted, with the message',
    async (status, message) => {
      const { runs } = scripted({ create: apiError(status, message) });
      expect(await runs.dryRun(request)).toMatchObject({
        pipelineExists: true,
        accepted: false,
        rejection: { status, message },
        alreadyExists: false,
      });
    },
  );

  it.each([
    ['a plain 500', apiError(500, 'etcdserver: request timed out')],
    ['503', apiError(503, 'the server is currently unable to handle the request')],
    ['429', apiError(429, 'too many requests')],
    ['a network error', new Error('socket hang up')],
  ])('when the dry run fails with %s → throws (the activity retries)', async (_what, error) => {
    const { runs } = scripted({ create: error });
    await expect(runs.dryRun(request)).rejects.toBe(error);
  });
});

describe('InMemoryPipelineRuns.dryRun', () => {
  it('a run whose creates are rejected → its dry runs are refused alike; nothing is created', async () => {
    const runs = new InMemoryPipelineRuns(new VirtualTimer());
    runs.definePipeline(namespace, 'restart-deployment', { outcome: 'succeed' });
    runs.rejectCreates('restart-deployment', 403, 'denied by policy');
    expect(await runs.dryRun(request)).toMatchObject({
      pipelineExists: true,
      accepted: false,
      rejection: { status: 403, message: 'denied by policy' },
    });
    expect(runs.snapshot(namespace, request.name)).toBeUndefined();
    await expect(runs.create(request)).rejects.toMatchObject({ status: 403, message: 'denied by policy' });
  });

  it('an invalid object is refused before a taken name is looked at (the API server order)', async () => {
    const runs = new InMemoryPipelineRuns(new VirtualTimer());
    await runs.create(request);
    const spoiled = { ...request, labels: { ...request.labels, 'remediation.dev/reason': '-bad-' } };
    expect(await runs.dryRun(spoiled)).toMatchObject({ accepted: false, rejection: { status: 422 } });
    await expect(runs.create(spoiled)).rejects.toMatchObject({ status: 422 });
  });
});

describe('FaultyPipelineRuns.dryRun (simulation)', () => {
  it('fails during an outage like every call that reaches the API server, and changes nothing', async () => {
    const clock = new SimClock(1_000);
    const faults = { outageUntil: 2_000, conflicts: 0, loseNextResponse: false, refuseNext: false };
    const runs = new FaultyPipelineRuns(new InMemoryPipelineRuns(clock), faults, clock);
    await expect(runs.dryRun(request)).rejects.toThrow(OutageError);
    clock.current = 2_000;
    expect(await runs.dryRun(request)).toMatchObject({ pipelineExists: false, accepted: true });
    expect(runs.generation).toBe(0);
    expect(runs.created).toEqual([]);
    expect(await runs.list(namespace, {})).toEqual([]);
  });
});
