/**
 * What every PipelineRuns adapter must do (src/ports/pipeline-runs.ts, docs/behaviour.md#execution-and-recording), run against
 * the in-memory fake (unit) and the Kubernetes adapter with the Tekton simulator (integration).
 * Every test uses fresh names, so the suite also runs against a namespace other tests share.
 */
import { randomBytes } from 'node:crypto';

import {
  PipelineRunConflictError,
  PipelineRunRejectedError,
  type PipelineRunOutcome,
  type PipelineRunRequest,
  type PipelineRuns,
} from '../../src/ports/pipeline-runs';

export interface PipelineRunsUnderTest {
  runs: PipelineRuns;
  namespace: string;
  /** A Pipeline in `namespace` whose runs follow the simulator script. */
  definePipeline(name: string, script: { outcome: string; durationMs?: number }): Promise<void>;
  /** Deletes the PipelineRun `name` in `namespace` behind the adapter's back, as `kubectl delete` would. */
  deleteRun(name: string): Promise<void>;
  /** Lets time pass for the runs (default: real sleep). */
  elapse?(ms: number): Promise<void>;
  teardown?(): Promise<void>;
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function pipelineRunsContract(name: string, setup: () => Promise<PipelineRunsUnderTest>): void {
  describe(`${name} (PipelineRuns contract)`, () => {
    let t: PipelineRunsUnderTest;
    beforeEach(async () => {
      t = await setup();
    });
    afterEach(async () => {
      await t.teardown?.();
    });

    const elapse = (ms: number) => (t.elapse ? t.elapse(ms) : sleep(ms));

    /** A run of a fresh Pipeline scripted with `outcome`. */
    async function runOf(
      outcome: string,
      durationMs = 0,
      labels: Record<string, string> = {},
    ): Promise<PipelineRunRequest> {
      const pipeline = unique(`p-${outcome}`);
      await t.definePipeline(pipeline, { outcome, durationMs });
      return {
        name: unique('c'),
        namespace: t.namespace,
        pipeline,
        params: { target: 'prod/Deployment/api' },
        timeout: '10m',
        labels: { 'remediation.dev/contract': 'yes', ...labels },
      };
    }

    const wait = (request: PipelineRunRequest, onProgress?: (o: PipelineRunOutcome) => void) =>
      t.runs.waitForCompletion(request.namespace, request.name, {
        heartbeatMs: 200,
        ...(onProgress ? { onProgress } : {}),
      });

    /** The labels that say whose run a PipelineRun is (remediation, attempt, lock fencing token). */
    const owner = (id: string, fencingToken = '3') => ({
      'remediation.dev/remediation-id': id,
      'remediation.dev/attempt': '1',
      'remediation.dev/fencing-token': fencingToken,
    });

    it('I10 when the same name is created twice with the same owner labels → one run, the second call adopts it', async () => {
      const id = unique('r');
      const request = await runOf('succeed', 0, owner(id));
      const first = await t.runs.create(request);
      const second = await t.runs.create(request);
      expect(first).toMatchObject({ name: request.name, created: true });
      expect(second).toEqual({ name: request.name, created: false, uid: first.uid });
      expect(first.uid).not.toBe('');
      expect(await t.runs.list(t.namespace, { 'remediation.dev/remediation-id': id })).toEqual([
        request.name,
      ]);
    });

    it.each([
      ['another fencing token', 'remediation.dev/fencing-token', (id: string) => owner(id, '4')],
      ['another remediation id', 'remediation.dev/remediation-id', () => owner(unique('other'))],
      [
        'another attempt',
        'remediation.dev/attempt',
        (id: string) => ({ ...owner(id), 'remediation.dev/attempt': '2' }),
      ],
    ])(
      'I10 when the name exists with %s → PipelineRunConflictError naming the label; the existing run is untouched',
      async (_what, label, labelsOf) => {
        const id = unique('r');
        const request = await runOf('succeed', 500, owner(id));
        await t.runs.create(request);
        const intruder = { ...request, labels: { ...request.labels, ...labelsOf(id) } };
        const attempt = t.runs.create(intruder);
        await expect(attempt).rejects.toThrow(PipelineRunConflictError);
        await expect(attempt).rejects.toMatchObject({
          pipelineRun: request.name,
          label,
          expected: intruder.labels[label as keyof typeof intruder.labels],
          actual: request.labels[label as keyof typeof request.labels],
        });
        expect(await t.runs.list(t.namespace, owner(id))).toEqual([request.name]);
        if (label !== 'remediation.dev/remediation-id')
          expect(await t.runs.list(t.namespace, labelsOf(id))).toEqual([]);
        expect(await wait(request)).toMatchObject({ state: 'succeeded' });
      },
    );

    // ---------------------------------------------------------------- dry run (DryRun / Shadow)

    /** Nothing of that name, and nothing with the request's owner labels, exists. */
    async function expectNothingCreated(request: PipelineRunRequest): Promise<void> {
      expect(await t.runs.observe(t.namespace, request.name)).toBeNull();
      expect(
        await t.runs.list(t.namespace, owner(request.labels['remediation.dev/remediation-id']!)),
      ).toEqual([]);
    }

    it('dry run when the Pipeline exists → accepted; wouldRun is the request; nothing is created', async () => {
      const request: PipelineRunRequest = {
        ...(await runOf('succeed', 0, owner(unique('r')))),
        params: { target: 'prod/Deployment/api', replicas: '3' },
        serviceAccountName: 'remediator',
        annotations: { 'remediation.dev/target': 'prod/Deployment/api' },
      };
      expect(await t.runs.dryRun(request)).toEqual({
        pipelineExists: true,
        accepted: true,
        rejection: null,
        alreadyExists: false,
        wouldRun: {
          pipelineRun: request.name,
          pipeline: request.pipeline,
          params: { target: 'prod/Deployment/api', replicas: '3' },
          serviceAccountName: 'remediator',
        },
      });
      await expectNothingCreated(request);
      // The name is still free: the real create makes the run.
      expect(await t.runs.create(request)).toMatchObject({ name: request.name, created: true });
      expect(await wait(request)).toMatchObject({ state: 'succeeded' });
    });

    it('dry run when the Pipeline does not exist → pipelineExists false, still accepted (pipelineRef is resolved by the controller, later); nothing is created', async () => {
      const request: PipelineRunRequest = {
        name: unique('c'),
        namespace: t.namespace,
        pipeline: unique('p-missing'),
        params: {},
        labels: owner(unique('r')),
      };
      expect(await t.runs.dryRun(request)).toEqual({
        pipelineExists: false,
        accepted: true,
        rejection: null,
        alreadyExists: false,
        wouldRun: {
          pipelineRun: request.name,
          pipeline: request.pipeline,
          params: {},
          serviceAccountName: null,
        },
      });
      await expectNothingCreated(request);
    });

    it.each([
      [
        'a label value',
        (r: PipelineRunRequest) => ({
          ...r,
          labels: { ...r.labels, 'remediation.dev/reason': 'not a label!' },
        }),
        /metadata\.labels: Invalid value: "not a label!"/,
      ],
      [
        'a name that is no DNS subdomain',
        (r: PipelineRunRequest) => ({ ...r, name: 'Not_A_DNS_Name' }),
        /metadata\.name: Invalid value: "Not_A_DNS_Name"/,
      ],
    ])(
      'dry run of an object the API server refuses (%s) → not accepted, 422 with its message, as create throws it; nothing is created',
      async (_what, spoil, message) => {
        const request = spoil(await runOf('succeed', 0, owner(unique('r'))));
        const result = await t.runs.dryRun(request);
        expect(result).toMatchObject({
          pipelineExists: true,
          accepted: false,
          rejection: { status: 422, message: expect.stringMatching(message) },
          alreadyExists: false,
          wouldRun: { pipelineRun: request.name, pipeline: request.pipeline },
        });
        await expectNothingCreated(request);
        const create = t.runs.create(request);
        await expect(create).rejects.toThrow(PipelineRunRejectedError);
        await expect(create).rejects.toMatchObject(result.rejection!);
      },
    );

    it('dry run of a name already taken → accepted with alreadyExists (validated first); the existing run is untouched', async () => {
      const id = unique('r');
      const request = await runOf('succeed', 0, owner(id));
      const created = await t.runs.create(request);
      // Even one whose owner labels differ: the dry run reports, a real create would refuse (I10).
      const other = { ...request, labels: { ...request.labels, ...owner(id, '4') } };
      for (const r of [request, other])
        expect(await t.runs.dryRun(r)).toMatchObject({
          pipelineExists: true,
          accepted: true,
          rejection: null,
          alreadyExists: true,
          wouldRun: { pipelineRun: request.name },
        });
      expect(await t.runs.list(t.namespace, owner(id))).toEqual([request.name]);
      expect(await t.runs.list(t.namespace, owner(id, '4'))).toEqual([]);
      expect(await t.runs.create(request)).toEqual({ name: request.name, created: false, uid: created.uid });
      expect(await wait(request)).toMatchObject({ state: 'succeeded' });
    });

    it('when the run does not exist → observe gives null', async () => {
      expect(await t.runs.observe(t.namespace, unique('missing'))).toBeNull();
    });

    it('when the Pipeline succeeds → succeeded', async () => {
      const request = await runOf('succeed');
      await t.runs.create(request);
      expect(await wait(request)).toMatchObject({ state: 'succeeded', reason: 'Succeeded' });
      expect(await t.runs.observe(t.namespace, request.name)).toMatchObject({ state: 'succeeded' });
    });

    it('when a step fails → execution failure StepFailed', async () => {
      const request = await runOf('fail-step');
      await t.runs.create(request);
      expect(await wait(request)).toEqual({
        state: 'failed',
        failure: expect.objectContaining({
          category: 'StepFailed',
          wasExecutionFailure: true,
          reason: 'StepFailed',
        }),
      });
    });

    it('when the image never pulls → pre-execution ImagePullFailed', async () => {
      const request = await runOf('image-pull');
      await t.runs.create(request);
      expect(await wait(request)).toEqual({
        state: 'failed',
        failure: expect.objectContaining({
          category: 'ImagePullFailed',
          wasExecutionFailure: false,
          reason: 'TaskRunImagePullFailed',
        }),
      });
    });

    it('when a hanging run is cancelled → Cancelled; cancelling again is a no-op', async () => {
      const request = await runOf('hang');
      await t.runs.create(request);
      // Past pod start: the steps are running when the cancel lands.
      await elapse(2_000);
      expect(await t.runs.observe(t.namespace, request.name)).toMatchObject({ state: 'running' });
      await t.runs.cancel(t.namespace, request.name);
      const outcome = await wait(request);
      expect(outcome).toEqual({
        state: 'failed',
        failure: expect.objectContaining({
          category: 'Cancelled',
          wasExecutionFailure: true,
          reason: 'TaskRunCancelled',
        }),
      });
      await t.runs.cancel(t.namespace, request.name);
      expect(await t.runs.observe(t.namespace, request.name)).toEqual(outcome);
    });

    it('when the run is missing or already finished → cancel does nothing', async () => {
      await expect(t.runs.cancel(t.namespace, unique('missing'))).resolves.toBeUndefined();
      const request = await runOf('succeed');
      await t.runs.create(request);
      await wait(request);
      await t.runs.cancel(t.namespace, request.name);
      expect(await t.runs.observe(t.namespace, request.name)).toMatchObject({ state: 'succeeded' });
    });

    it('while waiting → onProgress reports the running run', async () => {
      const request = await runOf('succeed', 1_000);
      await t.runs.create(request);
      const progress: PipelineRunOutcome[] = [];
      await wait(request, (o) => progress.push(o));
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.every((o) => o.state === 'running')).toBe(true);
    });

    it('when the signal aborts → waitForCompletion rejects with AbortError', async () => {
      const request = await runOf('hang');
      await t.runs.create(request);
      const controller = new AbortController();
      const waiting = t.runs.waitForCompletion(t.namespace, request.name, {
        signal: controller.signal,
        heartbeatMs: 100,
      });
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
      await t.runs.cancel(t.namespace, request.name);
    });

    it("when many waits run at once in one namespace → one watch connection, each wait gets its own run's outcome, none left after", async () => {
      const outcomes = ['succeed', 'fail-step', 'image-pull'] as const;
      const requests = await Promise.all(
        Array.from({ length: 12 }, (_, i) => runOf(outcomes[i % 3]!, 200 * (i % 4))),
      );
      const hanging = await runOf('hang');
      for (const r of [...requests, hanging]) await t.runs.create(r);
      let most = 0;
      const sample = () => void (most = Math.max(most, t.runs.watchConnections()));
      const controller = new AbortController();
      const aborted = t.runs.waitForCompletion(t.namespace, hanging.name, {
        signal: controller.signal,
        heartbeatMs: 100,
        onProgress: sample,
      });
      const results = await Promise.all(requests.map((r) => wait(r, sample)));
      sample();
      expect(most).toBe(1);
      results.forEach((outcome, i) => {
        const expected = outcomes[i % 3]!;
        if (expected === 'succeed') expect(outcome).toMatchObject({ state: 'succeeded' });
        else
          expect(outcome).toMatchObject({
            state: 'failed',
            failure: {
              category: expected === 'fail-step' ? 'StepFailed' : 'ImagePullFailed',
              wasExecutionFailure: expected === 'fail-step',
            },
          });
      });
      // The hanging run's wait is still subscribed: the connection stays until it ends.
      expect(t.runs.watchConnections()).toBe(1);
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
      await t.runs.cancel(t.namespace, hanging.name);
      expect(t.runs.watchConnections()).toBe(0);
    });

    /** Waits on the run and deletes it as soon as an observation satisfies `when`. */
    async function deleteWhile(
      request: PipelineRunRequest,
      when: (o: PipelineRunOutcome) => boolean,
    ): Promise<{ outcome: PipelineRunOutcome; seen: PipelineRunOutcome }> {
      let deleting: Promise<void> | undefined;
      let seen: PipelineRunOutcome | undefined;
      const outcome = await wait(request, (o) => {
        if (deleting || !when(o)) return;
        seen = o;
        deleting = t.deleteRun(request.name);
      });
      await deleting;
      if (!seen) throw new Error('the run finished before it could be deleted');
      return { outcome, seen };
    }

    it('S28 when the run is deleted while its steps run → resolves failed PipelineRunDeleted, an execution failure', async () => {
      const request = await runOf('hang');
      await t.runs.create(request);
      const { outcome, seen } = await deleteWhile(
        request,
        (o) => o.state === 'running' && o.userCodeStarted === true,
      );
      expect(seen).toMatchObject({ state: 'running', userCodeStarted: true });
      expect(outcome).toEqual({
        state: 'failed',
        failure: expect.objectContaining({
          category: 'PipelineRunDeleted',
          reason: 'PipelineRunDeleted',
          wasExecutionFailure: true,
        }),
      });
      expect(await t.runs.observe(t.namespace, request.name)).toBeNull();
    });

    it('S28 when the run is deleted while stuck before any step (quota) → PipelineRunDeleted, pre-execution', async () => {
      const request = await runOf('quota', 600_000);
      await t.runs.create(request);
      const { outcome } = await deleteWhile(
        request,
        (o) => o.state === 'running' && o.stuckReason === 'ExceededResourceQuota',
      );
      expect(outcome).toEqual({
        state: 'failed',
        failure: expect.objectContaining({ category: 'PipelineRunDeleted', wasExecutionFailure: false }),
      });
    });

    it('S28 when waiting on a run that does not exist → resolves PipelineRunDeleted, an execution failure (nothing is known)', async () => {
      const name = unique('missing');
      const outcome = await t.runs.waitForCompletion(t.namespace, name, { heartbeatMs: 200 });
      expect(outcome).toEqual({
        state: 'failed',
        failure: expect.objectContaining({ category: 'PipelineRunDeleted', wasExecutionFailure: true }),
      });
    });

    it('list → the names of runs carrying all the labels', async () => {
      const group = unique('g');
      const a = await runOf('succeed', 0, { 'remediation.dev/group': group, 'remediation.dev/attempt': '1' });
      const b = await runOf('succeed', 0, { 'remediation.dev/group': group, 'remediation.dev/attempt': '2' });
      const other = await runOf('succeed', 0, { 'remediation.dev/group': unique('g') });
      for (const r of [a, b, other]) await t.runs.create(r);
      expect((await t.runs.list(t.namespace, { 'remediation.dev/group': group })).sort()).toEqual(
        [a.name, b.name].sort(),
      );
      expect(
        await t.runs.list(t.namespace, { 'remediation.dev/group': group, 'remediation.dev/attempt': '2' }),
      ).toEqual([b.name]);
    });
  });
}
