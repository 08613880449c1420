/**
 * The integration stack itself: a real Worker runs a workflow on the dev server, our search
 * attributes exist, and the Kubernetes API serves Tekton's real PipelineRun schema.
 */
import { randomBytes } from 'node:crypto';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import {
  NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../src/dev/stack/temporal';
import { kubeConfig, stackInfo } from './stack-env';
import type { SmokeActivities } from './support/smoke-workflows';
import { smokeWorkflow } from './support/smoke-workflows';

// temporal.api.enums.v1.IndexedValueType
const INDEXED_VALUE_TYPE = { Keyword: 2, Datetime: 6 } as const;

const suffix = randomBytes(4).toString('hex');

describe('Temporal dev server', () => {
  let connection: Connection;
  let client: Client;
  let bundle: WorkflowBundleWithSourceMap;

  beforeAll(async () => {
    const info = stackInfo();
    connection = await Connection.connect({ address: info.temporal.address });
    client = new Client({ connection, namespace: info.temporal.namespace });
    bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./support/smoke-workflows'),
      logger: {
        log: () => {},
        trace: () => {},
        debug: () => {},
        info: () => {},
        warn: () => {},
        error: () => {},
      },
    });
  });

  afterAll(async () => {
    await connection?.close();
  });

  it('runs a workflow and its activity on a real Worker', async () => {
    const info = stackInfo();
    const taskQueue = `smoke-${suffix}`;
    const workerConnection = await NativeConnection.connect({ address: info.temporal.address });
    const activities: SmokeActivities = { greet: async (name) => `hello, ${name}` };
    try {
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: info.temporal.namespace,
        taskQueue,
        workflowBundle: bundle,
        activities,
      });
      const workflowId = `smoke-${suffix}`;
      const result = await worker.runUntil(
        client.workflow.execute(smokeWorkflow, { taskQueue, workflowId, args: ['stack'] }),
      );
      expect(result).toBe('hello, stack');
      // Visibility on SQLite is immediate: the upserted custom attribute is queryable.
      const found: string[] = [];
      for await (const wf of client.workflow.list({
        query: `WorkflowId = '${workflowId}' AND RemediationPhase = 'Completed'`,
      })) {
        found.push(wf.workflowId);
      }
      expect(found).toEqual([workflowId]);
    } finally {
      await workerConnection.close();
    }
  });

  it('has the search attributes of the Temporal-level contract', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: stackInfo().temporal.namespace,
    });
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      expect({ name, type: customAttributes?.[name] }).toEqual({ name, type: INDEXED_VALUE_TYPE[type] });
    }
  });
});

describe('Kubernetes API server', () => {
  const group = 'tekton.dev';
  const version = 'v1';
  const plural = 'pipelineruns';

  it('serves PipelineRuns in the execution namespace', async () => {
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    const list = (await api.listNamespacedCustomObject({
      group,
      version,
      plural,
      namespace: stackInfo().executionNamespace,
      // Other suites create PipelineRuns here; a label nobody uses isolates this check.
      labelSelector: `smoke.remediation.dev/run=${suffix}`,
    })) as { kind?: string; items?: unknown[] };
    expect(list.kind).toBe('PipelineRunList');
    expect(list.items).toEqual([]);
  });

  it("enforces Tekton's real v1 schema: wrong types are rejected, unknown fields pruned", async () => {
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    const namespace = stackInfo().executionNamespace;
    const pipelineRun = (name: string, spec: Record<string, unknown>): object => ({
      apiVersion: `${group}/${version}`,
      kind: 'PipelineRun',
      metadata: { name, labels: { 'smoke.remediation.dev/run': suffix } },
      spec: { pipelineRef: { name: 'does-not-exist' }, ...spec },
    });

    const rejected = await api
      .createNamespacedCustomObject({
        group,
        version,
        plural,
        namespace,
        body: pipelineRun(`smoke-bad-type-${suffix}`, { timeouts: { pipeline: 5 } }),
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(rejected).toBeInstanceOf(ApiException);
    expect((rejected as ApiException<string>).code).toBe(422);
    expect(String((rejected as ApiException<string>).body)).toContain('spec.timeouts.pipeline');

    const name = `smoke-pruned-${suffix}`;
    const created = (await api.createNamespacedCustomObject({
      group,
      version,
      plural,
      namespace,
      body: pipelineRun(name, { notATektonField: true }),
    })) as { spec: Record<string, unknown> };
    try {
      expect(created.spec).not.toHaveProperty('notATektonField');
      expect(created.spec.pipelineRef).toEqual({ name: 'does-not-exist' });
    } finally {
      await api.deleteNamespacedCustomObject({ group, version, plural, namespace, name });
    }
  });
});
