/**
 * Operators without our CLI: the plain `temporal` binary (the one the stack runs, 1.9.1) against
 * remediations started through the client, on a real worker. Every command here is the one
 * docs/operating.md tells people to paste (the README's "Temporal-level contract", docs/behaviour.md#operator-controls).
 */
import { execFile } from 'node:child_process';
import type { RemediationStatus } from '../../src/temporal-contract';
import { RemediationHarness, uniqueName } from './support/remediation-harness';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('plain `temporal` CLI', () => {
  const h = new RemediationHarness();

  /** Runs `temporal <args> --address … --namespace …`; never throws, the exit code is the verdict. */
  function temporal(...args: string[]): Promise<CliRun> {
    const { cli, address, namespace } = h.info.temporal;
    return new Promise((resolve) => {
      execFile(
        cli,
        [...args, '--address', address, '--namespace', namespace],
        { timeout: 60_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Like `temporal`, but a non-zero exit fails the test with everything the CLI printed. */
  async function temporalOk(...args: string[]): Promise<string> {
    const run = await temporal(...args);
    if (run.code !== 0) {
      throw new Error(
        `temporal ${args.join(' ')} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
      );
    }
    return run.stdout;
  }

  async function queryStatus(id: string): Promise<RemediationStatus> {
    const out = await temporalOk(
      'workflow',
      'query',
      '--workflow-id',
      `remediation-${id}`,
      '--name',
      'status',
      '-o',
      'json',
    );
    const parsed = JSON.parse(out) as { queryResult: RemediationStatus[] };
    return parsed.queryResult[0]!;
  }

  /** A target whose last run failed after user steps ran: it now needs manual review (S7). */
  async function failedTarget(): Promise<{ namespace: string; target: string }> {
    const namespace = uniqueName('ns');
    const failing = await h.start(h.request({ namespace, pipeline: await h.definePipeline('fail-step') }));
    const end = await h.result(failing);
    expect(end).toMatchObject({ phase: 'Failed', reason: 'ExecutionFailed' });
    return { namespace, target: `${namespace}/Deployment/api` };
  }

  let succeed: string;

  beforeAll(async () => {
    await h.open();
    await h.startWorker();
    succeed = await h.definePipeline('succeed');
  });

  afterAll(async () => {
    await h.close();
  });

  it('S7: query status, list by search attributes, then clearTarget started from the CLI wakes the waiting remediation', async () => {
    const { namespace, target } = await failedTarget();
    const id = await h.start(h.request({ namespace, pipeline: succeed }));
    await h.waitFor(id, (s) => s.blockReason === 'PreviousExecutionFailed', 60_000, 'the manual block');

    // (a) query
    const status = await queryStatus(id);
    expect(status).toMatchObject({
      id,
      phase: 'Blocked',
      blockReason: 'PreviousExecutionFailed',
      blockKind: 'manual',
      target,
    });
    // The CLI's JSON shorthand prints an empty list in a payload as null (the payload itself has []).
    expect(status.pipelineRuns ?? []).toEqual([]);

    // (e) list by our search attributes (visibility is eventually consistent: poll briefly)
    const query = `RemediationPhase='Blocked' AND TargetResource='${target}'`;
    let listed: { execution: { workflowId: string }; type: { name: string }; status: string }[] = [];
    for (let i = 0; i < 50 && listed.length === 0; i++) {
      listed = JSON.parse(
        await temporalOk('workflow', 'list', '--query', query, '-o', 'json'),
      ) as typeof listed;
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toEqual([
      expect.objectContaining({
        execution: expect.objectContaining({ workflowId: `remediation-${id}` }),
        type: { name: 'remediation' },
        status: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
      }),
    ]);
    const byReason = JSON.parse(
      await temporalOk(
        'workflow',
        'list',
        '--query',
        `BlockReason='PreviousExecutionFailed' AND TargetResource='${target}'`,
        '-o',
        'json',
      ),
    ) as typeof listed;
    expect(byReason.map((w) => w.execution.workflowId)).toEqual([`remediation-${id}`]);

    // (d) clear through the `clearTarget` workflow type, started with the plain CLI
    const clearId = uniqueName('clear-target');
    await temporalOk(
      'workflow',
      'start',
      '--type',
      'clearTarget',
      '--task-queue',
      h.taskQueue,
      '--workflow-id',
      clearId,
      '--input',
      JSON.stringify({ target, reason: 'fixed the config by hand', by: 'alice' }),
    );
    const cleared = JSON.parse(
      await temporalOk('workflow', 'result', '--workflow-id', clearId, '-o', 'json'),
    ) as { status: string; result: { target: string; woken: string[] } };
    expect(cleared.status).toBe('COMPLETED');
    expect(cleared.result).toMatchObject({ target, woken: [`remediation-${id}`] });
    // The clear is filterable by target even though the plain CLI set no search attribute.
    const clears = JSON.parse(
      await temporalOk(
        'workflow',
        'list',
        '--query',
        `WorkflowType='clearTarget' AND TargetResource='${target}'`,
        '-o',
        'json',
      ),
    ) as typeof listed;
    expect(clears.map((w) => w.execution.workflowId)).toEqual([clearId]);

    const end = await h.result(id, 60_000);
    expect(end).toMatchObject({ phase: 'Completed', reason: 'Succeeded', attempts: 1 });
    expect(await h.pipelineRunsOf(id)).toHaveLength(1);
    const audit = (await h.client.target(target)).audit;
    expect(audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ by: 'alice', reason: 'fixed the config by hand' })]),
    );
  });

  it('S17: `workflow update execute --name override` runs a RecentlyRemediated remediation now', async () => {
    const namespace = uniqueName('ns');
    const first = await h.start(h.request({ namespace, pipeline: succeed }));
    expect(await h.result(first)).toMatchObject({ phase: 'Completed' });
    const id = await h.start(h.request({ namespace, pipeline: succeed }));
    await h.waitFor(id, (s) => s.blockReason === 'RecentlyRemediated', 60_000, 'RecentlyRemediated');

    const out = await temporalOk(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      `remediation-${id}`,
      '--name',
      'override',
      '--input',
      JSON.stringify({ reason: 'customer-facing outage, restart again', by: 'bob' }),
      '-o',
      'json',
    );
    expect(JSON.parse(out)).toMatchObject({
      result: { accepted: true, skips: 'RecentlyRemediated' },
    });

    const end = await h.result(id, 60_000);
    expect(end).toMatchObject({
      phase: 'Completed',
      override: expect.objectContaining({ by: 'bob', reason: 'customer-facing outage, restart again' }),
    });
  });

  it('S17: override on a ResourceBusy remediation is refused with the reason; (c) `workflow cancel` cancels the holder', async () => {
    const namespace = uniqueName('ns');
    const holder = await h.start(h.request({ namespace, pipeline: await h.definePipeline('hang') }));
    await h.waitFor(holder, (s) => s.pipelineRuns.length === 1, 60_000, 'a running PipelineRun');
    const waiter = await h.start(h.request({ namespace, pipeline: succeed }));
    await h.waitFor(waiter, (s) => s.blockReason === 'ResourceBusy', 60_000, 'ResourceBusy');

    const refused = await temporal(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      `remediation-${waiter}`,
      '--name',
      'override',
      '--input',
      JSON.stringify({ reason: 'please', by: 'bob' }),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/override refused: ResourceBusy is a lock block/);
    expect(await queryStatus(waiter)).toMatchObject({ phase: 'Blocked', override: null });

    const t0 = Date.now();
    await temporalOk('workflow', 'cancel', '--workflow-id', `remediation-${holder}`);
    expect(await h.result(holder, 60_000)).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled' });
    // The cancel reaches the watching activity on its next heartbeat, not after the SDK's 24s throttle.
    expect(Date.now() - t0).toBeLessThan(10_000);
    const described = JSON.parse(
      await temporalOk('workflow', 'describe', '--workflow-id', `remediation-${holder}`, '-o', 'json'),
    ) as { workflowExecutionInfo: { status: string } };
    expect(described.workflowExecutionInfo.status).toBe('WORKFLOW_EXECUTION_STATUS_CANCELED');

    // The lock went with the cancel: the waiter runs.
    expect(await h.result(waiter, 60_000)).toMatchObject({ phase: 'Completed' });
  });
});
