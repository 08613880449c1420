/**
 * The local stack's demo catalog (src/dev/stack/demo.ts): one valid RemediationAction per demo
 * Pipeline, and the examples `npm start` prints are admitted with the target's namespace and name.
 */
import { admitAction, parseCatalogEntry, type AdmissionPolicy } from '../../../src/domain/catalog';
import { parseRemediationRequest } from '../../../src/domain/request';
import { demoActions, demoPipelines } from '../../../src/dev/stack/demo';

const policy: AdmissionPolicy = {
  allowUncataloguedActions: false,
  pipelineRunTimeoutMs: 30 * 60_000,
  catalogNamespace: 'remediation-system',
  supports: { dryRun: false, approval: false, verification: false },
};

describe('demo catalog', () => {
  it('has an action named after each demo Pipeline and running it, and every action runs a demo Pipeline', () => {
    const pipelines = demoPipelines.map((p) => p.name);
    for (const name of pipelines) expect(demoActions[name]?.pipeline).toBe(name);
    for (const spec of Object.values(demoActions)) expect(pipelines).toContain(spec.pipeline);
  });

  it.each(Object.entries(demoActions))('%s is valid for the worker', (id, spec) => {
    expect(parseCatalogEntry(id, '1', spec).problems).toEqual([]);
  });

  it.each([
    ['restart-deployment', 'api', { rolloutTimeout: '5m' }],
    ['broken-remediation', 'web', {}],
  ])('the printed example of %s is admitted with the target as params', (id, name, defaults) => {
    const request = parseRemediationRequest({
      signal: { fingerprint: 'demo' },
      target: { namespace: 'prod', kind: 'Deployment', name },
      action: { id },
    });
    const admission = admitAction(request, parseCatalogEntry(id, '1', demoActions[id]), policy);
    expect(admission).toMatchObject({
      kind: 'allowed',
      action: { pipeline: id, params: { namespace: 'prod', name, ...defaults }, catalogued: true },
    });
  });

  it('refuses a demo action on a kind it does not act on', () => {
    const request = parseRemediationRequest({
      signal: { fingerprint: 'demo' },
      target: { namespace: 'prod', kind: 'Pod', name: 'api-0' },
      action: { id: 'restart-deployment' },
    });
    const admission = admitAction(
      request,
      parseCatalogEntry('restart-deployment', '1', demoActions['restart-deployment']),
      policy,
    );
    expect(admission).toMatchObject({ kind: 'refused', errors: [{ field: 'target.kind' }] });
  });
});
