import type { Pipeline, PipelineRun, StepState, TaskRun, TaskRunStatus } from '../../../src/domain/tekton';
import {
  appliedIndex,
  cancelRun,
  formatGoDuration,
  isoSeconds,
  newTaskRun,
  planRun,
  POD_START_MS,
  TASKRUN_CANCELLED_MESSAGE,
  type Transition,
} from '../../../src/dev/simulator/plan';
import { SCRIPT_ANNOTATION } from '../../../src/dev/simulator/script';

const START = '2026-03-01T10:00:00Z';
const T0 = Date.parse(START);

function pipeline(script?: object, extra: Partial<Pipeline['spec']> = {}): Pipeline {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'Pipeline',
    metadata: {
      name: 'restart',
      namespace: 'runs',
      annotations: script ? { [SCRIPT_ANNOTATION]: JSON.stringify(script) } : {},
    },
    spec: {
      tasks: [
        {
          name: 'main',
          taskSpec: {
            steps: [
              { name: 'check', image: 'img:1' },
              { name: 'act', image: 'img:2' },
            ],
          },
        },
      ],
      ...extra,
    },
  };
}

function pipelineRun(spec: Partial<PipelineRun['spec']> = {}): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'pr1', namespace: 'runs', uid: 'uid-1', labels: { team: 'sre' } },
    spec: { pipelineRef: { name: 'restart' }, ...spec },
  };
}

function plan(script?: object, spec: Partial<PipelineRun['spec']> = {}, created?: string): Transition[] {
  return planRun({
    pipelineRun: pipelineRun(spec),
    pipeline: pipeline(script),
    startTime: START,
    taskRunCreated: created ? new Map([['pr1-main', created]]) : undefined,
  });
}

const last = (t: Transition[]) => t[t.length - 1]!;
const cond = (s: { conditions?: { status: string; reason?: string; message?: string }[] } | undefined) => {
  const c = s?.conditions?.[0];
  return [c?.status, c?.reason, c?.message];
};
const taskRun = (t: Transition) => t.taskRuns[0]!.status;
const steps = (s: TaskRunStatus): StepState[] => s.steps ?? [];

describe('formatGoDuration (Go time.Duration.String)', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [1500, '1.5s'],
    [90_000, '1m30s'],
    [1_800_000, '30m0s'],
    [3_600_000, '1h0m0s'],
  ])('%d ms → %s', (ms, text) => expect(formatGoDuration(ms)).toBe(text));
});

describe('planRun', () => {
  it('always starts with startTime and Unknown/Started, before any TaskRun exists', () => {
    const first = plan()[0]!;
    expect(first.atMs).toBe(0);
    expect(first.pipelineRun.startTime).toBe(START);
    expect(cond(first.pipelineRun)).toEqual(['Unknown', 'Started', undefined]);
    expect(first.taskRuns).toEqual([]);
  });

  it('keeps transitions in time order', () => {
    for (const outcome of [
      'succeed',
      'fail-step',
      'oom',
      'timeout',
      'image-pull',
      'quota',
      'config-error',
      'pod-admission',
    ]) {
      const times = plan({ outcome, durationMs: 3000 }).map((t) => t.atMs);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    }
  });

  it('when the Pipeline is missing → CouldntGetPipeline with Tekton message', () => {
    const t = planRun({ pipelineRun: pipelineRun(), pipeline: undefined, startTime: START });
    expect(cond(last(t).pipelineRun)).toEqual([
      'False',
      'CouldntGetPipeline',
      'Error retrieving pipeline for pipelinerun runs/pr1: error when getting Pipeline for PipelineRun pr1: tekton client cannot get pipeline restart from local cluster: pipelines.tekton.dev "restart" not found',
    ]);
    expect(last(t).pipelineRun.completionTime).toBe(START);
    expect(last(t).taskRuns).toEqual([]);
  });

  it('when the script is invalid JSON → PipelineValidationFailed naming the annotation', () => {
    const p = pipeline();
    p.metadata.annotations = { [SCRIPT_ANNOTATION]: '{nope' };
    const t = planRun({ pipelineRun: pipelineRun(), pipeline: p, startTime: START });
    const [status, reason, message] = cond(last(t).pipelineRun);
    expect([status, reason]).toEqual(['False', 'PipelineValidationFailed']);
    expect(message).toMatch(
      /^\[User error\] Pipeline runs\/restart can't be Run; it has an invalid spec: annotation simulator\.remediation\.dev\/script is not valid JSON/,
    );
  });

  it('when there is no annotation → succeeds', () => {
    expect(cond(last(plan()).pipelineRun)).toEqual([
      'True',
      'Succeeded',
      'Tasks Completed: 1 (Failed: 0, Cancelled 0), Skipped: 0',
    ]);
  });

  it('succeed → TaskRun Succeeded, every step Completed, PipelineRun Succeeded after durationMs', () => {
    const t = plan({ outcome: 'succeed', durationMs: 4000 });
    const end = last(t);
    expect(end.atMs).toBe(POD_START_MS + 4000);
    expect(cond(taskRun(end))).toEqual(['True', 'Succeeded', 'All Steps have completed executing']);
    expect(
      steps(taskRun(end)).map((s) => [s.container, s.terminated?.exitCode, s.terminated?.reason]),
    ).toEqual([
      ['step-check', 0, 'Completed'],
      ['step-act', 0, 'Completed'],
    ]);
    expect(end.pipelineRun.completionTime).toBe(isoSeconds(T0 + 5000));
    expect(taskRun(end).completionTime).toBe(isoSeconds(T0 + 5000));
    expect(end.pipelineRun.childReferences).toEqual([
      { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', name: 'pr1-main', pipelineTaskName: 'main' },
    ]);
  });

  it('succeed → goes through Pending (pod initializing) and Running before finishing', () => {
    const reasons = plan({ outcome: 'succeed', durationMs: 2000 })
      .slice(1)
      .map((t) => [cond(t.pipelineRun)[1], cond(taskRun(t))[1]]);
    expect(reasons).toEqual([
      ['Running', 'Pending'],
      ['Running', 'Running'],
      ['Running', 'Running'],
      ['Succeeded', 'Succeeded'],
    ]);
    const pending = taskRun(plan({ outcome: 'succeed' })[1]!);
    expect(pending.podName).toBe('pr1-main-pod');
    expect(steps(pending).map((s) => s.waiting?.reason)).toEqual(['PodInitializing', 'PodInitializing']);
  });

  it('fail-step → last step exits 1 (Error), TaskRun StepFailed, PipelineRun Failed with counts only', () => {
    const end = last(plan({ outcome: 'fail-step' }));
    expect(steps(taskRun(end)).map((s) => s.terminated?.reason)).toEqual(['Completed', 'Error']);
    expect(cond(taskRun(end))).toEqual(['False', 'StepFailed', '"step-act" exited with code 1: Error']);
    expect(cond(end.pipelineRun)).toEqual([
      'False',
      'Failed',
      'Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0',
    ]);
  });

  it('oom → last step OOMKilled 137, TaskRun StepOOM', () => {
    const end = last(plan({ outcome: 'oom' }));
    expect(steps(taskRun(end))[1]?.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
    expect(cond(taskRun(end))).toEqual(['False', 'StepOOM', '"step-act" exited with code 137: OOMKilled']);
    expect(cond(end.pipelineRun)[1]).toBe('Failed');
  });

  it('timeout → steps ran, then the PipelineRunTimeout cancels the TaskRun, which keeps their real startedAt', () => {
    const created = isoSeconds(T0);
    const end = last(plan({ outcome: 'timeout', durationMs: 2000 }, {}, created));
    expect(end.atMs).toBe(POD_START_MS + 2000);
    expect(cond(end.pipelineRun)).toEqual([
      'False',
      'PipelineRunTimeout',
      'PipelineRun "pr1" failed to finish within "3s"',
    ]);
    expect(cond(taskRun(end))).toEqual([
      'False',
      'TaskRunCancelled',
      'TaskRun "pr1-main" was cancelled. TaskRun cancelled as the PipelineRun it belongs to has timed out.',
    ]);
    for (const s of steps(taskRun(end))) {
      expect(s.terminated).toMatchObject({ exitCode: 1, reason: 'TaskRunCancelled' });
      expect(s.terminated?.startedAt).not.toBe(created);
    }
  });

  it('timeout → a smaller spec.timeouts.pipeline wins, printed as Go does', () => {
    const end = last(plan({ outcome: 'timeout', durationMs: 600_000 }, { timeouts: { pipeline: '2s' } }));
    expect(end.atMs).toBe(2000);
    expect(cond(end.pipelineRun)[2]).toBe('PipelineRun "pr1" failed to finish within "2s"');
  });

  it('a run longer than spec.timeouts.pipeline times out even when scripted to succeed', () => {
    const end = last(plan({ outcome: 'succeed', durationMs: 60_000 }, { timeouts: { pipeline: '30s' } }));
    expect(cond(end.pipelineRun)[1]).toBe('PipelineRunTimeout');
    expect(cond(end.pipelineRun)[2]).toBe('PipelineRun "pr1" failed to finish within "30s"');
  });

  it('image-pull → waiting step overlaid terminated(1) with startedAt = TaskRun creationTimestamp (the trap)', () => {
    const created = '2026-03-01T10:00:01Z';
    const t = plan({ outcome: 'image-pull', durationMs: 1000 }, {}, created);
    expect(steps(taskRun(t[2]!))[0]?.waiting).toEqual({
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image "img:1"',
    });
    const end = last(t);
    expect(cond(taskRun(end))).toEqual([
      'False',
      'TaskRunImagePullFailed',
      'the step "check" in TaskRun "pr1-main" failed to pull the image "". The pod errored with the message: "Back-off pulling image "img:1"."',
    ]);
    for (const s of steps(taskRun(end))) {
      expect(s.terminated).toMatchObject({
        exitCode: 1,
        reason: 'TaskRunImagePullFailed',
        startedAt: created,
      });
      expect(s.waiting).toBeUndefined();
    }
    expect(cond(end.pipelineRun)).toEqual([
      'False',
      'Failed',
      'Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0',
    ]);
  });

  it('config-error → CreateContainerConfigError from the pod status, the step left waiting', () => {
    const end = last(plan({ outcome: 'config-error' }));
    expect(cond(taskRun(end)).slice(1)).toEqual([
      'CreateContainerConfigError',
      'Failed to create pod due to config error',
    ]);
    expect(steps(taskRun(end))[0]?.waiting?.reason).toBe('CreateContainerConfigError');
    expect(steps(taskRun(end))[0]?.terminated).toBeUndefined();
  });

  it('pod-admission → PodCreationFailed (a policy refusal Tekton does not recognise), no pod, steps by name only', () => {
    const end = last(plan({ outcome: 'pod-admission' }));
    expect(cond(taskRun(end))[1]).toBe('PodCreationFailed');
    expect(cond(taskRun(end))[2]).toMatch(
      /^failed to create task run pod "pr1-main": pods "pr1-main-pod" is forbidden: /,
    );
    expect(taskRun(end).podName).toBe('');
    expect(taskRun(end).steps).toEqual([{ name: 'check' }, { name: 'act' }]);
  });

  it('quota → Unknown/ExceededResourceQuota without pod or startTime, then a timeout citing it', () => {
    const t = plan({ outcome: 'quota', durationMs: 5000 });
    const stuck = taskRun(t[1]!);
    expect(cond(stuck)[1]).toBe('ExceededResourceQuota');
    expect(stuck.podName).toBe('');
    expect(stuck.startTime).toBeUndefined();
    const end = last(t);
    expect(end.atMs).toBe(5000);
    expect(cond(taskRun(end))[1]).toBe('TaskRunCancelled');
    expect(cond(taskRun(end))[2]).toMatch(
      /^TaskRun "pr1-main" was cancelled\. TaskRun cancelled as the PipelineRun it belongs to has timed out\.\nPrevious status: \[ExceededResourceQuota\] TaskRun Pod exceeded available resources: /,
    );
    expect(cond(end.pipelineRun)[1]).toBe('PipelineRunTimeout');
  });

  it('param-missing → ParameterMissing naming the missing parameter, no TaskRuns', () => {
    const p = pipeline(
      { outcome: 'param-missing' },
      { params: [{ name: 'target' }, { name: 'dry', default: 'no' }] },
    );
    const t = planRun({ pipelineRun: pipelineRun(), pipeline: p, startTime: START });
    expect(cond(last(t).pipelineRun)).toEqual([
      'False',
      'ParameterMissing',
      '[User error] PipelineRun runs/pr1 is missing some parameters required by Pipeline runs/restart: pipelineRun missing parameters: [target]',
    ]);
    expect(t.every((x) => x.taskRuns.length === 0)).toBe(true);
  });

  it('hang → runs until the default 1h timeout; with timeouts.pipeline "0" it never ends', () => {
    expect(last(plan({ outcome: 'hang' })).atMs).toBe(3_600_000);
    expect(cond(last(plan({ outcome: 'hang' })).pipelineRun)[2]).toBe(
      'PipelineRun "pr1" failed to finish within "1h0m0s"',
    );
    const endless = last(plan({ outcome: 'hang' }, { timeouts: { pipeline: '0' } }));
    expect(cond(endless.pipelineRun)[1]).toBe('Running');
    expect(steps(taskRun(endless)).every((s) => s.running)).toBe(true);
  });
});

describe('cancelRun', () => {
  it('fails unfinished TaskRuns as TaskRunCancelled with running and waiting steps overlaid', () => {
    const created = '2026-03-01T10:00:00Z';
    const running = taskRun(plan({ outcome: 'hang' })[2]!);
    const tr: TaskRun = {
      apiVersion: 'tekton.dev/v1',
      kind: 'TaskRun',
      metadata: {
        name: 'pr1-main',
        creationTimestamp: created,
        labels: { 'tekton.dev/pipelineTask': 'main' },
      },
      spec: {},
      status: {
        ...running,
        steps: [
          steps(running)[0]!,
          { name: 'act', container: 'step-act', waiting: { reason: 'PodInitializing' } },
        ],
      },
    };
    const pr = { ...pipelineRun(), status: { startTime: START } };
    const out = cancelRun(pr, [tr], T0 + 10_000);
    expect(cond(out.pipelineRun)).toEqual(['False', 'Cancelled', 'PipelineRun "pr1" was cancelled']);
    expect(out.pipelineRun.completionTime).toBe(isoSeconds(T0 + 10_000));
    const status = out.taskRuns[0]!.status;
    expect(cond(status)).toEqual([
      'False',
      'TaskRunCancelled',
      `TaskRun "pr1-main" was cancelled. ${TASKRUN_CANCELLED_MESSAGE}`,
    ]);
    expect(
      steps(status).map((s) => [s.terminated?.exitCode, s.terminated?.reason, s.terminated?.startedAt]),
    ).toEqual([
      [1, 'TaskRunCancelled', isoSeconds(T0 + POD_START_MS)],
      [1, 'TaskRunCancelled', created],
    ]);
  });

  it('leaves finished TaskRuns alone and cancels a run that never started', () => {
    const done: TaskRun = {
      apiVersion: 'tekton.dev/v1',
      kind: 'TaskRun',
      metadata: { name: 'x' },
      spec: {},
      status: { podName: 'p', conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }] },
    };
    const out = cancelRun(pipelineRun(), [done], T0);
    expect(out.taskRuns).toEqual([]);
    expect(out.pipelineRun.startTime).toBe(START);
  });
});

describe('appliedIndex (resume after restart)', () => {
  const t = plan({ outcome: 'succeed', durationMs: 1000 });
  const statuses = (i: number) => new Map(t[i]!.taskRuns.map((tr) => [tr.name, tr.status]));

  it('is -1 before anything was written', () => {
    expect(appliedIndex(t, undefined, new Map())).toBe(-1);
  });

  it('finds the last fully written transition, whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(t[2]!.pipelineRun).reverse());
    expect(appliedIndex(t, reordered, statuses(2))).toBe(2);
  });

  it('trusts the PipelineRun when a crash left TaskRuns one transition ahead', () => {
    expect(appliedIndex(t, t[3]!.pipelineRun, statuses(4))).toBe(3);
  });
});

describe('newTaskRun', () => {
  it('names, labels and owns the child as Tekton does', () => {
    const tr = newTaskRun(
      pipelineRun({ taskRunTemplate: { serviceAccountName: 'sa' }, timeouts: { pipeline: '30m' } }),
      pipeline().spec.tasks![0]!,
    );
    expect(tr.metadata.name).toBe('pr1-main');
    expect(tr.metadata.labels).toEqual({
      team: 'sre',
      'tekton.dev/pipelineRun': 'pr1',
      'tekton.dev/pipelineTask': 'main',
    });
    expect(tr.metadata.ownerReferences).toEqual([
      { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: 'pr1', uid: 'uid-1', controller: true },
    ]);
    expect(tr.spec).toMatchObject({ serviceAccountName: 'sa', timeout: '30m0s' });
  });
});
