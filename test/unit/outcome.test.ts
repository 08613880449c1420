/**
 * How a remediation's final phase closes its workflow: only Failed fails it, with a message an
 * operator can triage from the Web UI list, and the final status recoverable from the failure.
 */
import { Phase, terminalPhases } from '../../src/domain/model';
import {
  REMEDIATION_FAILED,
  failsWorkflow,
  finalStatusFromFailure,
  remediationFailedMessage,
} from '../../src/outcome';
import type { RemediationStatus } from '../../src/temporal-contract';

function finalStatus(overrides: Partial<RemediationStatus> = {}): RemediationStatus {
  return {
    id: 'r1',
    phase: 'Failed',
    blockReason: null,
    blockKind: null,
    blockedUntil: null,
    message: 'PipelineRun rem-r1-1 failed after user steps ran (StepFailed); target needs manual review',
    reason: 'ExecutionFailed',
    duplicateOf: null,
    duplicates: 0,
    attempts: 1,
    pipelineRuns: ['rem-r1-1'],
    target: 'prod/Deployment/api',
    fingerprint: 'fp',
    action: 'restart',
    deadline: '2026-03-01T13:04:10.000Z',
    failure: { category: 'StepFailed', wasExecutionFailure: true, reason: 'Failed', message: 'exit 1' },
    override: null,
    timeline: [],
    ...overrides,
  };
}

describe('failsWorkflow', () => {
  it('fails the workflow for Failed only: Completed, Skipped and Cancelled are no errors', () => {
    expect(terminalPhases.filter(failsWorkflow)).toEqual([Phase.Failed]);
  });

  it('never fails an open remediation', () => {
    for (const phase of [Phase.Pending, Phase.Routing, Phase.Blocked, Phase.Executing, Phase.Verifying])
      expect(failsWorkflow(phase)).toBe(false);
  });
});

describe('remediationFailedMessage', () => {
  it('names the remediation, target, end reason, the numbers and the failure, then the status message', () => {
    expect(remediationFailedMessage(finalStatus())).toBe(
      'remediation r1 on prod/Deployment/api ended Failed (ExecutionFailed) after 1 attempt, ' +
        '1 PipelineRun (last rem-r1-1), failure StepFailed (Failed): ' +
        'PipelineRun rem-r1-1 failed after user steps ran (StepFailed); target needs manual review',
    );
  });

  it('says which block ended a remediation whose pre-execution failures ran out of time', () => {
    const status = finalStatus({
      reason: 'ExponentialBackoff',
      attempts: 2,
      pipelineRuns: ['rem-r1-1', 'rem-r1-2'],
      failure: {
        category: 'ImagePullFailed',
        wasExecutionFailure: false,
        reason: 'TaskRunImagePullFailed',
        message: 'pull',
      },
      message: 'backoff until 13:05:00 is past the deadline',
    });
    expect(remediationFailedMessage(status)).toBe(
      'remediation r1 on prod/Deployment/api ended Failed (ExponentialBackoff) after 2 attempts, ' +
        '2 PipelineRuns (last rem-r1-2), failure ImagePullFailed (TaskRunImagePullFailed): ' +
        'backoff until 13:05:00 is past the deadline',
    );
  });

  it("names the failure by its category alone when Tekton's reason is the same word", () => {
    const failure = {
      category: 'StepFailed',
      wasExecutionFailure: true,
      reason: 'StepFailed',
      message: 'exit 1',
    } as const;
    expect(remediationFailedMessage(finalStatus({ failure }))).toContain(
      '(last rem-r1-1), failure StepFailed: PipelineRun',
    );
  });

  it('leaves out the failure when there is none', () => {
    const message = remediationFailedMessage(
      finalStatus({ reason: 'Rejected', failure: null, message: 'rejected by bob: no' }),
    );
    expect(message).toBe(
      'remediation r1 on prod/Deployment/api ended Failed (Rejected) after 1 attempt, 1 PipelineRun (last rem-r1-1): rejected by bob: no',
    );
  });
});

describe('finalStatusFromFailure', () => {
  it('returns the final status a RemediationFailed failure carries first in its details', () => {
    const status = finalStatus();
    expect(finalStatusFromFailure({ type: REMEDIATION_FAILED, details: [status] })).toBe(status);
  });

  it.each<[string, { type?: unknown; details?: unknown }]>([
    ['another failure type', { type: 'InvalidRequestError', details: [finalStatus()] }],
    ['no details', { type: REMEDIATION_FAILED }],
    ['empty details', { type: REMEDIATION_FAILED, details: [] }],
    ['a detail that is no object', { type: REMEDIATION_FAILED, details: ['Failed'] }],
    [
      'a status that is not final',
      { type: REMEDIATION_FAILED, details: [finalStatus({ phase: 'Blocked' })] },
    ],
  ])('returns null for %s', (_what, failure) => {
    expect(finalStatusFromFailure(failure)).toBeNull();
  });
});
