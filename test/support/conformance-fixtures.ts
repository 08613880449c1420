/**
 * What the conformance suite (test/conformance) runs on real Tekton, and the fixtures it records:
 * shared with the unit test that holds the Tekton simulator to the same statuses.
 */
import { join } from 'node:path';
import { succeededCondition, type Pipeline, type PipelineRun, type TaskRun } from '../../src/domain/tekton';

export const CONFORMANCE_FIXTURES = join(__dirname, '..', 'fixtures', 'tekton', 'real');

const image = 'registry.example.com/remediation/kubectl:1.31';

/**
 * The Pipelines of the conformance runs: one task, one step, as the product's own Pipelines are.
 * Plain JSON as sent to the API server (the domain's Pipeline type names only what the product reads).
 */
const pipelines = {
  'one-step': {
    apiVersion: 'tekton.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'one-step' },
    spec: {
      params: [{ name: 'target', type: 'string' }],
      tasks: [
        {
          name: 'fix',
          params: [{ name: 'target', value: '$(params.target)' }],
          taskSpec: {
            params: [{ name: 'target', type: 'string' }],
            steps: [
              {
                name: 'apply',
                image,
                command: ['kubectl'],
                args: ['rollout', 'restart', '$(params.target)'],
              },
            ],
          },
        },
      ],
    },
  },
  'array-param': {
    apiVersion: 'tekton.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'array-param' },
    spec: {
      params: [{ name: 'targets', type: 'array' }],
      tasks: [
        {
          name: 'fix',
          params: [{ name: 'targets', value: ['$(params.targets[*])'] }],
          taskSpec: {
            params: [{ name: 'targets', type: 'array' }],
            steps: [
              {
                name: 'apply',
                image,
                command: ['kubectl'],
                args: ['rollout', 'restart', '$(params.targets[*])'],
              },
            ],
          },
        },
      ],
    },
  },
  'needs-workspace': {
    apiVersion: 'tekton.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'needs-workspace' },
    spec: {
      workspaces: [{ name: 'source' }],
      tasks: [
        {
          name: 'fix',
          workspaces: [{ name: 'source', workspace: 'source' }],
          taskSpec: {
            workspaces: [{ name: 'source' }],
            steps: [
              {
                name: 'apply',
                image,
                command: ['kubectl'],
                args: ['apply', '-f', '$(workspaces.source.path)'],
              },
            ],
          },
        },
      ],
    },
  },
};
export const CONFORMANCE_PIPELINES = pipelines as unknown as Readonly<Record<string, Pipeline>>;

/** One recorded conformance run. */
export interface ConformanceFixture {
  case: string;
  /** The verdict the case was built to produce (the truth the classifier is held to). */
  expected:
    | { state: 'succeeded' }
    | { state: 'failed'; category: string; wasExecutionFailure: boolean }
    | { rejected: number; category: string };
  /** The PipelineRun's name and namespace in that run (replaced by placeholders in `pinned`). */
  name: string;
  namespace: string;
  pipeline: Pipeline | null;
  /** Conditions and step states, names as placeholders: what a later run must reproduce. */
  pinned: unknown;
  rejection?: { status: number; message: string };
  pipelineRun?: PipelineRun;
  taskRuns: TaskRun[];
}

/** `<run>` for the PipelineRun's name (TaskRun and pod names start with it), `<namespace>` for its namespace. */
export function normalizeNames(text: string, run: string, namespace: string): string {
  return text.split(run).join('<run>').split(`${namespace}/`).join('<namespace>/');
}

/** The run a fixture describes: what the API server answered and what Tekton wrote. */
export interface ObservedRun {
  name: string;
  namespace: string;
  pipelineRun?: PipelineRun;
  taskRuns: TaskRun[];
  rejection?: { status: number; message: string };
}

/**
 * The parts a fixture pins, and the simulator must reproduce: each object's Succeeded condition
 * (status, reason, message) and its step states, with names replaced by placeholders.
 * Timestamps, uids and pod-level details are left out.
 */
export function pinned(r: ObservedRun): unknown {
  const norm = (text: string | undefined): string | undefined =>
    text === undefined ? undefined : normalizeNames(text, r.name, r.namespace);
  const cond = (o: PipelineRun | TaskRun): unknown => {
    const c = succeededCondition(o);
    return c && { status: c.status, reason: c.reason, message: norm(c.message) };
  };
  return {
    pipelineRun: r.pipelineRun && cond(r.pipelineRun),
    taskRuns: r.taskRuns.map((tr) => ({
      condition: cond(tr),
      steps: (tr.status?.steps ?? []).map((s) => ({
        name: s.name,
        container: s.container,
        terminated: s.terminated && { exitCode: s.terminated.exitCode, reason: s.terminated.reason },
        waiting: s.waiting?.reason,
        running: s.running !== undefined,
      })),
    })),
    rejection: r.rejection && { status: r.rejection.status, message: norm(r.rejection.message) },
  };
}
