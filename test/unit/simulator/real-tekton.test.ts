/**
 * The Tekton simulator against real Tekton: for every outcome the conformance suite recorded from
 * Tekton Pipelines' own controller (test/fixtures/tekton/real, written by `CONFORMANCE_RECORD=1 npm
 * run test:conformance`), the simulator, given the same PipelineRun and Pipeline and the matching
 * script, must end with the same conditions (status, reason, message) and step states.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyPipelineRun } from '../../../src/domain/classifier';
import type { Pipeline, PipelineRun, TaskRun } from '../../../src/domain/tekton';
import { cancelRun, planRun, POD_START_MS, type PlannedTaskRun } from '../../../src/dev/simulator/plan';
import { Outcome, SCRIPT_ANNOTATION } from '../../../src/dev/simulator/script';
import { CONFORMANCE_FIXTURES, pinned, type ConformanceFixture } from '../../support/conformance-fixtures';

/** Conformance case → the simulator script that plays it; cases with none are not simulated. */
const scripts: Readonly<Record<string, { outcome: Outcome; cancel?: boolean } | 'no-pipeline'>> = {
  succeeded: { outcome: Outcome.Succeed },
  'pipeline-missing': 'no-pipeline',
  'param-missing': { outcome: Outcome.ParamMissing },
  'step-failed': { outcome: Outcome.FailStep },
  oom: { outcome: Outcome.Oom },
  'image-pull': { outcome: Outcome.ImagePull },
  'config-error': { outcome: Outcome.ConfigError },
  'admission-denied': { outcome: Outcome.PodAdmission },
  timeout: { outcome: Outcome.Hang },
  cancelled: { outcome: Outcome.Hang, cancel: true },
  quota: { outcome: Outcome.Quota },
};

/** Not simulated: the simulator has no script for them (the classifier is still held to them by the suite). */
const notSimulated = new Set(['param-type-mismatch', 'workspace-missing', 'rejected-by-webhook']);

const fixtures: ConformanceFixture[] = readdirSync(CONFORMANCE_FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(CONFORMANCE_FIXTURES, f), 'utf8')) as ConformanceFixture);

function taskRunObject(pr: PipelineRun, planned: PlannedTaskRun, created: string): TaskRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: {
      name: planned.name,
      namespace: pr.metadata.namespace,
      creationTimestamp: created,
      labels: { 'tekton.dev/pipelineTask': planned.pipelineTask },
    },
    spec: {},
    status: planned.status,
  };
}

/** The simulator's final objects for the fixture's run. */
function simulate(
  fixture: ConformanceFixture,
  script: { outcome: Outcome; cancel?: boolean } | 'no-pipeline',
): { pipelineRun: PipelineRun; taskRuns: TaskRun[] } {
  const real = fixture.pipelineRun;
  if (!real) throw new Error(`fixture ${fixture.case} has no PipelineRun`);
  const pr: PipelineRun = { ...real, status: undefined };
  const startTime = real.status?.startTime ?? real.metadata.creationTimestamp ?? '';
  const created = new Map(
    fixture.taskRuns.map((tr) => [tr.metadata.name ?? '', tr.metadata.creationTimestamp ?? startTime]),
  );
  const pipeline: Pipeline | undefined =
    script === 'no-pipeline' || !fixture.pipeline
      ? undefined
      : {
          ...fixture.pipeline,
          metadata: {
            ...fixture.pipeline.metadata,
            namespace: fixture.namespace,
            annotations: {
              // A quota-blocked run ends at the PipelineRun's own timeout, as on the real cluster.
              [SCRIPT_ANNOTATION]: JSON.stringify({
                outcome: script.outcome,
                durationMs: script.outcome === Outcome.Quota ? 3_600_000 : 500,
              }),
            },
          },
        };
  const plan = planRun({ pipelineRun: pr, pipeline, startTime, taskRunCreated: created });
  const objects = (i: number) => {
    const step = plan[i];
    if (!step) throw new Error(`empty plan for ${fixture.case}`);
    return {
      pipelineRun: { ...pr, status: step.pipelineRun },
      taskRuns: step.taskRuns.map((t) => taskRunObject(pr, t, created.get(t.name) ?? startTime)),
    };
  };
  if (script !== 'no-pipeline' && script.cancel) {
    // Cancelled while the step runs: the last transition at or before the pod started.
    const running = plan.reduce((last, t, i) => (t.atMs <= POD_START_MS ? i : last), 0);
    const at = objects(running);
    const cancelled = cancelRun(at.pipelineRun, at.taskRuns, Date.parse(startTime) + POD_START_MS + 1000);
    return {
      pipelineRun: { ...pr, status: cancelled.pipelineRun },
      taskRuns: at.taskRuns.map((tr) => {
        const c = cancelled.taskRuns.find((x) => x.name === tr.metadata.name);
        return c ? taskRunObject(pr, c, tr.metadata.creationTimestamp ?? startTime) : tr;
      }),
    };
  }
  return objects(plan.length - 1);
}

describe('the classifier reads what real Tekton wrote', () => {
  const classified = fixtures.filter((f) => f.pipelineRun && !('rejected' in f.expected));
  it.each(classified.map((f) => [f.case, f] as const))('%s', (_case, fixture) => {
    if (!fixture.pipelineRun) throw new Error('unreachable');
    const outcome = classifyPipelineRun(fixture.pipelineRun, fixture.taskRuns);
    const expected = fixture.expected;
    if ('rejected' in expected) throw new Error('unreachable');
    if (expected.state === 'succeeded') expect(outcome).toMatchObject({ state: 'succeeded' });
    else
      expect(outcome).toMatchObject({
        state: 'failed',
        failure: { category: expected.category, wasExecutionFailure: expected.wasExecutionFailure },
      });
  });
});

describe('the simulator writes what real Tekton wrote', () => {
  it('has a fixture for every simulated conformance case, and knows every recorded case', () => {
    const recorded = fixtures.map((f) => f.case);
    expect(recorded).toEqual(expect.arrayContaining(Object.keys(scripts)));
    for (const c of recorded) expect(c in scripts || notSimulated.has(c)).toBe(true);
  });

  const simulated = fixtures.filter((f) => f.case in scripts);
  it.each(simulated.map((f) => [f.case, f] as const))('%s', (_case, fixture) => {
    const script = scripts[fixture.case];
    if (!script) throw new Error('unreachable');
    const sim = simulate(fixture, script);
    const observed = { name: fixture.name, namespace: fixture.namespace };
    expect(pinned({ ...observed, ...sim })).toEqual(fixture.pinned);
    // And the classifier cannot tell them apart.
    const real = fixture.pipelineRun;
    if (real) {
      expect(classifyPipelineRun(sim.pipelineRun, sim.taskRuns)).toEqual(
        classifyPipelineRun(real, fixture.taskRuns),
      );
    }
  });
});
