/**
 * The worker's gauges (src/metrics/gauges.ts) against the integration stack: the loop reads the
 * real Temporal visibility and a real Kubernetes ledger and sets an in-memory meter. Other files
 * share the stack, so the visibility count is narrowed to this file's task queue (the production
 * query, plus one clause) and the ledger lives in a namespace of its own.
 */
import type { MetricGauge, MetricMeter } from '@temporalio/common';
import { KubernetesLedger } from '../../src/adapters/kubernetes-ledger';
import type { RemediationActionSpecInput } from '../../src/domain/catalog';
import { emptyTargetState, type TargetState } from '../../src/domain/model';
import type { RemediationRequestInput } from '../../src/domain/request';
import {
  GAUGES,
  readGauges,
  startGaugeLoop,
  workerGaugeSources,
  type GaugeLoop,
} from '../../src/metrics/gauges';
import type { RemediationStatus } from '../../src/temporal-contract';
import { kubeConfig } from './stack-env';
import { RemediationHarness, uniqueName } from './support/remediation-harness';

/** The latest value set on each gauge series, by name (and tags, for a labelled one). */
function inMemoryMeter() {
  const latest = new Map<string, number>();
  const meter: Pick<MetricMeter, 'createGauge'> = {
    createGauge(name, valueType, unit, description) {
      const gauge: MetricGauge = {
        name,
        kind: 'gauge',
        valueType: valueType ?? 'int',
        unit,
        description,
        set: (value, tags) => void latest.set(tags ? `${name}${JSON.stringify(tags)}` : name, value),
        withTags: () => gauge,
      };
      return gauge;
    },
  };
  return { meter, latest };
}

const review = (required: boolean): TargetState['manualReview'] => ({
  required,
  reason: 'StepFailed',
  since: '2026-01-01T00:00:00Z',
  remediationId: uniqueName('r'),
});

describe('worker gauges on the real stack', () => {
  const h = new RemediationHarness();
  const ledger = new KubernetesLedger(kubeConfig(), uniqueName('gauges'));
  const { meter, latest } = inMemoryMeter();
  const log = jest.fn();
  let loop: GaugeLoop | undefined;
  let pipeline: string;
  const action = uniqueName('gauge-approval');

  beforeAll(async () => {
    await h.open();
    await h.startWorker({ allowUncataloguedActions: false });
    pipeline = await h.definePipeline('succeed', 200);
    const spec: RemediationActionSpecInput = {
      pipeline,
      targetParams: { namespace: '{{ target.namespace }}', name: '{{ target.name }}' },
      approval: { required: true },
    };
    await h.defineAction(action, spec);
  });
  afterAll(async () => {
    await loop?.stop();
    await h.close();
  });

  /**
   * Polls until the gauges hold these values (visibility is eventually consistent); the ones
   * awaiting approval are also the open remediations in phase Blocked.
   */
  async function gaugesReach(awaitingApproval: number, manualReview: number): Promise<void> {
    const want = { awaitingApproval, manualReview, blocked: awaitingApproval, executing: 0 };
    const now = () => ({
      awaitingApproval: latest.get(GAUGES.awaitingApproval.name),
      manualReview: latest.get(GAUGES.manualReview.name),
      blocked: latest.get(`${GAUGES.openRemediations.name}{"phase":"Blocked"}`),
      executing: latest.get(`${GAUGES.openRemediations.name}{"phase":"Executing"}`),
    });
    const until = Date.now() + 30_000;
    while (JSON.stringify(now()) !== JSON.stringify(want)) {
      if (Date.now() > until)
        throw new Error(`gauges ${JSON.stringify(now())}, want ${JSON.stringify(want)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  function request(): RemediationRequestInput {
    const base = h.request({ action, pipeline });
    const { pipeline: _omitted, ...rest } = base.action;
    return { ...base, action: rest } as RemediationRequestInput;
  }
  const awaiting = (s: RemediationStatus) => s.phase === 'Blocked' && s.blockReason === 'AwaitingApproval';

  it('the production query is valid visibility syntax on the real server', async () => {
    const readings = await readGauges(workerGaugeSources({ workflows: h.client.client.workflow, ledger }), {
      timeoutMs: 10_000,
    });
    expect(readings.awaitingApproval.ok).toBe(true);
    expect(readings.openRemediations.ok).toBe(true);
    expect(readings.manualReview).toEqual({ ok: true, value: 0 });
  });

  it('follows approvals and manual reviews as they come and go', async () => {
    const workflow = h.client.client.workflow;
    loop = startGaugeLoop({
      meter,
      sources: workerGaugeSources({
        workflows: { count: (query) => workflow.count(`${query} AND TaskQueue = '${h.taskQueue}'`) },
        ledger,
      }),
      intervalMs: 200,
      // A quick refresh, but each read may take its time on a loaded machine (7 counts at once).
      timeoutMs: 10_000,
      log,
    });
    await gaugesReach(0, 0);

    const reviewed = await Promise.all(
      [true, true, false].map((required, i) =>
        ledger.putTarget({ ...emptyTargetState(`app-${i}/Deployment/api`), manualReview: review(required) }),
      ),
    );
    await ledger.putTarget(emptyTargetState('app-3/Deployment/api'));
    const approved = await h.start(request());
    const rejected = await h.start(request());
    await Promise.all([approved, rejected].map((id) => h.waitFor(id, awaiting, 30_000, 'AwaitingApproval')));
    await gaugesReach(2, 2);

    await h.client.reject(rejected, 'not now', 'alice');
    await ledger.putTarget({ ...reviewed[0]!, manualReview: null }); // as a clear leaves it
    await gaugesReach(1, 1);

    await h.client.approve(approved, 'go ahead', 'alice');
    expect(await h.result(approved)).toMatchObject({ phase: 'Completed' });
    await gaugesReach(0, 1);

    await loop.stop();
    expect(log).not.toHaveBeenCalled();
  });
});
