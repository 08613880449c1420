/**
 * The client's action pre-check (S33): a refusal from the worker's catalog throws the field errors
 * and starts nothing; no answer in time leaves the decision to the remediation itself.
 */
import type { Client } from '@temporalio/client';
import { TimeoutFailure, TimeoutType } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { RemediationClient } from '../../../src/client';
import { InvalidRequestError } from '../../../src/domain/request';
import { CHECK_ACTION_WORKFLOW } from '../../../src/temporal-contract';

const request = {
  signal: { fingerprint: 'f1' },
  target: { namespace: 'prod', kind: 'Deployment', name: 'api' },
  action: { id: 'delete-pod', params: { name: '--all' } },
};

function fake(execute: jest.Mock) {
  const start = jest.fn().mockResolvedValue({});
  return {
    client: new RemediationClient({ workflow: { start, execute } } as unknown as Client),
    start,
    execute,
  };
}

describe('RemediationClient.start asks the worker about the action first', () => {
  it('S33 a refusal throws every field error and starts nothing', async () => {
    const errors = [
      { field: 'action.params.name', rule: 'targetParam', message: 'set by the action from the target' },
    ];
    const { client, start, execute } = fake(
      jest.fn().mockResolvedValue({ kind: 'refused', errors, message: 'no' }),
    );
    const error = await client.start(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).errors).toEqual(errors);
    expect(start).not.toHaveBeenCalled();
    expect(execute).toHaveBeenCalledWith(
      CHECK_ACTION_WORKFLOW,
      expect.objectContaining({
        args: [
          { request: expect.objectContaining({ action: expect.objectContaining({ id: 'delete-pod' }) }) },
        ],
      }),
    );
  });

  it('an admitted action starts', async () => {
    const { client, start } = fake(jest.fn().mockResolvedValue({ kind: 'allowed', action: {} }));
    await expect(client.start(request)).resolves.toMatchObject({ started: true });
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('no worker answering in time starts anyway: the remediation checks its action itself', async () => {
    const timedOut = new WorkflowFailedError(
      'timed out',
      new TimeoutFailure('timed out', undefined, TimeoutType.START_TO_CLOSE),
      'NON_RETRYABLE_FAILURE',
    );
    const { client, start } = fake(jest.fn().mockRejectedValue(timedOut));
    await expect(client.start(request)).resolves.toMatchObject({ started: true });
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('other errors of the check propagate and start nothing', async () => {
    const { client, start } = fake(jest.fn().mockRejectedValue(new Error('connection refused')));
    await expect(client.start(request)).rejects.toThrow('connection refused');
    expect(start).not.toHaveBeenCalled();
  });

  it('checkAction: false skips the check (the intake: the remediation records its own refusal)', async () => {
    const { client, start, execute } = fake(jest.fn());
    await client.start(request, { checkAction: false });
    expect(execute).not.toHaveBeenCalled();
    expect(start).toHaveBeenCalledTimes(1);
  });
});
