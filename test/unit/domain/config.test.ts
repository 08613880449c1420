import { InvalidConfigError, defaultPolicyConfig, parsePolicyConfig } from '../../../src/domain/config';

function fieldsOf(input: unknown): string[] {
  try {
    parsePolicyConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidConfigError);
    return (e as InvalidConfigError).errors.map((err) => `${err.field}:${err.rule}`);
  }
  throw new Error('expected the config to be rejected');
}

describe('parsePolicyConfig (docs/behaviour.md#defaults)', () => {
  it('when nothing is configured then the documented defaults apply, in ms', () => {
    const expected = {
      consecutiveFailureThreshold: 3,
      fingerprintCooldownMs: 3_600_000,
      recentlyRemediatedCooldownMs: 300_000,
      backoff: { baseMs: 60_000, maxMs: 600_000, jitter: 0.1 },
      maxConsecutiveFailures: 5,
      defaultDeadlineMs: 3_600_000,
      pipelineRunTimeoutMs: 1_800_000,
      lockRecheckIntervalMs: 30_000,
      maxDeadlineMs: 86_400_000,
      watchGraceMs: 300_000,
      continueAsNewAfterEvents: 2_000,
      orphanRecheckIntervalMs: 5_000,
      // Secure default: only catalogued actions run.
      allowUncataloguedActions: false,
      mode: 'Enforce',
      budgets: [],
    };
    expect(defaultPolicyConfig).toEqual(expected);
    expect(parsePolicyConfig({})).toEqual(expected);
    expect(parsePolicyConfig(undefined)).toEqual(expected);
  });

  it('when every knob is set then each is resolved (strings and ms both accepted)', () => {
    expect(
      parsePolicyConfig({
        consecutiveFailureThreshold: 2,
        fingerprintCooldown: '2h',
        recentlyRemediatedCooldown: 90_000,
        backoff: { base: '30s', max: '1h', jitter: 0 },
        maxConsecutiveFailures: 10,
        defaultDeadline: '1h30m',
        pipelineRunTimeout: '45m',
        lockRecheckInterval: '5s',
        maxDeadline: '96h',
        watchGrace: '2m',
        continueAsNewAfterEvents: 500,
        orphanRecheckInterval: 1_000,
        allowUncataloguedActions: true,
        mode: 'Shadow',
        budgets: [{ scope: 'namespace', maxConcurrent: 1, maxPerWindow: { count: 2, window: '1m' } }],
      }),
    ).toEqual({
      consecutiveFailureThreshold: 2,
      fingerprintCooldownMs: 7_200_000,
      recentlyRemediatedCooldownMs: 90_000,
      backoff: { baseMs: 30_000, maxMs: 3_600_000, jitter: 0 },
      maxConsecutiveFailures: 10,
      defaultDeadlineMs: 5_400_000,
      pipelineRunTimeoutMs: 2_700_000,
      lockRecheckIntervalMs: 5_000,
      maxDeadlineMs: 345_600_000,
      watchGraceMs: 120_000,
      continueAsNewAfterEvents: 500,
      orphanRecheckIntervalMs: 1_000,
      allowUncataloguedActions: true,
      mode: 'Shadow',
      budgets: [
        {
          name: 'namespace',
          scope: 'namespace',
          match: { actions: null, namespaces: null },
          maxConcurrent: 1,
          maxPerWindow: { count: 2, windowMs: 60_000 },
        },
      ],
    });
  });

  describe('budgets', () => {
    it('when a budget names its match then it is kept, with the name defaulting to the scope', () => {
      expect(
        parsePolicyConfig({
          budgets: [
            {
              scope: 'namespace+action',
              match: { actions: ['restart'], namespaces: ['prod-*'] },
              maxConcurrent: 2,
            },
            { name: 'cluster-rate', scope: 'cluster', maxPerWindow: { count: 10, window: '1h' } },
          ],
        }).budgets,
      ).toEqual([
        {
          name: 'namespace-action',
          scope: 'namespace+action',
          match: { actions: ['restart'], namespaces: ['prod-*'] },
          maxConcurrent: 2,
          maxPerWindow: null,
        },
        {
          name: 'cluster-rate',
          scope: 'cluster',
          match: { actions: null, namespaces: null },
          maxConcurrent: null,
          maxPerWindow: { count: 10, windowMs: 3_600_000 },
        },
      ]);
    });

    it.each<[string, unknown, string[]]>([
      ['no limit at all', [{ scope: 'cluster' }], ['budgets.0.maxConcurrent:limitRequired']],
      ['an unknown scope', [{ scope: 'team', maxConcurrent: 1 }], ['budgets.0.scope:enum']],
      ['a zero maxConcurrent', [{ scope: 'cluster', maxConcurrent: 0 }], ['budgets.0.maxConcurrent:min']],
      [
        'a malformed window',
        [{ scope: 'cluster', maxPerWindow: { count: 1, window: 'soon' } }],
        ['budgets.0.maxPerWindow.window:duration'],
      ],
      [
        'two budgets of one scope without names',
        [
          { scope: 'namespace', maxConcurrent: 1 },
          { scope: 'namespace', maxPerWindow: { count: 5, window: '1h' } },
        ],
        ['budgets.1.name:unique'],
      ],
      [
        'a name kubectl could not show',
        [{ name: 'Prod_Budget', scope: 'cluster', maxConcurrent: 1 }],
        ['budgets.0.name:pattern'],
      ],
    ])('when a budget has %s then the field is named', (_, budgets, fields) => {
      expect(fieldsOf({ budgets })).toEqual(fields);
    });
  });

  it('when only part of backoff is set then the rest keeps its defaults', () => {
    expect(parsePolicyConfig({ backoff: { max: '20m' } }).backoff).toEqual({
      baseMs: 60_000,
      maxMs: 1_200_000,
      jitter: 0.1,
    });
  });

  it('when a key is unknown then the error names it', () => {
    expect(fieldsOf({ fingerprintCoolDown: '1h', backoff: { factor: 2 } }).sort()).toEqual([
      'backoff.factor:unknownKey',
      'fingerprintCoolDown:unknownKey',
    ]);
  });

  it('when a duration is malformed then the dotted field and the expected form are in the message', () => {
    expect(() => parsePolicyConfig({ backoff: { base: '1 minute' } })).toThrow(
      'backoff.base: expected a duration like 90s, 1m, 1h or milliseconds',
    );
  });

  it('when backoff.base exceeds backoff.max then backoff.base is rejected', () => {
    expect(fieldsOf({ backoff: { base: '20m' } })).toEqual(['backoff.base:baseNotAboveMax']);
  });

  it.each<[string, unknown, string]>([
    ['jitter above 1', { backoff: { jitter: 1.5 } }, 'backoff.jitter:max'],
    ['jitter below 0', { backoff: { jitter: -0.1 } }, 'backoff.jitter:min'],
    ['a fractional threshold', { consecutiveFailureThreshold: 2.5 }, 'consecutiveFailureThreshold:type'],
    ['a zero threshold', { maxConsecutiveFailures: 0 }, 'maxConsecutiveFailures:min'],
    ['a zero lock re-check interval', { lockRecheckInterval: 0 }, 'lockRecheckInterval:min'],
    ['a zero default deadline', { defaultDeadline: '0s' }, 'defaultDeadline:min'],
    [
      'a threshold given as a string',
      { consecutiveFailureThreshold: '3' },
      'consecutiveFailureThreshold:type',
    ],
  ])('when given %s then it is rejected', (_title, input, expected) => {
    expect(fieldsOf(input)).toEqual([expected]);
  });

  it('when a cooldown is 0 then it is accepted (disables that block)', () => {
    expect(parsePolicyConfig({ recentlyRemediatedCooldown: 0 }).recentlyRemediatedCooldownMs).toBe(0);
  });
});
