/** Assertions shared by the fault tests that hit many remediations at once. */
import { createHash } from 'node:crypto';
import { tsToMs } from '@temporalio/common/lib/time';
import { emptyTargetState } from '../../../src/domain/model';
import { fingerprintKey, targetKey, type RemediationRequestInput } from '../../../src/domain/request';
import type { RemediationStatus } from '../../../src/temporal-contract';
import type { RemediationHarness } from '../../integration/support/remediation-harness';

/** PipelineRuns of one fingerprint, from the API server (label of the fingerprint's hash). */
export async function pipelineRunsOfFingerprint(
  h: RemediationHarness,
  request: RemediationRequestInput,
): Promise<string[]> {
  const hash = createHash('sha256').update(fingerprintKey(request)).digest('hex').slice(0, 40);
  return h.runs.list(h.info.executionNamespace, { 'remediation.dev/fingerprint-hash': hash });
}

// temporal.api.enums.v1.TaskQueueKind / TaskQueueType
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/**
 * Remediations on fresh targets, each held in a durable wait (an exponential backoff left by one
 * earlier failure) that ends at `blockedUntil`.
 */
export async function startBlocked(
  h: RemediationHarness,
  pipeline: string,
  count: number,
  blockedUntil: number,
): Promise<{ id: string; request: RemediationRequestInput }[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const request = h.request({ pipeline });
      await h.ledger.putTarget({
        ...emptyTargetState(targetKey(request.target)),
        consecutiveFailures: 1,
        nextAllowedExecution: new Date(blockedUntil).toISOString(),
      });
      const id = await h.start(request);
      return { id, request };
    }),
  );
}

/**
 * After `startBlocked`: each wait ended no earlier than `blockedUntil` and less than `maxLateMs`
 * after it, the remediation completed with exactly one PipelineRun, and its target's ledger was reset.
 */
export async function expectWaitsEndedOnTime(
  h: RemediationHarness,
  blocked: { id: string; request: RemediationRequestInput }[],
  blockedUntil: number,
  maxLateMs: number,
): Promise<number[]> {
  const ends = await Promise.all(blocked.map(({ id }) => h.result(id, 180_000)));
  const lateness = ends.map((end: RemediationStatus) => {
    const secondPass = end.timeline.find((t) => t.event === 'routing' && t.message === 'routing pass 2');
    return secondPass ? Date.parse(secondPass.at) - blockedUntil : Number.NaN;
  });
  for (const [i, end] of ends.entries()) {
    expect(end).toMatchObject({ phase: 'Completed', attempts: 1 });
    expect(lateness[i]).toBeGreaterThanOrEqual(0); // never early
    expect(lateness[i]).toBeLessThan(maxLateMs);
    expect(await h.pipelineRunsOf(blocked[i]!.id)).toHaveLength(1);
    expect(await h.client.target(targetKey(blocked[i]!.request.target))).toMatchObject({
      consecutiveFailures: 0,
      nextAllowedExecution: null,
      lock: null,
      fencingToken: 1,
    });
  }
  return lateness;
}

/**
 * A storm for one fingerprint has settled correctly: the one remediation that ran completed once
 * with one PipelineRun, every other one was skipped as its duplicate, and the fingerprint's
 * ledger counted each duplicate once.
 */
export async function expectStormSettled(
  h: RemediationHarness,
  requests: RemediationRequestInput[],
  ids: string[],
): Promise<string> {
  const ends = await Promise.all(ids.map((id) => h.result(id, 240_000)));
  const ran = ends.filter((e) => e.phase !== 'Skipped');
  expect(ran).toHaveLength(1);
  const original = ids[ends.indexOf(ran[0]!)]!;
  expect(ran[0]).toMatchObject({ phase: 'Completed', attempts: 1 });
  for (const skipped of ends.filter((e) => e.phase === 'Skipped'))
    expect(skipped).toMatchObject({ reason: 'DuplicateInProgress', duplicateOf: original, attempts: 0 });
  const runs = await pipelineRunsOfFingerprint(h, requests[0]!);
  expect(runs).toEqual(ran[0]!.pipelineRuns);
  expect(runs).toHaveLength(1);
  const record = await h.ledger.getFingerprint(fingerprintKey(requests[0]!), requests[0]!.signal.fingerprint);
  expect(record).toMatchObject({ active: null, duplicates: { count: ids.length - 1 } });
  expect(await h.client.target(targetKey(requests[ids.indexOf(original)]!.target))).toMatchObject({
    lock: null,
    consecutiveFailures: 0,
  });
  return original;
}

/**
 * The pollers of each partition of `taskQueue`'s workflow task queue, by worker identity (the SDK's
 * default identity is `<pid>@<hostname>`). Partition 0 is the queue's own name; partition n > 0 is
 * `/_sys/<name>/<n>`. Each partition answers for itself: the frontend routes a partition's describe
 * to the matching host that owns it.
 */
export async function pollersByPartition(
  h: RemediationHarness,
  taskQueue: string,
  partitions: number,
): Promise<string[][]> {
  const service = h.client.client.workflowService;
  return Promise.all(
    Array.from({ length: partitions }, async (_, n) => {
      const { pollers } = await service.describeTaskQueue({
        namespace: h.info.temporal.namespace,
        taskQueue: { name: n === 0 ? taskQueue : `/_sys/${taskQueue}/${n}`, kind: TASK_QUEUE_KIND_NORMAL },
        taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
      });
      return [...new Set((pollers ?? []).map((p) => p.identity ?? ''))].sort();
    }),
  );
}

/** Identities of the workers that ran a remediation's workflow tasks (WorkflowTaskStarted). */
export async function workflowTaskWorkers(h: RemediationHarness, id: string): Promise<string[]> {
  const history = await h.client.client.workflow.getHandle(`remediation-${id}`).fetchHistory();
  return [
    ...new Set(
      (history.events ?? []).flatMap((e) => {
        const identity = e.workflowTaskStartedEventAttributes?.identity;
        return identity ? [identity] : [];
      }),
    ),
  ];
}

/**
 * A remediation's first durable timer, from its history: when history recorded it (TimerStarted),
 * when it was due (recorded + its duration) and when it fired (TimerFired), in ms since the epoch.
 */
export async function firstTimer(
  h: RemediationHarness,
  id: string,
): Promise<{ recordedAt: number; dueAt: number; firedAt: number }> {
  const events = (await h.client.client.workflow.getHandle(`remediation-${id}`).fetchHistory()).events ?? [];
  const started = events.find((e) => e.timerStartedEventAttributes);
  const fired = events.find(
    (e) => e.timerFiredEventAttributes?.timerId === started?.timerStartedEventAttributes?.timerId,
  );
  if (!started || !fired) throw new Error(`remediation ${id} has no fired timer`);
  const recordedAt = tsToMs(started.eventTime);
  return {
    recordedAt,
    dueAt: recordedAt + tsToMs(started.timerStartedEventAttributes!.startToFireTimeout),
    firedAt: tsToMs(fired.eventTime),
  };
}
