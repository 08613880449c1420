import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import {
  RemediationClosedError,
  TargetNotFoundError,
  type RemediationSummary,
  type TargetView,
} from '../../../src/client';
import { UnreachableError } from '../../../src/cli/errors';
import { run, type CliClient, type ConnectOptions } from '../../../src/cli/run';
import type { RemediationStatus } from '../../../src/temporal-contract';

const NOW = new Date('2026-03-01T12:04:10Z');

function status(overrides: Partial<RemediationStatus> = {}): RemediationStatus {
  return {
    id: 'r1',
    phase: 'Pending',
    blockReason: null,
    blockKind: null,
    blockedUntil: null,
    message: '',
    reason: null,
    duplicateOf: null,
    duplicates: 0,
    attempts: 0,
    pipelineRuns: [],
    target: 'prod/Deployment/api',
    fingerprint: 'fp',
    action: 'restart',
    deadline: '2026-03-01T13:04:10.000Z',
    failure: null,
    override: null,
    timeline: [],
    ...overrides,
  };
}

/** Every stdout line parsed as one JSON value (a `--json --wait` stream). */
function jsonLines(stdout: string): unknown[] {
  expect(stdout.endsWith('\n')).toBe(true);
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

function unexpected(name: string) {
  return () => Promise.reject(new Error(`unexpected call: ${name}`));
}

/** A fake client typed against RemediationClient's methods; unstubbed calls fail the test. */
function fakeClient(impl: Partial<CliClient> = {}) {
  return {
    start: jest.fn(impl.start ?? unexpected('start')),
    status: jest.fn(impl.status ?? unexpected('status')),
    wait: jest.fn(impl.wait ?? unexpected('wait')),
    list: jest.fn(impl.list ?? unexpected('list')),
    target: jest.fn(impl.target ?? unexpected('target')),
    clear: jest.fn(impl.clear ?? unexpected('clear')),
    override: jest.fn(impl.override ?? unexpected('override')),
    cancel: jest.fn(impl.cancel ?? unexpected('cancel')),
    actions: jest.fn(impl.actions ?? unexpected('actions')),
    approve: jest.fn(impl.approve ?? unexpected('approve')),
    reject: jest.fn(impl.reject ?? unexpected('reject')),
    resolve: jest.fn(impl.resolve ?? unexpected('resolve')),
    close: jest.fn(() => Promise.resolve()),
  } satisfies CliClient;
}

async function cli(
  argv: string[],
  client = fakeClient(),
  env: Record<string, string> = {},
  cwd = '/nonexistent',
  userInfo: () => { username: string } = () => ({ username: 'os-user' }),
) {
  let stdout = '';
  let stderr = '';
  const connect = jest.fn((_options: ConnectOptions) => Promise.resolve<CliClient>(client));
  const code = await run(
    argv,
    {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env,
      cwd,
      now: () => NOW,
      userInfo,
    },
    { connect },
  );
  return { code, stdout, stderr, connect, client };
}

const validStart = [
  'start',
  '--fingerprint',
  'fp',
  '--target',
  'prod/Deployment/api',
  '--action',
  'restart',
  '--pipeline',
  'restart-deployment',
];

function parseError(stderr: string): {
  code: string;
  message: string;
  fields: { field: string; rule: string }[];
} {
  return (
    JSON.parse(stderr) as {
      error: { code: string; message: string; fields: { field: string; rule: string }[] };
    }
  ).error;
}

describe('help', () => {
  it('when --help then lists every command and exits 0', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    for (const c of ['start', 'status', 'list', 'target', 'clear', 'override', 'cancel'])
      expect(stdout).toContain(c);
  });

  it('when start/clear/override --help then the bounds and defaults are documented', async () => {
    const start = (await cli(['start', '--help'])).stdout;
    expect(start).toContain('a duration > 0');
    expect(start).toContain('at most 720h (30 days) ahead');
    expect(start).toContain('1s to 24h');
    expect(start).toContain('terminated, timed out');
    for (const command of ['clear', 'override']) {
      expect((await cli([command, '--help'])).stdout).toContain(
        'default: the OS user name, else $USER; not empty',
      );
    }
    expect((await cli(['clear', '--help'])).stdout).toContain('no ledger record');
  });

  it.each(['start', 'status', 'list', 'target', 'clear', 'override', 'cancel'])(
    'when %s --help then prints its usage without connecting',
    async (command) => {
      const { code, stdout, connect } = await cli([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: remediate ${command}`));
      expect(connect).not.toHaveBeenCalled();
    },
  );

  it('when no command then prints usage on stderr and exits 2', async () => {
    const { code, stdout, stderr } = await cli([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('Usage: remediate');
  });
});

describe('S2: start rejects invalid requests before connecting', () => {
  it.each([
    ['when the Kind is lower-case', 'target.kind', 'pattern', ['--target', 'prod/deployment/api']],
    ['when the fingerprint is missing', 'signal.fingerprint', 'required', ['--fingerprint', undefined]],
    [
      'when a param value is oversize',
      'action.params.big',
      'maxLength',
      ['--param', `big=${'x'.repeat(5000)}`],
    ],
    ['when the deadline is neither a duration nor a date-time', 'deadline', 'format', ['--deadline', 'soon']],
    ['when the severity is unknown', 'signal.severity', 'enum', ['--severity', 'loud']],
  ])('%s then exits 2 naming %s (%s) and starts nothing', async (_title, field, rule, [flag, value]) => {
    const argv = withFlag(validStart, flag as string, value);
    const text = await cli(argv);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain(`${field}: `);
    expect(text.connect).not.toHaveBeenCalled();

    const json = await cli([...argv, '--json']);
    expect(json.code).toBe(2);
    expect(json.stdout).toBe('');
    const error = parseError(json.stderr);
    expect(error.code).toBe('invalid');
    expect(error.fields).toContainEqual(expect.objectContaining({ field, rule }));
    expect(json.client.start).not.toHaveBeenCalled();
  });

  it.each([
    ['when the deadline is 0s', 'deadline', 'min', ['--deadline', '0s']],
    ['when the deadline is past the 30-day cap', 'deadline', 'max', ['--deadline', '9999h']],
    ['when the deadline instant has passed', 'deadline', 'min', ['--deadline', '2026-03-01T12:00:00Z']],
    ['when the deadline instant is now', 'deadline', 'min', ['--deadline', NOW.toISOString()]],
    [
      'when the deadline instant is over 30 days ahead',
      'deadline',
      'max',
      ['--deadline', '2026-04-01T00:00:00Z'],
    ],
    ['when the timeout is 0s (no PipelineRun timeout)', 'action.timeout', 'min', ['--timeout', '0s']],
    ['when the timeout is over 24h', 'action.timeout', 'max', ['--timeout', '25h']],
  ])('%s then exits 2 naming %s (%s) and starts nothing', async (_title, field, rule, [flag, value]) => {
    const argv = withFlag(validStart, flag as string, value);
    const text = await cli(argv);
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(new RegExp(`^  ${field.replace('.', '\\.')}: .*\\(${flag}\\)$`, 'm'));
    expect(text.connect).not.toHaveBeenCalled();

    const json = await cli([...argv, '--json']);
    expect(json.code).toBe(2);
    expect(parseError(json.stderr).fields).toEqual([expect.objectContaining({ field, rule })]);
    expect(json.connect).not.toHaveBeenCalled();
  });

  it('when the deadline is a future instant within 30 days then it is accepted', async () => {
    const client = fakeClient({
      start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: true }),
    });
    const { code } = await cli([...validStart, '--deadline', '2026-03-01T13:00:00Z'], client);
    expect(code).toBe(0);
  });

  it('when several fields are wrong then every one is printed', async () => {
    const { code, stderr } = await cli(['start', '--target', 'prod/deployment/API_', '--json']);
    expect(code).toBe(2);
    const fields = parseError(stderr).fields.map((f) => f.field);
    expect(fields).toEqual(
      expect.arrayContaining(['signal.fingerprint', 'target.kind', 'target.name', 'action.id']),
    );
    // The pipeline is optional: a catalogued action names its own (the worker decides, see S33).
    expect(fields).not.toContain('action.pipeline');
  });
});

function withFlag(argv: string[], flag: string, value: string | undefined): string[] {
  const i = argv.indexOf(flag);
  if (i < 0) return value === undefined ? argv : [...argv, flag, value];
  return value === undefined
    ? [...argv.slice(0, i), ...argv.slice(i + 2)]
    : [...argv.slice(0, i + 1), value, ...argv.slice(i + 2)];
}

describe('bad usage exits 2 naming the field, without connecting', () => {
  it.each([
    ['an unknown flag', [...validStart, '--bogus'], '--bogus', 'usage'],
    ['a flag without its value', ['status', 'r1', '--address'], '--address', 'usage'],
    ['a --param without =', [...validStart, '--param', 'novalue'], '--param', 'usage'],
    ['a --param given twice', [...validStart, '--param', 'a=1', '--param', 'a=2'], '--param', 'usage'],
    ['an invalid target key', ['target', 'prod/Deployment'], 'target', 'invalid'],
    ['a target key with too many parts', ['clear', 'a/b/c/d', '--reason', 'x'], 'target', 'invalid'],
    ['an empty --reason on clear', ['clear', 'prod/Deployment/api', '--reason', ' '], 'reason', 'invalid'],
    ['no --reason on override', ['override', 'r1'], 'reason', 'invalid'],
    ['an unknown --phase', ['list', '--phase', 'Running'], 'phase', 'invalid'],
    ['a non-numeric --limit', ['list', '--limit', 'ten'], 'limit', 'invalid'],
    ['a missing ID', ['status'], 'ID', 'usage'],
    ['an extra argument', ['cancel', 'r1', 'r2'], 'ID', 'usage'],
    ['an unknown command', ['restart'], 'command', 'usage'],
  ])('when given %s', async (_title, argv, field, code) => {
    const result = await cli([...argv, '--json']);
    expect(result.code).toBe(2);
    const error = parseError(result.stderr);
    expect(error).toMatchObject({ code });
    expect(error.fields.map((f) => f.field)).toContain(field);
    expect(result.connect).not.toHaveBeenCalled();
  });

  it('when text mode then the message goes to stderr with a usage hint', async () => {
    const { code, stdout, stderr } = await cli([...validStart, '--param', 'novalue']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--param expects key=value, got "novalue"');
  });
});

describe('start', () => {
  it('when valid then sends the request built from the flags and prints the id', async () => {
    const client = fakeClient({
      start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: true }),
    });
    const argv = [
      ...validStart,
      '--param',
      'replicas=3',
      '--param',
      'note=a=b',
      '--label',
      'team=web',
      '--id',
      'r1',
    ];
    const { code, stdout } = await cli([...argv, '--deadline', '30m', '--timeout', '10m'], client);
    expect(code).toBe(0);
    expect(stdout).toBe('r1\n');
    expect(client.start).toHaveBeenCalledWith(
      expect.objectContaining({
        id: 'r1',
        signal: expect.objectContaining({ fingerprint: 'fp', labels: { team: 'web' } }) as unknown,
        target: { namespace: 'prod', kind: 'Deployment', name: 'api' },
        action: expect.objectContaining({
          id: 'restart',
          pipeline: 'restart-deployment',
          params: { replicas: '3', note: 'a=b' },
          timeout: '10m',
        }) as unknown,
        deadline: '30m',
      }),
    );
    expect(client.close).toHaveBeenCalled();
  });

  it('when --json then prints {id, workflowId, started}', async () => {
    const client = fakeClient({
      start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: false }),
    });
    const { code, stdout } = await cli([...validStart, '--id', 'r1', '--json'], client);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ id: 'r1', workflowId: 'remediation-r1', started: false });
  });

  it('when the id already exists then says so in text mode', async () => {
    const client = fakeClient({
      start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: false }),
    });
    const { code, stdout, stderr } = await cli([...validStart, '--id', 'r1'], client);
    expect(code).toBe(0);
    expect(stdout).toBe('r1\n');
    expect(stderr).toContain('already exists');
  });

  it('when a cluster-scoped target is given then the target has no namespace', async () => {
    const client = fakeClient({
      start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: true }),
    });
    await cli(withFlag(validStart, '--target', 'edge::Node/worker-1'), client);
    expect(client.start).toHaveBeenCalledWith(
      expect.objectContaining({ target: { kind: 'Node', name: 'worker-1', cluster: 'edge' } }),
    );
  });
});

describe('start --wait', () => {
  const progress = [
    status({ phase: 'Routing', message: 'checking routing rules' }),
    status({
      phase: 'Blocked',
      blockReason: 'ExponentialBackoff',
      blockKind: 'temporary',
      blockedUntil: '2026-03-01T12:05:10.000Z',
      message: 'backing off after 1 failure',
    }),
    status({
      phase: 'Executing',
      attempts: 1,
      pipelineRuns: ['rem-r1-1'],
      message: 'PipelineRun rem-r1-1 running',
    }),
  ];

  function waitingClient(final: RemediationStatus) {
    return fakeClient({
      start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: true }),
      wait: (_id, onChange = () => {}) => {
        for (const s of [...progress, final]) onChange(s);
        return Promise.resolve(final);
      },
    });
  }

  it('when the remediation completes then prints one line per change and exits 0', async () => {
    const final = status({
      phase: 'Completed',
      reason: 'Succeeded',
      attempts: 1,
      pipelineRuns: ['rem-r1-1'],
      message: 'done',
    });
    const { code, stdout } = await cli([...validStart, '--wait'], waitingClient(final));
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('r1');
    expect(lines.slice(1, 5)).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d Routing — checking routing rules$/),
      expect.stringMatching(
        /^\d\d:\d\d:\d\d Blocked ExponentialBackoff until \d\d:\d\d:\d\d — backing off after 1 failure$/,
      ),
      expect.stringMatching(/^\d\d:\d\d:\d\d Executing \(attempt 1\) — PipelineRun rem-r1-1 running$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d Completed Succeeded — done$/),
    ]);
    expect(lines[5]).toBe('r1 Completed: Succeeded');
  });

  it.each(['Failed', 'Skipped', 'Cancelled'] as const)(
    'when the remediation ends %s then exits 1',
    async (phase) => {
      const final = status({
        phase,
        reason: phase === 'Skipped' ? 'DuplicateInProgress' : 'ExecutionFailed',
      });
      const { code, stdout } = await cli([...validStart, '--wait'], waitingClient(final));
      expect(code).toBe(1);
      expect(stdout).toContain(`r1 ${phase}: ${final.reason}`);
    },
  );

  describe('when the workflow closes without a final phase', () => {
    const last = status({
      phase: 'Blocked',
      blockReason: 'PreviousExecutionFailed',
      blockKind: 'manual',
      message: 'waiting for an operator',
    });
    // Built in the tests: a suite-level construction would hide which tests fail without the class.
    const closed = () =>
      new RemediationClosedError(
        'r1',
        'remediation-r1',
        'run-1',
        'TERMINATED',
        'stuck, cleaning up by hand',
        last,
      );
    const terminatedClient = () =>
      fakeClient({
        start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: true }),
        wait: (_id, onChange = () => {}) => {
          onChange(last);
          return Promise.reject(closed());
        },
      });

    it('then exits 1 printing what Temporal says', async () => {
      const { code, stdout } = await cli([...validStart, '--wait'], terminatedClient());
      expect(code).toBe(1);
      const lines = stdout.trimEnd().split('\n');
      expect(lines.slice(-2)).toEqual([
        'remediation r1 was terminated (Temporal status TERMINATED): stuck, cleaning up by hand',
        'last status: Blocked PreviousExecutionFailed — waiting for an operator',
      ]);
    });

    it('then with --json the last JSON line says how it closed', async () => {
      const { code, stdout } = await cli([...validStart, '--wait', '--json'], terminatedClient());
      expect(code).toBe(1);
      const lines = jsonLines(stdout);
      expect(lines).toHaveLength(3);
      expect(lines[1]).toEqual(last);
      expect(lines[2]).toEqual({
        id: 'r1',
        workflowId: 'remediation-r1',
        runId: 'run-1',
        closed: true,
        temporalStatus: 'TERMINATED',
        reason: 'stuck, cleaning up by hand',
        message: 'remediation r1 was terminated (Temporal status TERMINATED): stuck, cleaning up by hand',
        lastStatus: last,
      });
    });
  });

  it('when --json then stdout is JSON lines: the start, one status per change, the final status last', async () => {
    const final = status({
      phase: 'Failed',
      reason: 'ExecutionFailed',
      attempts: 1,
      failure: {
        category: 'StepFailed',
        wasExecutionFailure: true,
        reason: 'Failed',
        message: 'step exited 1',
      },
    });
    const { code, stdout } = await cli([...validStart, '--wait', '--json'], waitingClient(final));
    expect(code).toBe(1);
    expect(jsonLines(stdout)).toEqual([
      { id: 'r1', workflowId: 'remediation-r1', started: true },
      ...progress,
      final,
    ]);
  });

  it('when --json and the final status was already streamed then it is not repeated', async () => {
    const final = status({ phase: 'Completed', reason: 'Succeeded' });
    const client = fakeClient({
      start: () => Promise.resolve({ id: 'r1', workflowId: 'remediation-r1', started: true }),
      wait: (_id, onChange = () => {}) => {
        onChange(final);
        return Promise.resolve(final);
      },
    });
    const { code, stdout } = await cli([...validStart, '--wait', '--json'], client);
    expect(code).toBe(0);
    expect(jsonLines(stdout)).toEqual([{ id: 'r1', workflowId: 'remediation-r1', started: true }, final]);
  });
});

describe('status --wait', () => {
  const executing = status({ phase: 'Executing', attempts: 1, message: 'PipelineRun rem-r1-1 running' });
  const completed = status({ phase: 'Completed', reason: 'Succeeded', attempts: 1 });
  const following = (final: RemediationStatus) =>
    fakeClient({
      wait: (_id, onChange = () => {}) => {
        onChange(executing);
        onChange(final);
        return Promise.resolve(final);
      },
    });

  it('when --json then streams one status object per line and exits 0 on Completed', async () => {
    const client = following(completed);
    const { code, stdout } = await cli(['status', 'r1', '--wait', '--json'], client);
    expect(code).toBe(0);
    expect(client.wait).toHaveBeenCalledWith('r1', expect.any(Function));
    expect(client.status).not.toHaveBeenCalled();
    expect(jsonLines(stdout)).toEqual([executing, completed]);
  });

  it('when text then prints progress lines and the outcome, exit 1 unless Completed', async () => {
    const failed = status({ phase: 'Failed', reason: 'ExecutionFailed', attempts: 1 });
    const { code, stdout } = await cli(['status', 'r1', '--wait'], following(failed));
    expect(code).toBe(1);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d Executing \(attempt 1\) — PipelineRun rem-r1-1 running$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d Failed ExecutionFailed$/),
      'r1 Failed: ExecutionFailed',
    ]);
  });
});

describe('status', () => {
  const blocked = status({
    phase: 'Blocked',
    blockReason: 'ExponentialBackoff',
    blockKind: 'temporary',
    blockedUntil: '2026-03-01T12:06:00.000Z',
    message: 'backing off',
    attempts: 1,
    pipelineRuns: ['rem-r1-1'],
    failure: {
      category: 'ImagePullFailed',
      wasExecutionFailure: false,
      reason: 'TaskRunImagePullFailed',
      message: 'no such image',
    },
    timeline: [
      { at: '2026-03-01T12:04:00.000Z', phase: 'Blocked', event: 'blocked', message: 'backing off' },
    ],
  });

  it('when --json then prints the status object as the workflow reports it', async () => {
    const client = fakeClient({ status: () => Promise.resolve(blocked) });
    const { code, stdout } = await cli(['status', 'r1', '--json'], client);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(blocked);
    expect(client.status).toHaveBeenCalledWith('r1');
  });

  it('when text then shows the block with its relative end, attempts, runs and failure', async () => {
    const { code, stdout } = await cli(
      ['status', 'r1'],
      fakeClient({ status: () => Promise.resolve(blocked) }),
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/Blocked by\s+ExponentialBackoff \(temporary\)/);
    expect(stdout).toContain('2026-03-01T12:06:00.000Z (in 1m50s)');
    expect(stdout).toMatch(/Attempts\s+1/);
    expect(stdout).toMatch(/PipelineRuns\s+rem-r1-1/);
    expect(stdout).toContain('ImagePullFailed (TaskRunImagePullFailed, pre-execution): no such image');
    expect(stdout).toContain('Timeline');
  });

  it('when the remediation does not exist then exits 1', async () => {
    const client = fakeClient({
      status: () =>
        Promise.reject(new WorkflowNotFoundError('workflow not found', 'remediation-nope', undefined)),
    });
    const { code, stderr } = await cli(['status', 'nope', '--json'], client);
    expect(code).toBe(1);
    expect(parseError(stderr)).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('nope') as unknown,
    });
  });
});

describe('status with a status query (the prebuilt CLI: a connection for the one query)', () => {
  const executing = status({ phase: 'Executing', attempts: 1, message: 'PipelineRun rem-r1-1 running' });

  async function withQuery(
    argv: string[],
    queryStatus: (options: ConnectOptions, id: string) => Promise<RemediationStatus>,
  ) {
    let stdout = '';
    let stderr = '';
    const client = fakeClient({ status: unexpected('status'), wait: () => Promise.resolve(executing) });
    const connect = jest.fn((_options: ConnectOptions) => Promise.resolve<CliClient>(client));
    const query = jest.fn(queryStatus);
    const code = await run(
      argv,
      {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        env: { TEMPORAL_ADDRESS: 'env:7233', REMEDIATION_TASK_QUEUE: 'q' },
        cwd: '/nonexistent',
        now: () => NOW,
      },
      { connect, queryStatus: query },
    );
    return { code, stdout, stderr, connect, query };
  }

  it('when status ID then it asks the query alone, with the resolved settings, and prints what the client path prints', async () => {
    const quick = await withQuery(['status', 'r1'], () => Promise.resolve(executing));
    const viaClient = await cli(['status', 'r1'], fakeClient({ status: () => Promise.resolve(executing) }), {
      TEMPORAL_ADDRESS: 'env:7233',
      REMEDIATION_TASK_QUEUE: 'q',
    });
    expect(quick.code).toBe(0);
    expect(quick.connect).not.toHaveBeenCalled();
    expect(quick.query).toHaveBeenCalledWith(
      expect.objectContaining({ address: 'env:7233', namespace: 'default', taskQueue: 'q' }),
      'r1',
    );
    expect(quick.stdout).toBe(viaClient.stdout);
    const json = await withQuery(['--json', 'status', 'r1'], () => Promise.resolve(executing));
    expect(JSON.parse(json.stdout)).toEqual(executing);
  });

  it('when --wait then it follows through the client instead', async () => {
    const { code, connect, query } = await withQuery(['status', 'r1', '--wait'], unexpected('queryStatus'));
    expect(code).toBe(1); // Executing is not Completed: the fake wait returns it as final
    expect(connect).toHaveBeenCalled();
    expect(query).not.toHaveBeenCalled();
  });

  it('when the query fails then the error is reported as the client path reports it', async () => {
    const { code, stderr } = await withQuery(['status', 'nope', '--json'], () =>
      Promise.reject(new WorkflowNotFoundError('workflow not found', 'remediation-nope', undefined)),
    );
    expect(code).toBe(1);
    expect(parseError(stderr)).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('nope') as unknown,
    });
  });
});

describe('--version', () => {
  const { version } = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
    version: string;
  };

  it.each([[['--version']], [['version']], [['status', 'r1', '--version']]])(
    'when %j then prints the version without connecting',
    async (argv) => {
      const { code, stdout, connect } = await cli(argv);
      expect(code).toBe(0);
      // From source the commit is unknown (the build writes it into the bundle).
      expect(stdout).toBe(`remediate ${version} node ${process.version}\n`);
      expect(connect).not.toHaveBeenCalled();
    },
  );

  it('when --json then prints {version, commit, node}', async () => {
    const { stdout } = await cli(['--version', '--json']);
    expect(JSON.parse(stdout)).toEqual({ version, commit: null, node: process.version });
  });
});

describe('list', () => {
  const summary = (id: string, startTime: string): RemediationSummary => ({
    id,
    workflowId: `remediation-${id}`,
    status: 'RUNNING',
    phase: 'Blocked',
    blockReason: 'ResourceBusy',
    target: 'prod/Deployment/api',
    fingerprint: 'fp',
    action: 'restart',
    startTime,
    closeTime: null,
  });

  it('when filtered then passes the filter and prints newest first', async () => {
    const client = fakeClient({
      list: () =>
        Promise.resolve([
          summary('old', '2026-03-01T10:00:00.000Z'),
          summary('new', '2026-03-01T11:00:00.000Z'),
        ]),
    });
    const argv = [
      'list',
      '--phase',
      'Blocked',
      '--target',
      'prod/Deployment/api',
      '--fingerprint',
      'fp',
      '--limit',
      '5',
    ];
    const { code, stdout } = await cli([...argv, '--json'], client);
    expect(code).toBe(0);
    expect(client.list).toHaveBeenCalledWith({
      phase: 'Blocked',
      target: 'prod/Deployment/api',
      fingerprint: 'fp',
      limit: 5,
    });
    expect((JSON.parse(stdout) as RemediationSummary[]).map((r) => r.id)).toEqual(['new', 'old']);
  });

  it('when text then prints a table with a header and the AGE last', async () => {
    const client = fakeClient({ list: () => Promise.resolve([summary('r1', '2026-03-01T10:00:00.000Z')]) });
    const { stdout } = await cli(['list'], client);
    const [header, row] = stdout.split('\n');
    expect(header).toMatch(/^ID\s+PHASE\s+BLOCK\s+TARGET\s+ACTION\s+AGE$/);
    // NOW is 12:04:10, started 10:00:00: 2h4m as kubectl prints it.
    expect(row).toMatch(/^r1\s+Blocked\s+ResourceBusy\s+prod\/Deployment\/api\s+restart\s+124m$/);
    expect(stdout).not.toContain('FINGERPRINT');
  });

  it('when -o wide then adds the fingerprint, start and close times', async () => {
    const closed = { ...summary('r2', '2026-03-01T09:00:00.000Z'), closeTime: '2026-03-01T09:01:00.000Z' };
    const client = fakeClient({ list: () => Promise.resolve([closed]) });
    const { code, stdout } = await cli(['list', '-o', 'wide'], client);
    expect(code).toBe(0);
    const [header, row] = stdout.split('\n');
    expect(header).toMatch(/^ID\s+PHASE\s+BLOCK\s+TARGET\s+ACTION\s+AGE\s+FINGERPRINT\s+STARTED\s+CLOSED$/);
    expect(row).toMatch(/\s3h4m\s+fp\s+2026-03-01T09:00:00.000Z\s+2026-03-01T09:01:00.000Z$/);
  });

  it.each([['-o', 'json'], ['--output=json'], ['-ojson']])(
    'when %s then prints JSON as --json does',
    async (...flags) => {
      const client = fakeClient({ list: () => Promise.resolve([summary('r1', '2026-03-01T10:00:00.000Z')]) });
      const { code, stdout } = await cli(['list', ...flags], client);
      expect(code).toBe(0);
      expect((JSON.parse(stdout) as RemediationSummary[]).map((r) => r.id)).toEqual(['r1']);
    },
  );

  it('when -o is not wide or json then exits 2 naming --output, before connecting', async () => {
    const { code, stderr, connect } = await cli(['list', '-o', 'yaml', '--json']);
    expect(code).toBe(2);
    expect(parseError(stderr)).toMatchObject({
      code: 'usage',
      fields: [{ field: '--output', rule: 'enum' }],
    });
    expect(connect).not.toHaveBeenCalled();
  });
});

describe('target', () => {
  const free: TargetView = {
    key: 'prod/Deployment/api',
    consecutiveFailures: 2,
    nextAllowedExecution: '2026-03-01T12:10:00.000Z',
    manualReviewRequired: false,
    manualReview: null,
    lock: null,
    waiters: [],
    fencingToken: 7,
    lastSuccess: null,
    lastFailure: {
      category: 'ImagePullFailed',
      wasExecutionFailure: false,
      reason: 'TaskRunImagePullFailed',
      message: 'x',
      pipelineRun: 'rem-r1-1',
      remediationId: 'r1',
      at: '2026-03-01T12:00:00.000Z',
    },
    audit: [],
    auditDropped: 0,
  };

  it('when --json then prints the target view with lock null when free', async () => {
    const client = fakeClient({ target: () => Promise.resolve(free) });
    const { code, stdout, connect } = await cli(
      ['target', 'prod/Deployment/api', '--json', '--kubeconfig', '/k'],
      client,
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(free);
    expect((JSON.parse(stdout) as TargetView).lock).toBeNull();
    expect(connect).toHaveBeenCalledWith(
      expect.objectContaining({ ledger: { kubeconfig: '/k', namespace: undefined } }),
    );
  });

  it('when text then shows the lock as free and the backoff', async () => {
    const { stdout } = await cli(
      ['target', 'prod/Deployment/api'],
      fakeClient({ target: () => Promise.resolve(free) }),
    );
    expect(stdout).toMatch(/Lock\s+free/);
    expect(stdout).toContain('2026-03-01T12:10:00.000Z (in 5m50s)');
  });

  const entries = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      action: 'override' as const,
      by: 'alice',
      reason: `reason ${i + 1}`,
      at: '2026-03-01T12:00:00.000Z',
      remediationId: `r${i + 1}`,
    }));

  it('when the trail dropped entries then --json says how many and the text says so', async () => {
    const view: TargetView = { ...free, audit: entries(50), auditDropped: 12 };
    const client = () => fakeClient({ target: () => Promise.resolve(view) });
    const json = await cli(['target', 'prod/Deployment/api', '--json'], client());
    expect(JSON.parse(json.stdout)).toMatchObject({ auditDropped: 12 });
    const { stdout } = await cli(['target', 'prod/Deployment/api'], client());
    expect(stdout).toContain('Audit (last 5 of 50 kept; 12 older entries dropped):');
    expect(stdout).toContain('override by alice: reason 50');
    expect(stdout).not.toContain('reason 45');
  });

  it('when nothing was dropped then the audit header says only what is shown', async () => {
    const few = await cli(
      ['target', 'prod/Deployment/api'],
      fakeClient({ target: () => Promise.resolve({ ...free, audit: entries(2) }) }),
    );
    expect(few.stdout).toMatch(/^Audit:$/m);
    const one = await cli(
      ['target', 'prod/Deployment/api'],
      fakeClient({ target: () => Promise.resolve({ ...free, audit: entries(3), auditDropped: 1 }) }),
    );
    expect(one.stdout).toContain('Audit (1 older entry dropped):');
  });
});

describe('clear, override, cancel', () => {
  const clearing = () =>
    fakeClient({
      clear: (target) =>
        Promise.resolve({
          target,
          cleared: { manualReviewRequired: true, consecutiveFailures: 1, nextAllowedExecution: null },
          woken: ['r2'],
        }),
    });
  const overriding = () =>
    fakeClient({
      override: () => Promise.resolve({ accepted: true, skips: 'ExponentialBackoff', message: 'ok' }),
    });

  it('when clear has no --by then the OS user is recorded, and the ledger is checked', async () => {
    const client = clearing();
    const { code, stdout, connect } = await cli(
      ['clear', 'prod/Deployment/api', '--reason', 'fixed the image'],
      client,
      { USER: 'from-env' },
      '/nonexistent',
      () => ({ username: 'alice' }),
    );
    expect(code).toBe(0);
    expect(client.clear).toHaveBeenCalledWith(
      'prod/Deployment/api',
      'fixed the image',
      'alice',
      expect.anything(),
    );
    expect(stdout).toContain('woke 1 waiting remediation(s): r2');
    expect(connect).toHaveBeenCalledWith(expect.objectContaining({ ledger: expect.anything() as unknown }));
  });

  it('when the OS user cannot be read then $USER is recorded (clear and override)', async () => {
    const noPasswd = () => {
      throw new Error('ENOENT: no passwd entry');
    };
    const clear = clearing();
    await cli(
      ['clear', 'prod/Deployment/api', '--reason', 'x'],
      clear,
      { USER: 'bob' },
      '/nonexistent',
      noPasswd,
    );
    expect(clear.clear).toHaveBeenCalledWith('prod/Deployment/api', 'x', 'bob', expect.anything());
    const override = overriding();
    await cli(['override', 'r1', '--reason', 'x'], override, { USER: 'bob' }, '/nonexistent', noPasswd);
    expect(override.override).toHaveBeenCalledWith('r1', 'x', 'bob');
  });

  it('when override has no --by then the OS user is recorded, never "unknown"', async () => {
    const client = overriding();
    await cli(['override', 'r1', '--reason', 'x'], client, {}, '/nonexistent', () => ({ username: 'carol' }));
    expect(client.override).toHaveBeenCalledWith('r1', 'x', 'carol');
  });

  it.each([
    ['clear', ['clear', 'prod/Deployment/api', '--reason', 'x']],
    ['override', ['override', 'r1', '--reason', 'x']],
  ])('when %s gets an empty --by, or nobody can be named, then exits 2 naming --by', async (_c, argv) => {
    for (const by of ['', '  ']) {
      const result = await cli([...argv, '--by', by, '--json']);
      expect(result.code).toBe(2);
      expect(parseError(result.stderr).fields.map((f) => f.field)).toEqual(['--by']);
      expect(result.connect).not.toHaveBeenCalled();
    }
    const nobody = await cli(argv, fakeClient(), {}, '/nonexistent', () => ({ username: '' }));
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('--by');
    expect(nobody.connect).not.toHaveBeenCalled();
  });

  it.each([
    ['clear', ['clear', 'prod/Deployment/api']],
    ['override', ['override', 'r1']],
  ])(
    'when %s gets a --by or --reason over its bound then exits 2 naming it, before connecting',
    async (_c, argv) => {
      const tooLongBy = await cli([...argv, '--reason', 'x', '--by', 'b'.repeat(257), '--json']);
      expect(tooLongBy.code).toBe(2);
      expect(parseError(tooLongBy.stderr).fields).toEqual([
        { field: 'by', rule: 'maxLength', message: 'must be at most 256 characters, got 257' },
      ]);
      expect(tooLongBy.connect).not.toHaveBeenCalled();
      const tooLongReason = await cli([...argv, '--reason', 'r'.repeat(1025), '--by', 'alice']);
      expect(tooLongReason.code).toBe(2);
      expect(tooLongReason.stderr).toContain('reason: must be at most 1024 characters, got 1025 (--reason)');
      expect(tooLongReason.connect).not.toHaveBeenCalled();
    },
  );

  it('when the target has no ledger record then clear exits 1 saying so, naming where it looked', async () => {
    const client = fakeClient({
      clear: (target) => Promise.reject(new TargetNotFoundError(target, 'client')),
    });
    const text = await cli(['clear', 'prod/Deployment/apj', '--reason', 'x', '--by', 'alice'], client);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('target prod/Deployment/apj has no ledger record: nothing to clear');
    expect(text.stderr).toContain('namespace remediation-system');
    const json = await cli(
      ['clear', 'prod/Deployment/apj', '--reason', 'x', '--by', 'alice', '--json'],
      client,
    );
    expect(json.code).toBe(1);
    expect(json.stdout).toBe('');
    expect(parseError(json.stderr)).toMatchObject({ code: 'not_found' });
  });

  it('when the worker refuses the clear as TargetNotFoundError then exits 1 with its message', async () => {
    const refusal = 'target prod/Deployment/apj has no ledger record: nothing to clear';
    const client = fakeClient({
      clear: (target) => Promise.reject(new TargetNotFoundError(target, 'worker', refusal)),
    });
    const json = await cli(['clear', 'prod/Deployment/apj', '--reason', 'x', '--by', 'a', '--json'], client);
    expect(json.code).toBe(1);
    expect(parseError(json.stderr)).toEqual({ code: 'not_found', message: refusal, fields: [] });
  });

  it('when the ledger cannot be read then clear warns and leaves the check to the worker', async () => {
    const client = fakeClient({
      clear: (target, _reason, _by, options) => {
        options?.onLedgerUnreadable?.(new Error('connect ECONNREFUSED'));
        return Promise.resolve({
          target,
          cleared: { manualReviewRequired: true, consecutiveFailures: 0, nextAllowedExecution: null },
          woken: [],
        });
      },
    });
    const { code, stderr } = await cli(
      ['clear', 'prod/Deployment/api', '--reason', 'x', '--by', 'a'],
      client,
    );
    expect(code).toBe(0);
    expect(stderr).toContain('could not read the ledger to check prod/Deployment/api (connect ECONNREFUSED)');
  });

  it('when the override is accepted then prints its message', async () => {
    const client = fakeClient({
      override: () =>
        Promise.resolve({ accepted: true, skips: 'ExponentialBackoff', message: 'override accepted' }),
    });
    const { code, stdout } = await cli(['override', 'r1', '--reason', 'incident', '--by', 'bob'], client);
    expect(code).toBe(0);
    expect(client.override).toHaveBeenCalledWith('r1', 'incident', 'bob');
    expect(stdout).toBe('override accepted\n');
  });

  it('when the workflow refuses the override then exits 1 with its reason', async () => {
    const refusal = 'override refused: PreviousExecutionFailed is a manual block';
    const client = fakeClient({
      override: () =>
        Promise.reject(
          new WorkflowUpdateFailedError(
            'Workflow Update failed',
            ApplicationFailure.create({ message: refusal }),
          ),
        ),
    });
    const text = await cli(['override', 'r1', '--reason', 'incident'], client);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain(refusal);
    const json = await cli(['override', 'r1', '--reason', 'incident', '--json'], client);
    expect(json.code).toBe(1);
    expect(parseError(json.stderr)).toEqual({ code: 'refused', message: refusal, fields: [] });
  });

  it('when cancel succeeds then reports the request', async () => {
    const client = fakeClient({ cancel: () => Promise.resolve() });
    const { code, stdout } = await cli(['cancel', 'r1', '--reason', 'wrong target', '--json'], client);
    expect(code).toBe(0);
    expect(client.cancel).toHaveBeenCalledWith('r1', 'wrong target');
    expect(JSON.parse(stdout)).toEqual({ id: 'r1', cancelRequested: true, reason: 'wrong target' });
  });
});

describe('connection settings', () => {
  const stackDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'remediate-cli-'));
    mkdirSync(join(dir, '.stack'));
    const stack = {
      temporal: { address: '127.0.0.1:9999', namespace: 'stack-ns', uiUrl: '', cli: '' },
      kubeconfig: '/stack/kubeconfig',
      executionNamespace: 'remediation-runs',
      controlNamespace: 'control',
    };
    writeFileSync(join(dir, '.stack', 'stack.json'), JSON.stringify(stack));
    return dir;
  };
  const target = (): CliClient['target'] => () => Promise.reject(new Error('stop'));

  it.each([
    [
      'nothing is set',
      {},
      [],
      { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'remediation' },
      false,
    ],
    ['only .stack/stack.json exists', {}, [], { address: '127.0.0.1:9999', namespace: 'stack-ns' }, true],
    [
      'env is set',
      { TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'env-ns', REMEDIATION_TASK_QUEUE: 'q' },
      [],
      { address: 'env:7233', namespace: 'env-ns', taskQueue: 'q' },
      true,
    ],
    [
      'flags are given',
      { TEMPORAL_ADDRESS: 'env:7233' },
      ['--address', 'flag:7233', '--namespace', 'flag-ns', '--task-queue', 'fq'],
      { address: 'flag:7233', namespace: 'flag-ns', taskQueue: 'fq' },
      true,
    ],
  ])('when %s', async (_title, env, flags, expected, withStack) => {
    const { connect } = await cli(
      ['status', 'r1', ...flags],
      fakeClient({ status: unexpected('status') }),
      env,
      withStack ? stackDir() : '/nonexistent',
    );
    expect(connect).toHaveBeenCalledWith(expect.objectContaining(expected));
  });

  it('when reading a target then the ledger comes from KUBECONFIG, else the stack', async () => {
    const dir = stackDir();
    const fromStack = await cli(['target', 'prod/Deployment/api'], fakeClient({ target: target() }), {}, dir);
    expect(fromStack.connect).toHaveBeenCalledWith(
      expect.objectContaining({ ledger: { kubeconfig: '/stack/kubeconfig', namespace: 'control' } }),
    );
    const fromEnv = await cli(
      ['target', 'prod/Deployment/api'],
      fakeClient({ target: target() }),
      { KUBECONFIG: '/env' },
      dir,
    );
    expect(fromEnv.connect).toHaveBeenCalledWith(
      expect.objectContaining({ ledger: { kubeconfig: '/env', namespace: 'control' } }),
    );
  });

  it('when global flags come before the command then they apply', async () => {
    const { code, stdout } = await cli(
      ['--json', '--address', 'x:1', 'cancel', 'r1'],
      fakeClient({ cancel: () => Promise.resolve() }),
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ id: 'r1' });
  });

  it('when Temporal is unreachable then exits 1', async () => {
    let stderr = '';
    const code = await run(
      ['status', 'r1'],
      {
        stdout: { write: () => true },
        stderr: { write: (s: string) => (stderr += s) },
        env: {},
        cwd: '/nonexistent',
      },
      {
        connect: (o) =>
          Promise.reject(new UnreachableError(o.address, o.namespace, new Error('connection refused'))),
      },
    );
    expect(code).toBe(1);
    expect(stderr).toContain('cannot reach Temporal at 127.0.0.1:7233');
  });
});
