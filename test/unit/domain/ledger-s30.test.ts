import { defaultPolicyConfig } from '../../../src/domain/config';
import { clearTarget, recordOutcome, type OutcomeInput } from '../../../src/domain/ledger';
import { emptyTargetState, type Failure, type TargetState } from '../../../src/domain/model';

const T = Date.parse('2026-03-02T10:00:00.000Z');
const stepFailed: Failure = {
  category: 'StepFailed',
  wasExecutionFailure: true,
  reason: 'StepFailed',
  message: 'exit 1',
};
const imagePull: Failure = {
  category: 'ImagePullFailed',
  wasExecutionFailure: false,
  reason: 'TaskRunImagePullFailed',
  message: 'no such image',
};
const lockOf = (id: string, token: number) => ({
  remediationId: id,
  workflowId: `wf-${id}`,
  runId: 'run-1',
  acquiredAt: new Date(T).toISOString(),
  fencingToken: token,
  run: { pipelineRun: `pr-${id}`, notAfter: new Date(T + 3_600_000).toISOString() },
});
const record = (
  state: TargetState,
  id: string,
  token: number,
  outcome: OutcomeInput['outcome'],
  at: number,
  retry = false,
) =>
  recordOutcome(
    state,
    {
      remediationId: id,
      actionId: 'restart',
      pipelineRun: `pr-${id}`,
      fencingToken: token,
      outcome,
      jitterSample: 0.5,
    },
    at,
    defaultPolicyConfig,
    retry,
  ).target;

describe('S30 a retried recordOutcome changes nothing (I3, I5)', () => {
  it('S30: retried after another remediation recorded on the same target and after an operator clear → counters and manual review unchanged by the retry', () => {
    let state: TargetState = {
      ...emptyTargetState('prod/Deployment/api'),
      version: '1',
      fencingToken: 1,
      lock: lockOf('A', 1),
    };
    // A records an execution failure; its reply is lost, so Temporal will retry it.
    state = record(state, 'A', 1, { succeeded: false, failure: stepFailed }, T);
    expect(state.manualReview?.required).toBe(true);
    // An operator clears the target; B takes the lock and records a pre-execution failure.
    const cleared = clearTarget(state, { by: 'alice', reason: 'rolled back' }, T + 1_000);
    if (cleared.kind !== 'cleared') throw new Error('expected a clear');
    state = { ...cleared.target, fencingToken: 2, lock: lockOf('B', 2) };
    state = record(state, 'B', 2, { succeeded: false, failure: imagePull }, T + 2_000);
    const before = structuredClone(state);
    // A's retry lands now.
    const after = record(state, 'A', 1, { succeeded: false, failure: stepFailed }, T + 3_000, true);
    expect(after.manualReview).toBeNull();
    expect(after.consecutiveFailures).toBe(before.consecutiveFailures);
    expect(after.nextAllowedExecution).toBe(before.nextAllowedExecution);
    expect(after.lastFailure).toEqual(before.lastFailure);
    expect(after.recordedThrough).toBe(2);
  });
});
