/**
 * S39: how a remediation's end shows in Temporal's own tools (docs/behaviour.md#how-a-remediation-closes-in-temporal).
 * Phase Failed fails the workflow with a non-retryable `RemediationFailed` failure that carries the
 * final status, so the plain `temporal` CLI's `ExecutionStatus="Failed"` lists it, while the status
 * query, `remediate status` and `remediate start --wait` (exit 1) answer as before. Completed and
 * Skipped still complete the workflow, Cancelled still cancels it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { RemediationStatus } from '../../../src/temporal-contract';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const run = promisify(execFile);
const bin = join(__dirname, '../../../bin/remediate.js');

interface Listed {
  execution: { workflowId: string };
  status: string;
}

describe('outcomes in Temporal: a Failed remediation fails its workflow', () => {
  const h = new RemediationHarness();
  beforeAll(async () => {
    await h.open();
    await h.startWorker({ pipelineRunTimeout: '2m' });
  });
  afterAll(() => h.close());

  async function exec(
    cli: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(cli, args, { env, timeout: 90_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /** The real `remediate` CLI (bin/remediate.js) against this file's task queue. */
  function remediate(...args: string[]) {
    return exec(process.execPath, [bin, ...args], {
      ...process.env,
      TEMPORAL_ADDRESS: h.info.temporal.address,
      TEMPORAL_NAMESPACE: h.info.temporal.namespace,
      REMEDIATION_TASK_QUEUE: h.taskQueue,
      KUBECONFIG: h.info.kubeconfig,
    });
  }

  /** `temporal workflow list --query … -o json` with the stack's `temporal` binary; polls, visibility is eventually consistent. */
  async function temporalList(query: string, expectedId: string): Promise<Listed[]> {
    const { cli, address, namespace } = h.info.temporal;
    let listed: Listed[] = [];
    for (let i = 0; i < 50; i++) {
      const out = await exec(cli, [
        'workflow',
        'list',
        '--query',
        query,
        '-o',
        'json',
        '--address',
        address,
        '--namespace',
        namespace,
      ]);
      if (out.code !== 0) throw new Error(`temporal workflow list exited ${out.code}: ${out.stderr}`);
      listed = (JSON.parse(out.stdout || '[]') as Listed[] | null) ?? [];
      if (listed.some((w) => w.execution.workflowId === expectedId)) return listed;
      await new Promise((r) => setTimeout(r, 200));
    }
    return listed;
  }

  /** The failure the workflow closed with, as the SDK's result() reports it. */
  async function workflowFailure(id: string): Promise<ApplicationFailure> {
    const error: unknown = await h.client
      .handle(id)
      .result()
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return cause as ApplicationFailure;
  }

  it('S39: an execution failure (`remediate start --wait` exits 1) closes FAILED with a non-retryable RemediationFailed carrying the final status; `temporal workflow list` finds it; `remediate status` still answers', async () => {
    const pipeline = await h.definePipeline('fail-step', 300);
    const target = `${uniqueName('prod')}/Deployment/web`;
    const started = await remediate(
      'start',
      '--fingerprint',
      uniqueName('fp'),
      '--target',
      target,
      '--action',
      'restart-deployment',
      '--param',
      'name=web',
      '--pipeline',
      pipeline,
      '--wait',
      '--json',
    );
    expect(started.code).toBe(1);
    const lines = started.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as RemediationStatus & { started?: boolean });
    const final = lines.at(-1)!;
    expect(final).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed', attempts: 1, target });
    const { id } = final;
    const workflowId = `remediation-${id}`;

    // Temporal's own status: FAILED, not COMPLETED.
    expect((await h.client.handle(id).describe()).status.name).toBe('FAILED');
    const failure = await workflowFailure(id);
    expect(failure).toMatchObject({ type: 'RemediationFailed', nonRetryable: true });
    expect(failure.message).toBe(
      `remediation ${id} on ${target} ended Failed (ExecutionFailed) after 1 attempt, ` +
        `1 PipelineRun (last ${final.pipelineRuns[0]}), failure StepFailed: ${final.message}`,
    );
    expect(failure.details).toEqual([final]);

    // The plain CLI's failure views; the phase search attribute was upserted before it failed.
    const failed = await temporalList(`ExecutionStatus="Failed" AND TargetResource="${target}"`, workflowId);
    expect(failed).toEqual([
      expect.objectContaining({
        execution: expect.objectContaining({ workflowId }),
        status: 'WORKFLOW_EXECUTION_STATUS_FAILED',
      }),
    ]);
    const byPhase = await temporalList(
      `ExecutionStatus="Failed" AND RemediationPhase="Failed" AND BlockReason="ExecutionFailed" AND TargetResource="${target}"`,
      workflowId,
    );
    expect(byPhase.map((w) => w.execution.workflowId)).toEqual([workflowId]);

    // The plain CLI's result: exit 1, the failure with the final status as its first detail.
    const { cli, address, namespace } = h.info.temporal;
    const plain = await exec(cli, [
      'workflow',
      'result',
      '--workflow-id',
      workflowId,
      '-o',
      'json',
      '--address',
      address,
      '--namespace',
      namespace,
    ]);
    expect(plain.code).toBe(1);
    const closed = JSON.parse(plain.stdout) as {
      status: string;
      closeEvent: {
        workflowExecutionFailedEventAttributes: {
          failure: {
            message: string;
            applicationFailureInfo: { type: string; nonRetryable: boolean; details: unknown[] };
          };
        };
      };
    };
    expect(closed.status).toBe('FAILED');
    const plainFailure = closed.closeEvent.workflowExecutionFailedEventAttributes.failure;
    expect(plainFailure.message).toBe(failure.message);
    expect(plainFailure.applicationFailureInfo).toMatchObject({
      type: 'RemediationFailed',
      nonRetryable: true,
    });
    expect(plainFailure.applicationFailureInfo.details[0]).toMatchObject({
      id,
      phase: 'Failed',
      reason: 'ExecutionFailed',
    });

    // The status query answers on the closed, failed workflow (replayed by the worker).
    const status = await remediate('status', id, '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual(final);
    const followed = await remediate('status', id, '--wait', '--json');
    expect(followed.code).toBe(1);
    expect(
      followed.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([final]);
    const listed = await remediate('list', '--phase', 'Failed', '--target', target, '--json');
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id, status: 'FAILED', phase: 'Failed', blockReason: 'ExecutionFailed' }),
    ]);
    // The client's long poll on the result answers the final status, not an exception.
    await expect(h.client.result(id)).resolves.toEqual(final);
  });

  it('S39: a Failed that is no execution failure (a pre-execution failure, then a backoff past the deadline) fails its workflow too', async () => {
    const pipeline = await h.definePipeline('image-pull', 300);
    const id = await h.start({ ...h.request({ pipeline }), deadline: '45s' });
    const final = await h.result(id, 60_000);
    expect(final).toMatchObject({ phase: 'Failed', reason: 'ExponentialBackoff', attempts: 1 });
    expect((await h.client.handle(id).describe()).status.name).toBe('FAILED');
    const failure = await workflowFailure(id);
    expect(failure).toMatchObject({ type: 'RemediationFailed', nonRetryable: true, details: [final] });
    expect(failure.message).toMatch(
      /ended Failed \(ExponentialBackoff\) after 1 attempt, 1 PipelineRun .*failure ImagePullFailed/,
    );
    await expect(h.client.result(id)).resolves.toEqual(final);
  });

  it('S39: Completed and Skipped (a duplicate is no error) complete the workflow; Cancelled cancels it', async () => {
    const succeed = await h.definePipeline('succeed');
    const clean = await h.start(h.request({ pipeline: succeed }));
    expect(await h.client.result(clean)).toMatchObject({ phase: 'Completed', reason: 'Succeeded' });
    expect((await h.client.handle(clean).describe()).status.name).toBe('COMPLETED');

    const holderRequest = h.request({ pipeline: await h.definePipeline('hang') });
    const holder = await h.start(holderRequest);
    await h.waitFor(holder, (s) => s.pipelineRuns.length === 1, 30_000, 'executing');
    const duplicate = await h.start({
      ...h.request({ pipeline: succeed, fingerprint: holderRequest.signal.fingerprint }),
      target: { ...holderRequest.target, name: 'other' },
    });
    expect(await h.client.result(duplicate)).toMatchObject({
      phase: 'Skipped',
      reason: 'DuplicateInProgress',
      duplicateOf: holder,
    });
    expect((await h.client.handle(duplicate).describe()).status.name).toBe('COMPLETED');

    await h.client.cancel(holder, 'outcomes test done');
    expect(await h.result(holder)).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled' });
    for (let i = 0; i < 50 && (await h.client.handle(holder).describe()).status.name === 'RUNNING'; i++)
      await new Promise((r) => setTimeout(r, 200));
    expect((await h.client.handle(holder).describe()).status.name).toBe('CANCELLED');
  });
});
