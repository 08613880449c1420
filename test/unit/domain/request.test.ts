import fc from 'fast-check';
import {
  createRequestParser,
  InvalidRequestError,
  fingerprintKey,
  parseRemediationRequest,
  parseTargetKey,
  resolveDeadline,
  targetKey,
  type FieldError,
} from '../../../src/domain/request';

const valid = () => ({
  signal: { fingerprint: 'KubePodCrashLooping:abc', name: 'KubePodCrashLooping', labels: { team: 'core' } },
  target: { kind: 'Deployment', name: 'api', namespace: 'prod' },
  action: { id: 'restart-deployment', pipeline: 'restart-deployment', params: { replicas: '3' } },
});

function errorsOf(input: unknown): FieldError[] {
  try {
    parseRemediationRequest(input);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError);
    return (e as InvalidRequestError).errors;
  }
  throw new Error('expected the request to be rejected');
}

const fields = (errors: FieldError[]) => errors.map((e) => `${e.field}:${e.rule}`);

describe('parseRemediationRequest (docs/behaviour.md#requests-and-keys)', () => {
  it('when the request is minimal then defaults are applied', () => {
    const r = parseRemediationRequest({
      signal: { fingerprint: 'f' },
      target: { kind: 'Node', name: 'node-1' },
      action: { id: 'cordon', pipeline: 'cordon' },
    });
    expect(r.signal).toEqual({ fingerprint: 'f', name: 'f', severity: 'warning', labels: {} });
    expect(r.action.params).toEqual({});
    expect(r.deadline).toBeUndefined();
    expect(r.id).toBeUndefined();
  });

  it('when durations are given then they are normalised to ms and the result re-parses to itself', () => {
    const r = parseRemediationRequest({
      ...valid(),
      id: 'alert-1',
      deadline: '30m',
      action: { ...valid().action, timeout: '10m' },
    });
    expect(r.action.timeout).toBe(600_000);
    expect(r.deadline).toEqual({ kind: 'after', ms: 1_800_000 });
    expect(parseRemediationRequest(r)).toEqual(r);
  });

  it('when the deadline is an ISO date-time then it is kept as an absolute instant', () => {
    const r = parseRemediationRequest({ ...valid(), deadline: '2026-03-01T10:00:00+01:00' });
    expect(r.deadline).toEqual({ kind: 'at', at: '2026-03-01T09:00:00.000Z' });
  });

  it.each(['tomorrow', '2026-03-01T10:00:00', -5, '1d'])(
    'S2: when the deadline is %p then it is rejected',
    (deadline) => {
      expect(fields(errorsOf({ ...valid(), deadline }))).toEqual(['deadline:format']);
    },
  );

  it.each<[string, unknown, string]>([
    ['zero', '0s', 'min'],
    ['zero milliseconds', 0, 'min'],
    ['zero in the normalised form', { kind: 'after', ms: 0 }, 'min'],
    ['past the 30-day cap', '9999h', 'max'],
    ['one millisecond past the cap', 30 * 86_400_000 + 1, 'max'],
    ['past the cap in the normalised form', { kind: 'after', ms: 30 * 86_400_000 + 1 }, 'max'],
  ])('S2: when the relative deadline is %s then deadline is rejected (%p)', (_title, deadline, rule) => {
    const errors = errorsOf({ ...valid(), deadline });
    expect(fields(errors)).toEqual([`deadline:${rule}`]);
    expect(errors[0]?.message).toMatch(rule === 'min' ? /future/ : /30d|720h/);
  });

  it('when the relative deadline is within (0, 30 days] then it is accepted', () => {
    expect(parseRemediationRequest({ ...valid(), deadline: '1ms' }).deadline).toEqual({
      kind: 'after',
      ms: 1,
    });
    expect(parseRemediationRequest({ ...valid(), deadline: '720h' }).deadline).toEqual({
      kind: 'after',
      ms: 30 * 86_400_000,
    });
  });

  describe('an absolute deadline, checked against the clock when one is given', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    it.each<[string, string, string]>([
      ['in the past', '2026-03-01T11:59:59Z', 'min'],
      ['exactly now', '2026-03-01T12:00:00Z', 'min'],
      ['more than 30 days ahead', '2026-03-31T12:00:01Z', 'max'],
    ])('S2: when it is %s then deadline is rejected (%p)', (_title, deadline, rule) => {
      let errors: FieldError[] = [];
      try {
        parseRemediationRequest({ ...valid(), deadline }, { now });
      } catch (e) {
        errors = (e as InvalidRequestError).errors;
      }
      expect(fields(errors)).toEqual([`deadline:${rule}`]);
    });

    it('a kept parser (createRequestParser) reads the clock of each parse, and a failed parse leaves no clock behind', () => {
      const parse = createRequestParser();
      const deadline = '2026-03-01T12:00:00Z';
      expect(() => parse({ ...valid(), deadline }, { now })).toThrow(InvalidRequestError);
      expect(parse({ ...valid(), deadline }, { now: now - 60_000 }).deadline).toEqual({
        kind: 'at',
        at: '2026-03-01T12:00:00.000Z',
      });
      expect(() => parse({ ...valid(), deadline }, { now })).toThrow(InvalidRequestError);
      expect(parse({ ...valid(), deadline }).deadline).toEqual({
        kind: 'at',
        at: '2026-03-01T12:00:00.000Z',
      });
      // The same answers as the per-call form.
      expect(parse({ ...valid(), deadline: '30m' })).toEqual(
        parseRemediationRequest({ ...valid(), deadline: '30m' }),
      );
    });

    it('when it is in the future within 30 days then it is accepted; without a clock it is not checked', () => {
      expect(
        parseRemediationRequest({ ...valid(), deadline: '2026-03-31T12:00:00Z' }, { now }).deadline,
      ).toEqual({ kind: 'at', at: '2026-03-31T12:00:00.000Z' });
      // The workflow re-validates its input with no clock: an instant that has passed since is its business.
      expect(parseRemediationRequest({ ...valid(), deadline: '2020-01-01T00:00:00Z' }).deadline).toEqual({
        kind: 'at',
        at: '2020-01-01T00:00:00.000Z',
      });
    });
  });

  it.each<[string, unknown, string]>([
    ['zero (which would disable the PipelineRun timeout)', '0s', 'min'],
    ['zero milliseconds', 0, 'min'],
    ['under a second', '999ms', 'min'],
    ['over 24h', '24h1s', 'max'],
  ])('S2: when action.timeout is %s then it is rejected', (_title, timeout, rule) => {
    const errors = errorsOf({ ...valid(), action: { ...valid().action, timeout } });
    expect(fields(errors)).toEqual([`action.timeout:${rule}`]);
  });

  it('when action.timeout is 1s or 24h then it is accepted', () => {
    for (const [timeout, ms] of [
      ['1s', 1000],
      ['24h', 86_400_000],
    ] as const) {
      expect(
        parseRemediationRequest({ ...valid(), action: { ...valid().action, timeout } }).action.timeout,
      ).toBe(ms);
    }
  });

  it('S2: when Kind is lower-case then target.kind is rejected with the pattern rule', () => {
    const errors = errorsOf({ ...valid(), target: { kind: 'deployment', name: 'api', namespace: 'prod' } });
    expect(fields(errors)).toEqual(['target.kind:pattern']);
    expect(errors[0]?.message).toContain('CamelCase');
  });

  it('S2: when the fingerprint is missing then signal.fingerprint is required', () => {
    expect(fields(errorsOf({ ...valid(), signal: { name: 'x' } }))).toEqual(['signal.fingerprint:required']);
  });

  it('S2: when a param value is oversize then action.params.<name> names the limit', () => {
    const errors = errorsOf({
      ...valid(),
      action: { ...valid().action, params: { script: 'x'.repeat(4097) } },
    });
    expect(fields(errors)).toEqual(['action.params.script:maxLength']);
    expect(errors[0]?.message).toContain('4096');
  });

  it('S2: when the error is thrown then its message lists every field and rule', () => {
    const bad = { signal: {}, target: { kind: 'pod', name: 'A' }, action: { id: 'x', pipeline: 'p' } };
    expect(() => parseRemediationRequest(bad)).toThrow(
      /signal\.fingerprint.*required.*target\.kind.*pattern.*target\.name.*pattern/,
    );
  });

  it.each<[string, unknown, string[]]>([
    ['fingerprint has a space', { signal: { fingerprint: 'a b' } }, ['signal.fingerprint:pattern']],
    [
      'fingerprint is 129 chars',
      { signal: { fingerprint: 'a'.repeat(129) } },
      ['signal.fingerprint:maxLength'],
    ],
    ['severity is unknown', { signal: { fingerprint: 'f', severity: 'page' } }, ['signal.severity:enum']],
    ['target name has upper case', { target: { kind: 'Pod', name: 'Api' } }, ['target.name:pattern']],
    [
      'target name is 254 chars',
      { target: { kind: 'Pod', name: 'a'.repeat(254) } },
      ['target.name:maxLength'],
    ],
    [
      'namespace has a dot',
      { target: { kind: 'Pod', name: 'a', namespace: 'a.b' } },
      ['target.namespace:pattern'],
    ],
    [
      'namespace is 64 chars',
      { target: { kind: 'Pod', name: 'a', namespace: 'a'.repeat(64) } },
      ['target.namespace:maxLength'],
    ],
    ['cluster has "::"', { target: { kind: 'Pod', name: 'a', cluster: 'a::b' } }, ['target.cluster:pattern']],
    ['action id is upper case', { action: { id: 'Restart', pipeline: 'p' } }, ['action.id:pattern']],
    [
      'param name starts with a digit',
      { action: { id: 'r', pipeline: 'p', params: { '1x': 'v' } } },
      ['action.params.1x:pattern'],
    ],
    [
      'param value is not a string',
      { action: { id: 'r', pipeline: 'p', params: { n: 3 } } },
      ['action.params.n:type'],
    ],
    [
      'timeout is not a duration',
      { action: { id: 'r', pipeline: 'p', timeout: '1d' } },
      ['action.timeout:duration'],
    ],
    ['id has a slash', { id: 'a/b' }, ['id:pattern']],
    ['an unknown field is present', { dryRun: true }, ['dryRun:unknownKey']],
  ])('S2: when %s then it is rejected', (_title, patch, expected) => {
    const base = valid() as Record<string, unknown>;
    const input = { ...base, ...(patch as Record<string, unknown>) };
    expect(fields(errorsOf(input))).toEqual(expected);
  });

  it('S2: when there are 65 params then action.params reports maxEntries', () => {
    const params = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, 'v']));
    expect(fields(errorsOf({ ...valid(), action: { id: 'r', pipeline: 'p', params } }))).toEqual([
      'action.params:maxEntries',
    ]);
  });

  it('S2: when param values total more than 32768 chars then action.params reports maxTotalLength', () => {
    const params = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`p${i}`, 'x'.repeat(4000)]));
    expect(fields(errorsOf({ ...valid(), action: { id: 'r', pipeline: 'p', params } }))).toEqual([
      'action.params:maxTotalLength',
    ]);
  });

  it('S2: when the input is not an object then (root) is reported', () => {
    expect(fields(errorsOf('start please'))).toEqual(['(root):type']);
  });
});

describe('targetKey / parseTargetKey', () => {
  it.each([
    [{ kind: 'Deployment', name: 'api', namespace: 'prod' }, 'prod/Deployment/api'],
    [{ kind: 'Node', name: 'node-1' }, 'Node/node-1'],
    [{ kind: 'Deployment', name: 'api', namespace: 'prod', cluster: 'eu-1' }, 'eu-1::prod/Deployment/api'],
    [{ kind: 'ClusterRole', name: 'system.admin', cluster: 'eu-1' }, 'eu-1::ClusterRole/system.admin'],
  ])('when the target is %j then the key is %p and parses back', (target, key) => {
    expect(targetKey(target)).toBe(key);
    expect(parseTargetKey(key)).toEqual(target);
  });

  it('when keys differ only by Kind case then they are different keys, and the lower-case one is invalid', () => {
    expect(targetKey({ kind: 'Deployment', name: 'api', namespace: 'prod' })).not.toBe('prod/deployment/api');
    expect(() => parseTargetKey('prod/deployment/api')).toThrow(InvalidRequestError);
  });

  it.each(['', 'api', 'a/b/c/d', 'prod/Deployment/', '::Node/n', 'prod/Deployment/API'])(
    'when the key is %p then it throws InvalidRequestError on field target',
    (key) => {
      try {
        parseTargetKey(key);
        throw new Error('expected a rejection');
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidRequestError);
        expect((e as InvalidRequestError).errors.every((err) => err.field === 'target')).toBe(true);
      }
    },
  );

  it('round-trips every valid target', () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
    const target = fc.record(
      { kind: fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,12}$/), name: label, namespace: label, cluster: label },
      { requiredKeys: ['kind', 'name'] },
    );
    fc.assert(fc.property(target, (t) => expect(parseTargetKey(targetKey(t))).toEqual(t)));
  });
});

describe('fingerprintKey (docs/behaviour.md#requests-and-keys)', () => {
  it('when targets are in different namespaces then the same fingerprint gives different keys (S4/S6)', () => {
    const a = fingerprintKey({ signal: { fingerprint: 'F' }, target: { namespace: 'team-a' } });
    const b = fingerprintKey({ signal: { fingerprint: 'F' }, target: { namespace: 'team-b' } });
    expect([a, b]).toEqual(['team-a/F', 'team-b/F']);
  });

  it('when the target is cluster-scoped or in another cluster then the key says so', () => {
    expect(fingerprintKey({ signal: { fingerprint: 'F' }, target: {} })).toBe('/F');
    expect(
      fingerprintKey({ signal: { fingerprint: 'F' }, target: { namespace: 'ns', cluster: 'eu-1' } }),
    ).toBe('eu-1::ns/F');
  });
});

describe('resolveDeadline', () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  it('when absent then the default applies; relative and absolute forms resolve to epoch ms', () => {
    expect(resolveDeadline(undefined, start, 3_600_000)).toBe(start + 3_600_000);
    expect(resolveDeadline({ kind: 'after', ms: 60_000 }, start, 3_600_000)).toBe(start + 60_000);
    expect(resolveDeadline({ kind: 'at', at: '2026-01-01T00:30:00.000Z' }, start, 3_600_000)).toBe(
      start + 1_800_000,
    );
  });
});
