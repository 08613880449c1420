/**
 * The Temporal connection as `@temporalio/envconfig` resolves it, with our explicit values and
 * fallbacks around it: precedence per field, profile choice, API key ⇒ TLS, and errors that name
 * the setting and the path. Profile files are written to a temp dir; the environment is passed in,
 * never the process's.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_TEMPORAL_ADDRESS,
  TemporalConfigError,
  resolveTemporalConnection,
  type ResolveTemporalConnectionOptions,
} from '../../src/temporal-connection';

const dir = mkdtempSync(join(tmpdir(), 'temporal-connection-'));
let n = 0;

function file(content: string, name = `file-${++n}`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const PROFILES = `
[profile.default]
address = "file-default:7233"
namespace = "file-default-ns"

[profile.prod]
address = "prod.tmprl.cloud:7233"
namespace = "prod.acct"
api_key = "file-secret-key"

[profile.meta]
address = "meta:7233"
[profile.meta.grpc_meta]
x-tenant = "blue"
`;

/** The config file is named by TEMPORAL_CONFIG_FILE unless the test says otherwise. */
function resolve(env: Record<string, string>, options: Omit<ResolveTemporalConnectionOptions, 'env'> = {}) {
  return resolveTemporalConnection({ env, ...options });
}

function errorOf(fn: () => unknown): TemporalConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TemporalConfigError);
    return error as TemporalConfigError;
  }
  throw new Error('expected a TemporalConfigError');
}

describe('precedence', () => {
  const config = file(PROFILES, 'temporal.toml');
  const stack = { address: '127.0.0.1:9999', namespace: 'stack-ns', source: '.stack/stack.json' };

  it('when nothing is configured then the defaults, in plain text', () => {
    const c = resolve({});
    expect(c.connectionOptions).toEqual({ address: DEFAULT_TEMPORAL_ADDRESS });
    expect(c.namespace).toBe('default');
    expect(c.summary).toContain('TLS off');
  });

  it('when only the fallback (stack.json) is there then it beats the defaults', () => {
    const c = resolve({}, { fallback: stack });
    expect(c.connectionOptions.address).toBe('127.0.0.1:9999');
    expect(c.namespace).toBe('stack-ns');
    expect(c.summary).toContain('127.0.0.1:9999 (.stack/stack.json)');
  });

  it('when the profile file has the default profile then it beats the fallback', () => {
    const c = resolve({ TEMPORAL_CONFIG_FILE: config }, { fallback: stack });
    expect(c.connectionOptions.address).toBe('file-default:7233');
    expect(c.namespace).toBe('file-default-ns');
    expect(c.summary).toContain(`profile.default.address in ${config}`);
  });

  it('when the environment sets a field then it beats the profile file, field by field', () => {
    const c = resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: 'env:7233' }, { fallback: stack });
    expect(c.connectionOptions.address).toBe('env:7233');
    expect(c.namespace).toBe('file-default-ns');
  });

  it('when a flag is given then it beats the environment', () => {
    const c = resolve(
      { TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'env-ns' },
      { explicit: { address: 'flag:7233' }, fallback: stack },
    );
    expect(c.connectionOptions.address).toBe('flag:7233');
    expect(c.namespace).toBe('env-ns');
    expect(c.summary).toContain('flag:7233 (--address)');
  });

  it('when a variable is empty then it counts as unset', () => {
    const c = resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: '' });
    expect(c.connectionOptions.address).toBe('file-default:7233');
  });

  it('when the fallback is lazy then it is read only if needed', () => {
    const fallback = jest.fn(() => stack);
    resolve({ TEMPORAL_ADDRESS: 'env:1', TEMPORAL_NAMESPACE: 'ns' }, { fallback });
    expect(fallback).not.toHaveBeenCalled();
    resolve({ TEMPORAL_ADDRESS: 'env:1' }, { fallback });
    expect(fallback).toHaveBeenCalledTimes(1);
  });

  it('when the config file is at the default location ($XDG_CONFIG_HOME/temporalio/temporal.toml) then it is read', () => {
    if (process.platform !== 'linux') return; // the default location differs on macOS and Windows
    const xdg = mkdtempSync(join(tmpdir(), 'xdg-'));
    mkdirSync(join(xdg, 'temporalio'));
    writeFileSync(join(xdg, 'temporalio', 'temporal.toml'), PROFILES);
    expect(resolve({ XDG_CONFIG_HOME: xdg }).connectionOptions.address).toBe('file-default:7233');
  });

  it('when isolated (the embedded stack) then neither the environment nor the profile file apply', () => {
    const c = resolve(
      { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'true' },
      {
        isolated: true,
        explicit: { address: '127.0.0.1:7777', namespace: 'default', source: 'local stack' },
      },
    );
    expect(c.connectionOptions).toEqual({ address: '127.0.0.1:7777' });
    expect(c.summary).toContain('127.0.0.1:7777 (local stack)');
  });
});

describe('profiles', () => {
  const config = file(PROFILES);

  it('when TEMPORAL_PROFILE names a profile then that profile is used', () => {
    const c = resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod' });
    expect(c.connectionOptions.address).toBe('prod.tmprl.cloud:7233');
    expect(c.namespace).toBe('prod.acct');
    expect(c.summary).toContain(`profile "prod" of ${config}`);
  });

  it('when --profile and --config-file are given then they beat TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE', () => {
    const other = file('[profile.staging]\naddress = "staging:7233"\n');
    const c = resolve(
      { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod' },
      { explicit: { profile: 'staging', configFile: other } },
    );
    expect(c.connectionOptions.address).toBe('staging:7233');
  });

  it('when the named profile is missing then the error lists the profiles of the file', () => {
    const error = errorOf(() => resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'nope' }));
    expect(error.message).toContain('Temporal profile "nope" (TEMPORAL_PROFILE) not found');
    expect(error.message).toContain(config);
    expect(error.message).toContain('profiles default, prod, meta');
  });

  it('when --config-file does not exist then the error names it', () => {
    const error = errorOf(() => resolve({}, { explicit: { configFile: join(dir, 'missing.toml') } }));
    expect(error.message).toContain(`${join(dir, 'missing.toml')} (--config-file) does not exist`);
  });

  it('when TEMPORAL_CONFIG_FILE does not exist then the package ignores it and a warning says so', () => {
    const c = resolve({ TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') });
    expect(c.connectionOptions.address).toBe(DEFAULT_TEMPORAL_ADDRESS);
    expect(c.warnings.join('\n')).toContain('absent.toml does not exist');
  });

  it('when the TOML is malformed then the error names the file', () => {
    const bad = file('[profile.default\naddress = ');
    const error = errorOf(() => resolve({ TEMPORAL_CONFIG_FILE: bad }));
    expect(error.message).toContain(`Temporal config file ${bad} (TEMPORAL_CONFIG_FILE)`);
  });

  it('when a profile and TEMPORAL_GRPC_META_* give gRPC metadata then both are sent, env winning', () => {
    const c = resolve({
      TEMPORAL_CONFIG_FILE: config,
      TEMPORAL_PROFILE: 'meta',
      TEMPORAL_GRPC_META_X_REGION: 'eu',
    });
    expect(c.connectionOptions.metadata).toEqual({ 'x-tenant': 'blue', 'x-region': 'eu' });
    expect(c.summary).toContain('gRPC metadata x-tenant, x-region');
  });
});

describe('API key and TLS', () => {
  const config = file(PROFILES);

  it('when an API key is set then TLS is on, as in the temporal CLI, and the key never shows', () => {
    const c = resolve({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'env-secret-key' });
    expect(c.connectionOptions).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      apiKey: 'env-secret-key',
      tls: true,
    });
    expect(c.summary).toContain('TLS on');
    expect(c.summary).toContain('API key from TEMPORAL_API_KEY');
    expect(c.summary).not.toContain('env-secret-key');
  });

  it('when the profile has the API key then TLS is on and the summary names the field, not the key', () => {
    const c = resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod' });
    expect(c.connectionOptions.tls).toBe(true);
    expect(c.connectionOptions.apiKey).toBe('file-secret-key');
    expect(c.summary).toContain('API key from profile.prod.api_key');
    expect(JSON.stringify(c.summary)).not.toContain('file-secret-key');
  });

  it('when TEMPORAL_TLS=false then TLS stays off even with an API key, with a warning', () => {
    const c = resolve({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' });
    expect(c.connectionOptions.tls).toBe(false);
    expect(c.warnings.join('\n')).toContain('without TLS');
  });

  it('when TEMPORAL_TLS=true then TLS is on without a key', () => {
    expect(resolve({ TEMPORAL_TLS: 'true' }).connectionOptions.tls).toBeTruthy();
  });

  it('when mTLS files are given then their bytes, the CA and the server name are passed', () => {
    const cert = file('CERT');
    const key = file('KEY');
    const ca = file('CA');
    const c = resolve({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    });
    expect(c.connectionOptions.tls).toEqual({
      serverNameOverride: 'temporal.example',
      serverRootCACertificate: Uint8Array.from(Buffer.from('CA')),
      clientCertPair: { crt: Uint8Array.from(Buffer.from('CERT')), key: Uint8Array.from(Buffer.from('KEY')) },
    });
    expect(c.summary).toContain(`client certificate ${cert}`);
    expect(c.summary).toContain(`server CA ${ca}`);
    expect(c.summary).toContain('server name temporal.example');
  });

  describe('the production stack (stack.json with client certificates)', () => {
    const tls = () => ({
      serverCaCertPath: file('STACK-CA'),
      clientCertPath: file('STACK-CERT'),
      clientKeyPath: file('STACK-KEY'),
      serverName: 'localhost',
    });
    const stackWith = (t = tls()) => ({ address: '127.0.0.1:9999', source: '.stack/stack.json', tls: t });

    it('when the address comes from stack.json then its certificates are used, and the summary says so', () => {
      const t = tls();
      const c = resolve({}, { fallback: stackWith(t) });
      expect(c.connectionOptions).toEqual({
        address: '127.0.0.1:9999',
        tls: {
          serverNameOverride: 'localhost',
          serverRootCACertificate: Uint8Array.from(Buffer.from('STACK-CA')),
          clientCertPair: {
            crt: Uint8Array.from(Buffer.from('STACK-CERT')),
            key: Uint8Array.from(Buffer.from('STACK-KEY')),
          },
        },
      });
      expect(c.summary).toContain(`TLS on (client certificate ${t.clientCertPath}`);
    });

    it('when the address comes from elsewhere then the stack certificates are not sent there', () => {
      const c = resolve({ TEMPORAL_ADDRESS: 'temporal.internal:7233' }, { fallback: stackWith() });
      expect(c.connectionOptions).toEqual({ address: 'temporal.internal:7233' });
    });

    it('when the environment sets TLS then it wins over the stack certificates', () => {
      const c = resolve({ TEMPORAL_TLS: 'false' }, { fallback: stackWith() });
      expect(c.connectionOptions.tls).toBeFalsy();
    });

    it('when a stack certificate is missing then the error names it and stack.json', () => {
      const error = errorOf(() =>
        resolve({}, { fallback: stackWith({ ...tls(), clientKeyPath: join(dir, 'no-such-key') }) }),
      );
      expect(error.message).toContain(join(dir, 'no-such-key'));
      expect(error.message).toContain('.stack/stack.json');
    });

    it('when isolated (npm start) with stack certificates then they are used', () => {
      const c = resolve({ TEMPORAL_ADDRESS: 'ignored:1' }, { isolated: true, fallback: stackWith() });
      expect(c.connectionOptions.address).toBe('127.0.0.1:9999');
      expect(c.connectionOptions.tls).toMatchObject({ serverNameOverride: 'localhost' });
    });
  });

  it('when TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is set then a warning says the SDK cannot do it', () => {
    const c = resolve({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' });
    expect(c.warnings.join('\n')).toContain('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported');
  });
});

describe('unreadable TLS files', () => {
  it('when TEMPORAL_TLS_CLIENT_CERT_PATH does not exist then the error names the variable and the path', () => {
    const missing = join(dir, 'no-such-cert.pem');
    const error = errorOf(() =>
      resolve({ TEMPORAL_TLS_CLIENT_CERT_PATH: missing, TEMPORAL_TLS_CLIENT_KEY_PATH: file('KEY') }),
    );
    expect(error.message).toContain(`client certificate ${missing} (from TEMPORAL_TLS_CLIENT_CERT_PATH)`);
    expect(error.message).toContain('ENOENT');
  });

  it('when the profile names an unreadable CA then the error names the profile field and the file', () => {
    const missing = join(dir, 'no-such-ca.pem');
    const config = file(
      `[profile.default]\naddress = "x:1"\n[profile.default.tls]\nserver_ca_cert_path = "${missing}"\n`,
    );
    const error = errorOf(() => resolve({ TEMPORAL_CONFIG_FILE: config }));
    expect(error.message).toContain(
      `server CA certificate ${missing} (from profile.default.tls.server_ca_cert_path in ${config})`,
    );
  });

  it('when the key is a directory then the error names TEMPORAL_TLS_CLIENT_KEY_PATH', () => {
    const error = errorOf(() =>
      resolve({ TEMPORAL_TLS_CLIENT_CERT_PATH: file('CERT'), TEMPORAL_TLS_CLIENT_KEY_PATH: dir }),
    );
    expect(error.message).toContain('(from TEMPORAL_TLS_CLIENT_KEY_PATH)');
  });

  it('when only a client certificate is given then the missing key is named', () => {
    const error = errorOf(() => resolve({ TEMPORAL_TLS_CLIENT_CERT_PATH: file('CERT') }));
    expect(error.message).toContain('no client key (TEMPORAL_TLS_CLIENT_KEY_PATH or tls.client_key_path)');
  });

  it('when a path and inline data are both given then the package error is wrapped with the profile', () => {
    const config = file(`[profile.default.tls]\nclient_cert_data = "CERT"\n`);
    const error = errorOf(() =>
      resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_TLS_CLIENT_CERT_PATH: file('CERT') }),
    );
    expect(error.message).toMatch(
      /Temporal profile "default" of .*: Cannot specify both client_cert_path and client_cert_data/,
    );
  });
});
