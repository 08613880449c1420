/**
 * S33 on the real stack: the action catalog decides what runs. RemediationAction objects live in
 * the real API server and reach the worker through its watch; refusals come from the client's
 * pre-check (the real `remediate` CLI exits 2) and from the remediation itself when it is started
 * from the plain `temporal` CLI. Nothing refused leaves a ledger record or a PipelineRun.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  InvalidRequestError,
  fingerprintKey,
  targetKey,
  type RemediationRequestInput,
} from '../../../src/domain/request';
import { RemediationHarness, uniqueName } from '../support/remediation-harness';

const exec = promisify(execFile);
const bin = join(__dirname, '../../../bin/remediate.js');

describe('S33: the action catalog', () => {
  const h = new RemediationHarness();
  const restart = uniqueName('restart');
  const deletePod = uniqueName('delete-pod');
  let restartPipeline: string;
  let deletePodPipeline: string;
  /** Namespaces the restart action may act in: `<prefix>-*`. */
  const prefix = uniqueName('cat');

  beforeAll(async () => {
    await h.open();
    await h.startWorker({ allowUncataloguedActions: false });
    restartPipeline = await h.definePipeline('succeed', 200);
    deletePodPipeline = await h.definePipeline('succeed', 200);
    await h.defineAction(restart, {
      pipeline: restartPipeline,
      serviceAccountName: 'remediation-restart',
      targets: { kinds: ['Deployment'], namespaces: [`${prefix}-*`] },
      targetParams: { namespace: '{{ target.namespace }}', name: '{{ target.name }}' },
      params: [{ name: 'reason', pattern: '[A-Za-z0-9 ._-]*', maxLength: 100, default: 'alert' }],
    });
    await h.defineAction(deletePod, {
      pipeline: deletePodPipeline,
      targets: { kinds: ['Pod'] },
      targetParams: { namespace: '{{ target.namespace }}', name: '{{ target.name }}' },
    });
  });
  afterAll(() => h.close());

  function request(
    id: string,
    overrides: Partial<RemediationRequestInput['action']> = {},
    namespace = `${prefix}-a`,
  ) {
    const base = h.request({ id, namespace, action: restart, pipeline: restartPipeline });
    const { pipeline: _unused, ...action } = base.action;
    return { ...base, action: { ...action, ...overrides } } as RemediationRequestInput;
  }

  /** Refused: nothing in the ledger for the target and fingerprint, no workflow, no PipelineRun. */
  async function expectNothingWritten(req: RemediationRequestInput, id: string, workflowExpected = false) {
    const key = targetKey(req.target);
    expect((await h.ledger.getTarget(key)).version).toBeNull();
    expect((await h.ledger.getFingerprint(fingerprintKey(req), req.signal.fingerprint)).version).toBeNull();
    expect(await h.pipelineRunsOf(id)).toEqual([]);
    if (!workflowExpected) await expect(h.client.status(id)).rejects.toThrow();
  }

  async function refusedFields(req: RemediationRequestInput): Promise<Record<string, string>> {
    const error = await h.client.start(req).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidRequestError);
    return Object.fromEntries((error as InvalidRequestError).errors.map((e) => [e.field, e.message]));
  }

  it('S33 an uncatalogued action is refused naming action.id; nothing written', async () => {
    const id = uniqueName('s33-uncat');
    const req = {
      ...request(id),
      action: { id: uniqueName('nowhere'), pipeline: restartPipeline, params: {} },
    };
    const fields = await refusedFields(req);
    expect(fields['action.id']).toMatch(/no RemediationAction .* and uncatalogued actions are not allowed/);
    await expectNothingWritten(req, id);
  });

  it('S33 a target outside the action namespaces is refused naming target.namespace; nothing written', async () => {
    const id = uniqueName('s33-ns');
    const req = request(id, {}, uniqueName('payments'));
    const fields = await refusedFields(req);
    expect(fields['target.namespace']).toMatch(
      new RegExp(`acts only in namespaces ${prefix}-\\*, not payments-`),
    );
    await expectNothingWritten(req, id);
  });

  it('S33 a caller-set targetParam and a param breaking its pattern are refused naming each field; nothing written', async () => {
    const id = uniqueName('s33-params');
    const req = request(id, { params: { name: 'other-app', reason: 'fix; kubectl delete ns prod' } });
    const fields = await refusedFields(req);
    expect(fields['action.params.name']).toBe('set by the action from the target');
    expect(fields['action.params.reason']).toMatch(/must match \[A-Za-z0-9 ._-\]\* \(the whole value\)/);
    await expectNothingWritten(req, id);
  });

  it('S33 started from the plain temporal CLI, a refused action ends Skipped ActionNotAllowed and writes nothing', async () => {
    const id = uniqueName('s33-plain');
    const req = request(id, { params: { name: '--all' } });
    await h.temporalOk(
      'workflow',
      'start',
      '--type',
      'remediation',
      '--task-queue',
      h.taskQueue,
      '--workflow-id',
      `remediation-${id}`,
      '--input',
      JSON.stringify({ remediationId: id, request: req }),
    );
    const final = await h.result(id);
    expect(final).toMatchObject({ phase: 'Skipped', reason: 'ActionNotAllowed', pipelineRuns: [] });
    expect(final.message).toContain('action.params.name: set by the action from the target');
    await expectNothingWritten(req, id, true);
  });

  it('S33 a catalogued request runs with the target namespace/name as params and the catalog ServiceAccount', async () => {
    const id = uniqueName('s33-ok');
    const req = request(id, { params: { reason: 'KubePodCrashLooping 3x' } });
    await h.start(req);
    const final = await h.result(id);
    expect(final).toMatchObject({
      phase: 'Completed',
      resolvedAction: {
        pipeline: restartPipeline,
        serviceAccountName: 'remediation-restart',
        catalogued: true,
      },
    });
    const [run] = await h.pipelineRunObjectsOf(id);
    const params = Object.fromEntries((run?.spec?.params ?? []).map((p) => [p.name, p.value]));
    expect(params).toEqual({
      namespace: req.target.namespace,
      name: 'api',
      reason: 'KubePodCrashLooping 3x',
    });
    expect(run?.spec?.pipelineRef?.name).toBe(restartPipeline);
    expect(run?.spec?.taskRunTemplate?.serviceAccountName).toBe('remediation-restart');
  });

  it('the delete-pod --all attack through the real remediate CLI exits 2 naming every field and creates nothing', async () => {
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: h.info.temporal.address,
      TEMPORAL_NAMESPACE: h.info.temporal.namespace,
      REMEDIATION_TASK_QUEUE: h.taskQueue,
    };
    const attack = async (action: string) => {
      const id = uniqueName('attack');
      const fingerprint = uniqueName('fp');
      const args = ['start', '--id', id, '--fingerprint', fingerprint, '--target', 'prod/Deployment/api'];
      args.push(
        '--action',
        action,
        '--pipeline',
        'delete-pod',
        '--param',
        'namespace=payments',
        '--param',
        'name=--all',
      );
      const out = await exec(process.execPath, [bin, ...args, '--json'], { env, timeout: 60_000 }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      const req = { target: { namespace: 'prod', kind: 'Deployment', name: 'api' }, signal: { fingerprint } };
      await expectNothingWritten(req as RemediationRequestInput, id);
      return {
        code: out.code,
        fields: (JSON.parse(out.stderr) as { error: { fields: { field: string }[] } }).error.fields,
      };
    };
    // Named after the catalogued delete-pod action: wrong pipeline, wrong kind, target params set by the caller.
    const catalogued = await attack(deletePod);
    expect(catalogued.code).toBe(2);
    expect(catalogued.fields.map((f) => f.field).sort()).toEqual([
      'action.params.name',
      'action.params.namespace',
      'action.pipeline',
      'target.kind',
    ]);
    // Under an action nobody catalogued: refused outright.
    const uncatalogued = await attack(uniqueName('anything'));
    expect(uncatalogued.code).toBe(2);
    expect(uncatalogued.fields.map((f) => f.field)).toEqual(['action.id']);
  });

  it('remediate actions --json lists what the worker sees', async () => {
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: h.info.temporal.address,
      REMEDIATION_TASK_QUEUE: h.taskQueue,
    };
    const { stdout } = await exec(process.execPath, [bin, 'actions', '--json'], { env, timeout: 60_000 });
    const view = JSON.parse(stdout) as {
      allowUncataloguedActions: boolean;
      entries: { id: string; spec: { pipeline: string } | null }[];
    };
    expect(view.allowUncataloguedActions).toBe(false);
    expect(view.entries.find((e) => e.id === restart)?.spec?.pipeline).toBe(restartPipeline);
    const text = await exec(process.execPath, [bin, 'actions'], { env, timeout: 60_000 });
    expect(text.stdout).toContain(restart);
    expect(text.stdout).toContain('uncatalogued actions refused');
  });
});
