import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classifyCreateError,
  classifyDisappeared,
  classifyPipelineRun,
  latestObservation,
  taskRunExecutedUserCode,
  taskRunRanUserCode,
} from '../../../src/domain/classifier';
import type { PipelineRun, TaskRun } from '../../../src/domain/tekton';
import type { PipelineRunOutcome } from '../../../src/ports/pipeline-runs';

interface Fixture {
  /** Test title when the file name alone does not say which scenario the row belongs to. */
  title?: string;
  pipelineRun: PipelineRun;
  taskRuns: TaskRun[];
  expect: PipelineRunOutcome;
}

const dir = join(__dirname, '../../fixtures/tekton');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture] as const);

const scenario = (f: Fixture): string => {
  if (f.expect.state !== 'failed') return '';
  return f.expect.failure.wasExecutionFailure ? 'S15 ' : 'S14 ';
};

describe('classifyPipelineRun over real Tekton v1 status shapes (test/fixtures/tekton)', () => {
  it('has fixtures for every reason row of docs/classification.md', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(70);
  });

  it.each(fixtures.map(([name, f]) => [f.title ?? `${scenario(f)}${name}`, f] as const))('%s', (_name, f) => {
    expect(classifyPipelineRun(f.pipelineRun, f.taskRuns)).toEqual(f.expect);
  });
});

function load(name: string): Fixture {
  return JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Fixture;
}

describe('taskRunExecutedUserCode (the trap in docs/classification.md)', () => {
  const base = load('taskrun-false-TaskRunTimeout-after-steps').taskRuns[0] as TaskRun;
  const withSteps = (
    steps: NonNullable<TaskRun['status']>['steps'],
    creationTimestamp = '2026-01-01T10:00:01Z',
  ): TaskRun => ({
    ...base,
    metadata: { ...base.metadata, creationTimestamp },
    status: { ...base.status, steps },
  });
  const overlay = (startedAt?: string) => ({
    exitCode: 1,
    reason: 'TaskRunTimeout',
    ...(startedAt ? { startedAt } : {}),
  });

  it.each<[string, TaskRun, boolean]>([
    [
      'S14: a waiting step overlaid with exit code 1 and startedAt = creationTimestamp did not run',
      withSteps([{ name: 'fix', terminated: overlay('2026-01-01T10:00:01Z') }]),
      false,
    ],
    [
      'S14: the same instant written differently still counts as creationTimestamp',
      withSteps([{ name: 'fix', terminated: overlay('2026-01-01T10:00:01.000Z') }]),
      false,
    ],
    [
      'S15: a running step overlaid keeps its real startedAt and did run',
      withSteps([{ name: 'fix', terminated: overlay('2026-01-01T10:00:05Z') }]),
      true,
    ],
    [
      'S15: a running step ran',
      withSteps([{ name: 'fix', running: { startedAt: '2026-01-01T10:00:05Z' } }]),
      true,
    ],
    [
      'S15: a step terminated Completed ran',
      withSteps([{ name: 'a', terminated: { exitCode: 0, reason: 'Completed' } }]),
      true,
    ],
    [
      'S15: a step terminated Error ran',
      withSteps([{ name: 'a', terminated: { exitCode: 2, reason: 'Error' } }]),
      true,
    ],
    [
      'S15: a step terminated OOMKilled ran',
      withSteps([{ name: 'a', terminated: { exitCode: 137, reason: 'OOMKilled' } }]),
      true,
    ],
    [
      'S14: a waiting step did not run',
      withSteps([{ name: 'a', waiting: { reason: 'ImagePullBackOff' } }]),
      false,
    ],
    [
      'S14: an overlay without startedAt did not run',
      withSteps([{ name: 'a', terminated: overlay() }]),
      false,
    ],
    ['S14: no steps at all (no pod) did not run', withSteps(undefined), false],
  ])('%s', (_title, tr, expected) => {
    expect(taskRunExecutedUserCode(tr)).toBe(expected);
  });
});

describe('classifyPipelineRun: safety and edge cases', () => {
  it('S15: when a child TaskRun listed in childReferences was not supplied then it is assumed to have run', () => {
    const f = load('pipelinerun-false-Cancelled-before-steps');
    const outcome = classifyPipelineRun(f.pipelineRun, []);
    expect(outcome).toMatchObject({
      state: 'failed',
      failure: { category: 'Cancelled', wasExecutionFailure: true, reason: 'Cancelled' },
    });
  });

  it('when TaskRuns of another PipelineRun are passed then they are ignored', () => {
    const f = load('taskrun-false-Failed');
    const foreign = {
      ...f.taskRuns[0],
      metadata: {
        ...f.taskRuns[0]?.metadata,
        name: 'other-fix',
        labels: { 'tekton.dev/pipelineRun': 'other' },
      },
    } as TaskRun;
    const own = load('pipelinerun-false-Cancelled-before-steps');
    expect(classifyPipelineRun(own.pipelineRun, [...own.taskRuns, foreign])).toEqual(own.expect);
  });

  it('S15: when one TaskRun failed and a sibling was cancelled as a consequence then the failure explains it', () => {
    const failed = load('taskrun-false-StepOOM');
    const cancelled = load('taskrun-false-TaskRunCancelled-after-steps').taskRuns[0] as TaskRun;
    const sibling = { ...cancelled, metadata: { ...cancelled.metadata, name: 'rem-7f3a9c-1-verify' } };
    const pr = {
      ...failed.pipelineRun,
      status: {
        ...failed.pipelineRun.status,
        childReferences: [
          {
            apiVersion: 'tekton.dev/v1',
            kind: 'TaskRun',
            name: 'rem-7f3a9c-1-verify',
            pipelineTaskName: 'verify',
          },
          ...(failed.pipelineRun.status?.childReferences ?? []),
        ],
      },
    };
    expect(classifyPipelineRun(pr, [sibling, ...failed.taskRuns])).toEqual(failed.expect);
  });

  it('when the PipelineRun has no condition yet then it is running', () => {
    const f = load('pipelinerun-unknown-Started');
    const pr = { ...f.pipelineRun, status: {} };
    expect(classifyPipelineRun(pr, [])).toEqual({
      state: 'running',
      reason: '',
      message: '',
      userCodeStarted: false,
    });
  });

  it('S14: when a quota-stuck TaskRun is still Unknown then the running outcome surfaces it early', () => {
    const f = load('taskrun-unknown-ExceededResourceQuota');
    expect(classifyPipelineRun(f.pipelineRun, f.taskRuns)).toMatchObject({
      state: 'running',
      stuckReason: 'ExceededResourceQuota',
    });
  });

  it('S14: when a TaskRun timed out with a similar but different marker then it is not read as quota', () => {
    const f = load('taskrun-false-TaskRunTimeout-after-ExceededResourceQuota');
    const tr = f.taskRuns[0] as TaskRun;
    const cond = {
      type: 'Succeeded',
      status: 'False' as const,
      reason: 'TaskRunTimeout',
      message: 'TaskRun "x" failed to finish within "30m0s". ExceededResourceQuota was mentioned here',
    };
    const outcome = classifyPipelineRun(f.pipelineRun, [
      { ...tr, status: { ...tr.status, conditions: [cond] } },
    ]);
    expect(outcome).toMatchObject({
      state: 'failed',
      failure: { category: 'NotStarted', wasExecutionFailure: false },
    });
  });
});

describe('S29 the reason table decides before the step states (I6)', () => {
  const failed = load('taskrun-false-Failed');
  const tr = failed.taskRuns[0] as TaskRun;
  const created = tr.metadata.creationTimestamp ?? '';
  const taskRun = (
    status: 'True' | 'False' | 'Unknown',
    reason: string,
    steps?: NonNullable<TaskRun['status']>['steps'],
  ): TaskRun => {
    const { steps: _dropped, ...rest } = tr.status ?? {};
    return {
      ...tr,
      status: {
        ...rest,
        conditions: [{ type: 'Succeeded', status, reason, message: 'm' }],
        ...(steps ? { steps } : {}),
      },
    };
  };
  const waitingOverlay = (reason: string) => [
    { name: 'fix', terminated: { exitCode: 1, reason, startedAt: created } },
  ];
  const ranStep = [{ name: 'fix', running: { startedAt: '2026-01-01T10:00:05Z' } }];

  it.each<[string, TaskRun, boolean]>([
    ...['Failed', 'StepFailed', 'StepOOM', 'SidecarFailed', 'SidecarOOM', 'PodEvicted'].flatMap(
      (reason): [string, TaskRun, boolean][] => [
        [`S29 ${reason} with no step states ran user code`, taskRun('False', reason), true],
        [
          `S29 ${reason} whose steps look never started ran user code`,
          taskRun('False', reason, waitingOverlay(reason)),
          true,
        ],
      ],
    ),
    [
      'S29 TaskRunResultLargerThanAllowedLimit with no step states ran user code',
      taskRun('False', 'TaskRunResultLargerThanAllowedLimit'),
      true,
    ],
    ['S29 a succeeded TaskRun without step states ran user code', taskRun('True', 'Succeeded'), true],
    ['S29 an unknown reason without step states may have run', taskRun('False', 'SomethingNew'), true],
    ['S29 an unknown reason whose steps ran', taskRun('False', 'SomethingNew', ranStep), true],
    [
      'S29 a reason named like an object property (constructor) is still unknown',
      taskRun('False', 'constructor'),
      true,
    ],
    [
      'S29 an unknown reason whose only step was a waiting one overlaid at creationTimestamp did not run',
      taskRun('False', 'SomethingNew', waitingOverlay('SomethingNew')),
      false,
    ],
    [
      'S29 an unknown in-progress reason without step states may have run',
      taskRun('Unknown', 'SomethingNew'),
      true,
    ],
    [
      'the overlay trap still holds for TaskRunTimeout: a waiting step overlaid did not run',
      taskRun('False', 'TaskRunTimeout', waitingOverlay('TaskRunTimeout')),
      false,
    ],
    ['TaskRunTimeout with no step states (no pod) did not run', taskRun('False', 'TaskRunTimeout'), false],
    [
      'a pre-execution reason whose steps show a start still ran (the safe direction)',
      taskRun('False', 'TaskRunImagePullFailed', ranStep),
      true,
    ],
    [
      'a pre-execution reason with no step states did not run',
      taskRun('False', 'TaskRunImagePullFailed'),
      false,
    ],
    ['a pending TaskRun without steps has not run yet', taskRun('Unknown', 'Pending'), false],
  ])('%s', (_title, t, expected) => {
    expect(taskRunRanUserCode(t)).toBe(expected);
  });

  it('S29 when a running PipelineRun is in an Unknown reason we do not know and shows no child, user code may have started', () => {
    const f = load('pipelinerun-unknown-Started');
    const pr = {
      ...f.pipelineRun,
      status: {
        ...f.pipelineRun.status,
        conditions: [{ type: 'Succeeded', status: 'Unknown' as const, reason: 'SomethingNew' }],
      },
    };
    expect(classifyPipelineRun(pr, [])).toMatchObject({ state: 'running', userCodeStarted: true });
  });

  it('S29 when a failed PipelineRun has a reason named like an object property (toString) it is still unknown', () => {
    const f = load('pipelinerun-false-CouldntGetPipeline');
    const pr = {
      ...f.pipelineRun,
      status: {
        ...f.pipelineRun.status,
        conditions: [{ type: 'Succeeded', status: 'False' as const, reason: 'toString', message: 'm' }],
      },
    };
    expect(classifyPipelineRun(pr, [])).toEqual({
      state: 'failed',
      failure: { category: 'Unknown', wasExecutionFailure: true, reason: 'toString', message: 'm' },
    });
  });

  it('S29 when a running PipelineRun lists a child TaskRun that was not supplied, user code may have started', () => {
    const f = load('taskrun-unknown-Started');
    expect(classifyPipelineRun(f.pipelineRun, f.taskRuns)).toMatchObject({ userCodeStarted: false });
    expect(classifyPipelineRun(f.pipelineRun, [])).toMatchObject({ userCodeStarted: true });
  });
});

describe('S28 classifyDisappeared: a PipelineRun gone before it finished (I6)', () => {
  const running = (userCodeStarted?: boolean): PipelineRunOutcome => ({
    state: 'running',
    reason: 'Running',
    message: 'Tasks Completed: 0',
    ...(userCodeStarted === undefined ? {} : { userCodeStarted }),
  });
  const failed = (wasExecutionFailure: boolean): PipelineRunOutcome => ({
    state: 'failed',
    failure: { category: 'StepFailed', wasExecutionFailure, reason: 'Failed', message: '' },
  });

  it.each<[string, PipelineRunOutcome | undefined, boolean]>([
    ['never observed → execution (nothing is known)', undefined, true],
    ['last seen running with user steps started → execution', running(true), true],
    ['last seen running, whether user steps started unknown → execution', running(), true],
    ['last seen running with no user step started → pre-execution (proven)', running(false), false],
    [
      'last seen succeeded → execution (its steps ran)',
      { state: 'succeeded', reason: 'Succeeded', message: '' },
      true,
    ],
    ['last seen failed after steps ran → execution', failed(true), true],
    ['last seen failed before any step → pre-execution', failed(false), false],
  ])('S28 %s', (_title, last, wasExecutionFailure) => {
    expect(classifyDisappeared(last)).toEqual({
      category: 'PipelineRunDeleted',
      wasExecutionFailure,
      reason: 'PipelineRunDeleted',
      message: expect.stringMatching(/^PipelineRun disappeared before it finished: /),
    });
  });

  it('S28 null (observe found nothing) is treated like never observed', () => {
    expect(classifyDisappeared(null)).toMatchObject({ wasExecutionFailure: true });
  });

  it('S28 from real statuses: deleted while quota-stuck → pre-execution; while a step runs → execution', () => {
    const stuck = load('taskrun-unknown-ExceededResourceQuota');
    const runningStep = load('taskrun-unknown-Running');
    expect(classifyDisappeared(classifyPipelineRun(stuck.pipelineRun, stuck.taskRuns))).toMatchObject({
      wasExecutionFailure: false,
    });
    expect(
      classifyDisappeared(classifyPipelineRun(runningStep.pipelineRun, runningStep.taskRuns)),
    ).toMatchObject({ wasExecutionFailure: true });
  });

  it('latestObservation: once user code was seen started it stays started', () => {
    expect(latestObservation(running(true), running(false))).toEqual(running(true));
    expect(latestObservation(running(false), running(false))).toEqual(running(false));
    expect(latestObservation(undefined, running(false))).toEqual(running(false));
    expect(latestObservation(running(false), running(true))).toEqual(running(true));
    expect(latestObservation(running(true), failed(false))).toEqual(failed(false));
  });
});

describe('classifyCreateError', () => {
  it.each([
    [404, 'the server could not find the requested resource (post pipelineruns.tekton.dev)'],
    [400, 'admission webhook "validation.webhook.pipeline.tekton.dev" denied the request'],
    [422, 'PipelineRun.tekton.dev "x" is invalid: metadata.name: Invalid value'],
    [
      403,
      'pipelineruns.tekton.dev is forbidden: User "system:serviceaccount:remediation-system:worker" cannot create resource',
    ],
    [500, 'Internal error occurred: failed calling webhook "webhook.pipeline.tekton.dev"'],
  ])('S14: when the API server answers %p then it is a pre-execution CreateRejected', (status, message) => {
    expect(classifyCreateError(status, message)).toEqual({
      category: 'CreateRejected',
      wasExecutionFailure: false,
      reason: `HTTP ${status}`,
      message,
    });
  });
});
