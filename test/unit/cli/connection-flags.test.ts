/**
 * The CLI's connection flags: --profile / --config-file choose the Temporal profile as the
 * `temporal` CLI does, flags beat the environment and the profile, unusable settings exit 2
 * naming the setting, and --context / KUBE_CONTEXT reach the ledger's kubeconfig.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type CliClient, type ConnectOptions } from '../../../src/cli/run';

const dir = mkdtempSync(join(tmpdir(), 'remediate-connection-'));
const config = join(dir, 'temporal.toml');
writeFileSync(
  config,
  [
    '[profile.default]',
    'address = "file-default:7233"',
    '',
    '[profile.cloud]',
    'address = "eu-west-1.aws.api.temporal.io:7233"',
    'namespace = "remediation.a1b2c"',
    'api_key = "profile-secret"',
    '',
  ].join('\n'),
);

/** A client whose every call fails: these tests only look at how it was connected. */
const stopClient = {
  status: () => Promise.reject(new Error('stop')),
  target: () => Promise.reject(new Error('stop')),
  close: () => Promise.resolve(),
} as unknown as CliClient;

async function cli(argv: string[], env: Record<string, string> = {}, cwd = '/nonexistent') {
  let stdout = '';
  let stderr = '';
  const connect = jest.fn((_options: ConnectOptions) => Promise.resolve(stopClient));
  const code = await run(
    argv,
    {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env,
      cwd,
    },
    { connect },
  );
  const options = connect.mock.calls[0]?.[0];
  return { code, stdout, stderr, connect, options };
}

describe('Temporal profile flags', () => {
  it('when --profile and --config-file are given then the profile is used, its API key turning TLS on', async () => {
    const { options } = await cli(['status', 'r1', '--profile', 'cloud', '--config-file', config]);
    expect(options).toMatchObject({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      namespace: 'remediation.a1b2c',
      connection: { address: 'eu-west-1.aws.api.temporal.io:7233', apiKey: 'profile-secret', tls: true },
    });
  });

  it('when TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE are set then they choose the profile', async () => {
    const { options } = await cli(['status', 'r1'], {
      TEMPORAL_PROFILE: 'cloud',
      TEMPORAL_CONFIG_FILE: config,
    });
    expect(options?.namespace).toBe('remediation.a1b2c');
  });

  it('when --address is given then it beats the profile, which still gives the rest', async () => {
    const { options } = await cli(['--address', 'flag:7233', 'status', 'r1'], {
      TEMPORAL_PROFILE: 'cloud',
      TEMPORAL_CONFIG_FILE: config,
    });
    expect(options).toMatchObject({
      address: 'flag:7233',
      namespace: 'remediation.a1b2c',
      connection: { address: 'flag:7233', apiKey: 'profile-secret' },
    });
  });

  it('when the default profile gives an address then it beats .stack/stack.json', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'remediate-stack-'));
    mkdirSync(join(cwd, '.stack'));
    writeFileSync(
      join(cwd, '.stack', 'stack.json'),
      JSON.stringify({ temporal: { address: '127.0.0.1:9999', namespace: 'stack-ns' } }),
    );
    const { options } = await cli(['status', 'r1'], { TEMPORAL_CONFIG_FILE: config }, cwd);
    // The address from the profile, the namespace (which the profile does not set) from the stack.
    expect(options).toMatchObject({ address: 'file-default:7233', namespace: 'stack-ns' });
  });

  it('when the profile is unknown then exit 2 and the error lists the profiles, nothing connected', async () => {
    const { code, stderr, connect } = await cli([
      'status',
      'r1',
      '--profile',
      'prdo',
      '--config-file',
      config,
    ]);
    expect(code).toBe(2);
    expect(connect).not.toHaveBeenCalled();
    expect(stderr).toContain('Temporal profile "prdo" (--profile) not found');
    expect(stderr).toContain('profiles default, cloud');
  });

  it('when a certificate file cannot be read then exit 2 naming the variable and path (--json: code config)', async () => {
    const missing = join(dir, 'client.pem');
    const { code, stderr } = await cli(['--json', 'status', 'r1'], {
      TEMPORAL_TLS_CLIENT_CERT_PATH: missing,
      TEMPORAL_TLS_CLIENT_KEY_PATH: config,
    });
    expect(code).toBe(2);
    const error = (JSON.parse(stderr) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('config');
    expect(error.message).toContain(`client certificate ${missing} (from TEMPORAL_TLS_CLIENT_CERT_PATH)`);
  });

  it('when an API key is set then it appears in no output', async () => {
    const { stdout, stderr } = await cli(['status', 'r1'], {
      TEMPORAL_API_KEY: 'env-secret',
      TEMPORAL_TLS: 'false',
    });
    expect(stderr).toContain('without TLS'); // the warning, which names no key
    expect(stdout + stderr).not.toContain('env-secret');
  });
});

describe('Kubernetes context', () => {
  it('when --context is given then the ledger is read through it', async () => {
    const { options } = await cli([
      'target',
      'prod/Deployment/api',
      '--kubeconfig',
      '/k',
      '--context',
      'prod',
    ]);
    expect(options?.ledger).toMatchObject({ kubeconfig: '/k', context: 'prod' });
  });

  it('when KUBE_CONTEXT is set then it is the default, and --context beats it', async () => {
    const fromEnv = await cli(['target', 'prod/Deployment/api'], { KUBE_CONTEXT: 'staging' });
    expect(fromEnv.options?.ledger).toMatchObject({ context: 'staging' });
    const flag = await cli(['target', 'prod/Deployment/api', '--context', 'prod'], {
      KUBE_CONTEXT: 'staging',
    });
    expect(flag.options?.ledger).toMatchObject({ context: 'prod' });
  });

  it('when a command does not read the ledger then no kubeconfig is asked for', async () => {
    const { options } = await cli(['status', 'r1', '--context', 'prod']);
    expect(options?.ledger).toBeUndefined();
  });
});
