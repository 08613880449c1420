/**
 * The action catalog's decision (docs/catalog.md): table tests of every rule, then properties over
 * generated requests and catalogs: no request can make a PipelineRun whose target-derived params
 * differ from the target, or whose ServiceAccount differs from the catalog's.
 */
import fc from 'fast-check';
import { createRefusal, type ResolvedAction } from '../../../src/domain/catalog';
import {
  admitAction,
  globMatches,
  parseCatalogEntry,
  renderTemplate,
  type AdmissionPolicy,
  type CatalogEntry,
  type RemediationActionSpecInput,
} from '../../../src/domain/catalog';
import { parseRemediationRequest, type RemediationRequestInput } from '../../../src/domain/request';

const policy: AdmissionPolicy = {
  allowUncataloguedActions: false,
  pipelineRunTimeoutMs: 30 * 60_000,
  catalogNamespace: 'remediation-system',
  supports: { dryRun: false, approval: false, verification: false },
};

const restart: RemediationActionSpecInput = {
  pipeline: 'restart-deployment',
  serviceAccountName: 'remediation-restart',
  targets: { kinds: ['Deployment'], namespaces: ['prod', 'staging-*'] },
  targetParams: { namespace: '{{ target.namespace }}', name: '{{target.name}}' },
  params: [{ name: 'reason', pattern: '[A-Za-z0-9 ._-]*', maxLength: 20, default: 'alert' }],
  timeout: '10m',
};

function entry(spec: RemediationActionSpecInput | Record<string, unknown>, id = 'restart'): CatalogEntry {
  return parseCatalogEntry(id, '7', spec);
}

function request(
  overrides: {
    action?: Partial<RemediationRequestInput['action']>;
    target?: Partial<RemediationRequestInput['target']>;
  } = {},
) {
  return parseRemediationRequest({
    signal: { fingerprint: 'f1' },
    target: { namespace: 'prod', kind: 'Deployment', name: 'api', ...overrides.target },
    action: { id: 'restart', ...overrides.action },
  });
}

function refusals(admission: ReturnType<typeof admitAction>): Record<string, string> {
  if (admission.kind !== 'refused') throw new Error(`expected a refusal, got ${JSON.stringify(admission)}`);
  const byField: Record<string, string> = {};
  for (const e of admission.errors)
    byField[e.field] = byField[e.field] ? `${byField[e.field]}; ${e.message}` : e.message;
  return byField;
}

describe('admitAction: a catalogued action (S33)', () => {
  it('S33 runs with the target namespace/name as params, the default param and the catalog ServiceAccount', () => {
    const admission = admitAction(request(), entry(restart), policy);
    expect(admission).toEqual({
      kind: 'allowed',
      action: {
        id: 'restart',
        catalogued: true,
        resourceVersion: '7',
        pipeline: 'restart-deployment',
        params: { reason: 'alert', namespace: 'prod', name: 'api' },
        serviceAccountName: 'remediation-restart',
        timeoutMs: 600_000,
        mode: 'Enforce',
        approval: { required: false, forbidSelfApproval: false },
        verification: null,
        runWhenResolved: false,
      },
    });
  });

  it('S33 a caller-set targetParam is refused naming the field', () => {
    const r = refusals(
      admitAction(request({ action: { params: { name: '--all' } } }), entry(restart), policy),
    );
    expect(r['action.params.name']).toBe('set by the action from the target');
  });

  it('S33 a param breaking its pattern is refused; the pattern must match the whole value', () => {
    const r = refusals(
      admitAction(request({ action: { params: { reason: 'ok; rm -rf /' } } }), entry(restart), policy),
    );
    expect(r['action.params.reason']).toMatch(/must match \[A-Za-z0-9 ._-\]\* \(the whole value\)/);
    // A value the pattern matches only in part is refused too (anchored).
    const partial = entry({ ...restart, params: [{ name: 'reason', pattern: '[a-z]+' }] });
    expect(
      refusals(admitAction(request({ action: { params: { reason: 'abc--all' } } }), partial, policy)),
    ).toHaveProperty(['action.params.reason']);
  });

  it('S33 a target outside the action namespaces or kinds is refused naming the field', () => {
    expect(
      refusals(admitAction(request({ target: { namespace: 'payments' } }), entry(restart), policy))[
        'target.namespace'
      ],
    ).toBe('action restart acts only in namespaces prod, staging-*, not payments');
    expect(admitAction(request({ target: { namespace: 'staging-eu' } }), entry(restart), policy).kind).toBe(
      'allowed',
    );
    expect(
      refusals(admitAction(request({ target: { kind: 'StatefulSet' } }), entry(restart), policy))[
        'target.kind'
      ],
    ).toBe('action restart acts on Deployment, not StatefulSet');
    const clusterScoped = parseRemediationRequest({
      signal: { fingerprint: 'f1' },
      target: { kind: 'Deployment', name: 'api' },
      action: { id: 'restart' },
    });
    expect(refusals(admitAction(clusterScoped, entry(restart), policy))['target.namespace']).toMatch(
      /cluster-scoped/,
    );
  });

  it('S33 an uncatalogued action is refused unless the policy allows it, then runs as asked', () => {
    const r = refusals(admitAction(request({ action: { pipeline: 'anything' } }), undefined, policy));
    expect(r['action.id']).toBe(
      'no RemediationAction restart in remediation-system, and uncatalogued actions are not allowed (policy allowUncataloguedActions: false)',
    );
    const open = { ...policy, allowUncataloguedActions: true };
    const allowed = admitAction(
      request({ action: { pipeline: 'anything', params: { x: '1' } } }),
      undefined,
      open,
    );
    expect(allowed).toMatchObject({
      kind: 'allowed',
      action: { catalogued: false, pipeline: 'anything', params: { x: '1' } },
    });
    expect(refusals(admitAction(request(), undefined, open))['action.pipeline']).toMatch(/is required/);
  });

  it('refuses another pipeline, another ServiceAccount, an unknown param, a longer timeout — all at once', () => {
    const r = refusals(
      admitAction(
        request({
          action: {
            pipeline: 'delete-pod',
            serviceAccountName: 'cluster-admin',
            params: { force: 'true' },
            timeout: '1h',
          },
        }),
        entry(restart),
        policy,
      ),
    );
    expect(Object.keys(r).sort()).toEqual([
      'action.params.force',
      'action.pipeline',
      'action.serviceAccountName',
      'action.timeout',
    ]);
    expect(r['action.params.force']).toBe('is not a parameter of action restart (allowed: reason)');
    expect(r['action.timeout']).toBe("must be at most 10m (the action's timeout), got 1h");
    // The same pipeline and ServiceAccount, and a shorter timeout, are fine.
    const same = request({
      action: { pipeline: 'restart-deployment', serviceAccountName: 'remediation-restart', timeout: '1m' },
    });
    expect(admitAction(same, entry(restart), policy)).toMatchObject({
      kind: 'allowed',
      action: { timeoutMs: 60_000 },
    });
  });

  it('a required param the caller leaves out is refused', () => {
    const spec = entry({
      pipeline: 'scale',
      params: [{ name: 'replicas', pattern: '[0-9]+', required: true }],
    });
    expect(refusals(admitAction(request(), spec, policy))['action.params.replicas']).toBe(
      'is required by action restart',
    );
    expect(admitAction(request({ action: { params: { replicas: '3' } } }), spec, policy).kind).toBe(
      'allowed',
    );
    expect(
      entry({ pipeline: 'p', params: [{ name: 'x', required: true, default: 'a' }] }).problems[0]?.field,
    ).toBe('spec.params.0.required');
  });

  it('enum and maxLength rules', () => {
    const spec = entry({
      pipeline: 'scale',
      params: [
        { name: 'replicas', enum: ['1', '2', '3'] },
        { name: 'note', maxLength: 3 },
      ],
    });
    const r = refusals(
      admitAction(request({ action: { params: { replicas: '100', note: 'long' } } }), spec, policy),
    );
    expect(r['action.params.replicas']).toBe('must be one of "1", "2", "3", got "100"');
    expect(r['action.params.note']).toBe('must be at most 3 characters, got 4');
  });

  it('an invalid catalog object is refused, never half-applied', () => {
    const bad = entry({
      pipeline: 'p',
      params: [{ name: 'x', pattern: '(' }],
      targetParams: { y: '{{ target.uid }}' },
    });
    expect(bad.spec).toBeNull();
    expect(bad.problems.map((p) => p.field).sort()).toEqual(['spec.params.0.pattern', 'spec.targetParams.y']);
    expect(refusals(admitAction(request(), bad, policy))['action.id']).toMatch(
      /is invalid .*spec\.params\.0\.pattern/,
    );
  });

  it('a catalog object whose default breaks its own rule, or a param also in targetParams, is invalid', () => {
    expect(
      entry({ pipeline: 'p', params: [{ name: 'x', enum: ['a'], default: 'b' }] }).problems[0]?.field,
    ).toBe('spec.params.0.default');
    expect(
      entry({ pipeline: 'p', targetParams: { name: '{{ target.name }}' }, params: [{ name: 'name' }] })
        .problems[0]?.field,
    ).toBe('spec.params.0.name');
  });

  it('refuses an action asking for a capability this worker lacks instead of running without it', () => {
    for (const extra of [
      { mode: 'DryRun' },
      { approval: { required: true } },
      { verification: { window: '5m' } },
    ]) {
      const r = refusals(admitAction(request(), entry({ ...restart, ...extra }), policy));
      expect(r['action.id']).toMatch(/which this worker does not implement/);
    }
  });
});

describe('admitAction: modes (S37)', () => {
  it('S37 policy mode Shadow makes every admitted action a dry run, catalogued or not', () => {
    const shadow = {
      ...policy,
      shadow: true,
      allowUncataloguedActions: true,
      supports: { ...policy.supports, dryRun: true },
    };
    expect(admitAction(request(), entry(restart), shadow)).toMatchObject({
      kind: 'allowed',
      action: { mode: 'DryRun' },
    });
    expect(admitAction(request({ action: { pipeline: 'p' } }), undefined, shadow)).toMatchObject({
      kind: 'allowed',
      action: { mode: 'DryRun', catalogued: false },
    });
    expect(admitAction(request(), entry(restart), { ...shadow, shadow: false })).toMatchObject({
      action: { mode: 'Enforce' },
    });
  });
});

describe('templates and globs', () => {
  it('renders every target variable and keeps literal text', () => {
    const target = { cluster: 'eu1', namespace: 'prod', kind: 'Deployment', name: 'api' };
    expect(
      renderTemplate('{{ target.cluster }}/{{target.namespace}}/{{ target.kind }}/{{ target.name }}', target),
    ).toEqual({
      value: 'eu1/prod/Deployment/api',
    });
    expect(renderTemplate('{{ target.namespace }}', { kind: 'Node', name: 'n1' })).toEqual({
      missing: 'namespace',
    });
  });

  it('globs: * any run, ? one character, everything else literal', () => {
    expect(globMatches('staging-*', 'staging-eu')).toBe(true);
    expect(globMatches('staging-*', 'prod')).toBe(false);
    expect(globMatches('p?od', 'prod')).toBe(true);
    expect(globMatches('prod', 'prod-2')).toBe(false);
    expect(globMatches('*', 'anything')).toBe(true);
  });
});

// ------------------------------------------------------------------------------------ properties

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
const kindArb = fc.constantFrom('Deployment', 'Pod', 'StatefulSet', 'Node');
/** Values an attacker would try: shell, flags, other targets, empty, long. */
const hostileValue = fc.oneof(
  fc.constantFrom(
    '--all',
    '-A',
    '"; rm -rf / #',
    '$(id)',
    '`id`',
    'prod/Deployment/other',
    '',
    ' ',
    '*',
    '../..',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 4000, maxLength: 4096 }),
);
const paramName = fc.constantFrom(
  'namespace',
  'name',
  'kind',
  'cluster',
  'reason',
  'replicas',
  'force',
  'target',
);

const specArb = fc.record({
  pipeline: label,
  serviceAccountName: fc.option(label, { nil: undefined }),
  targets: fc.record(
    {
      kinds: fc.array(kindArb, { maxLength: 2 }),
      namespaces: fc.array(
        fc.oneof(
          label,
          label.map((l) => `${l}*`),
          fc.constant('*'),
        ),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  ),
  targetParams: fc.dictionary(
    fc.constantFrom('namespace', 'name', 'kind', 'target'),
    fc.constantFrom(
      '{{ target.namespace }}',
      '{{ target.name }}',
      '{{ target.kind }}',
      '{{ target.namespace }}/{{ target.name }}',
    ),
    { maxKeys: 3 },
  ),
  params: fc.uniqueArray(
    fc.record(
      {
        name: fc.constantFrom('reason', 'replicas', 'force'),
        pattern: fc.constantFrom('[a-z]*', '[0-9]{1,2}', '.*'),
        maxLength: fc.integer({ min: 0, max: 50 }),
      },
      { requiredKeys: ['name'] },
    ),
    { selector: (p) => p.name, maxLength: 3 },
  ),
});

const requestArb = fc.record({
  target: fc.record({ namespace: fc.option(label, { nil: undefined }), kind: kindArb, name: label }),
  pipeline: fc.option(label, { nil: undefined }),
  serviceAccountName: fc.option(label, { nil: undefined }),
  params: fc.dictionary(paramName, hostileValue, { maxKeys: 5 }),
});

describe('properties: no request escapes the catalog', () => {
  it('target-derived params always equal the rendering of the target, and the ServiceAccount is the catalog one', () => {
    fc.assert(
      fc.property(specArb, requestArb, fc.boolean(), (rawSpec, raw, allowUncatalogued) => {
        const catalogEntry = entry(rawSpec);
        fc.pre(catalogEntry.spec !== null);
        const spec = catalogEntry.spec!;
        let req;
        try {
          req = parseRemediationRequest({
            signal: { fingerprint: 'f' },
            target: raw.target,
            action: {
              id: 'a',
              ...(raw.pipeline ? { pipeline: raw.pipeline } : {}),
              ...(raw.serviceAccountName ? { serviceAccountName: raw.serviceAccountName } : {}),
              params: raw.params,
            },
          });
        } catch {
          return; // refused by the request schema already
        }
        const admission = admitAction(req, catalogEntry, {
          ...policy,
          allowUncataloguedActions: allowUncatalogued,
        });
        if (admission.kind === 'refused') {
          expect(admission.errors.length).toBeGreaterThan(0);
          return;
        }
        const { action } = admission;
        expect(action.catalogued).toBe(true);
        expect(action.pipeline).toBe(spec.pipeline);
        expect(action.serviceAccountName).toBe(spec.serviceAccountName ?? null);
        for (const [name, template] of Object.entries(spec.targetParams)) {
          expect(action.params[name]).toBe((renderTemplate(template, req.target) as { value: string }).value);
        }
        // Every other param is one the catalog allows, and obeys its rule.
        for (const [name, value] of Object.entries(action.params)) {
          if (name in spec.targetParams) continue;
          const rule = spec.params.find((p) => p.name === name);
          expect(rule).toBeDefined();
          if (rule!.maxLength !== undefined) expect(value.length).toBeLessThanOrEqual(rule!.maxLength);
          if (rule!.pattern !== undefined)
            expect(new RegExp(`^(?:${rule!.pattern})$`, 'u').test(value)).toBe(true);
        }
        if (spec.targets.kinds) expect(spec.targets.kinds).toContain(req.target.kind);
        if (spec.targets.namespaces)
          expect(spec.targets.namespaces.some((g) => globMatches(g, req.target.namespace!))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('without a catalog entry nothing runs unless the policy allows uncatalogued actions', () => {
    fc.assert(
      fc.property(requestArb, (raw) => {
        let req;
        try {
          req = parseRemediationRequest({
            signal: { fingerprint: 'f' },
            target: raw.target,
            action: { id: 'a', pipeline: raw.pipeline ?? 'p', params: raw.params },
          });
        } catch {
          return;
        }
        expect(admitAction(req, undefined, policy).kind).toBe('refused');
      }),
      { numRuns: 500 },
    );
  });
});

describe('createRefusal: the last gate before a real create, on the action as the catalog says now', () => {
  const action = (over: Partial<ResolvedAction>): ResolvedAction => ({
    id: 'restart',
    catalogued: true,
    resourceVersion: '7',
    pipeline: 'restart',
    params: {},
    serviceAccountName: null,
    timeoutMs: null,
    mode: 'Enforce',
    approval: { required: false, forbidSelfApproval: false },
    verification: null,
    runWhenResolved: false,
    ...over,
  });
  it.each([
    ['Enforce, no approval needed', action({}), false, null],
    [
      'Enforce, approval needed and held',
      action({ approval: { required: true, forbidSelfApproval: false } }),
      true,
      null,
    ],
    [
      'Enforce, approval needed, none held',
      action({ approval: { required: true, forbidSelfApproval: false } }),
      false,
      /now requires an approval/,
    ],
    ['DryRun (even with an approval held)', action({ mode: 'DryRun' }), true, /is now a dry run/],
  ])('%s', (_, resolved, holdsApproval, refusal) => {
    const answer = createRefusal(resolved, holdsApproval);
    if (refusal === null) expect(answer).toBeNull();
    else expect(answer).toMatch(refusal);
  });
});
