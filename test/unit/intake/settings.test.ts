import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidConfigError } from '../../../src/domain/config';
import { loadIntakeServerSettings } from '../../../src/intake/settings';
import { selfSignedCert } from './support';

let dir: string;
let tokenFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'intake-settings-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 's3cret\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** The field errors of a refused config. */
function errorsOf(env: NodeJS.ProcessEnv): { field: string; message: string }[] {
  try {
    loadIntakeServerSettings(env);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return error.errors.map(({ field, message }) => ({ field, message }));
  }
  throw new Error('expected the settings to be refused');
}

describe('loadIntakeServerSettings', () => {
  it('when a token file is set then the token is read (trailing newline dropped) and the bounds default', () => {
    expect(loadIntakeServerSettings({ INTAKE_BEARER_TOKEN_FILE: tokenFile })).toEqual({
      auth: { bearerToken: 's3cret' },
      tls: null,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      maxConnections: 256,
      maxAlerts: 1000,
      warnings: [],
    });
  });

  it('when there is no token file then it refuses to start, naming the variable and the way out', () => {
    expect(errorsOf({})).toEqual([
      {
        field: 'INTAKE_BEARER_TOKEN_FILE',
        message: expect.stringMatching(/^is required: .*INTAKE_ALLOW_UNAUTHENTICATED=true/),
      },
    ]);
    expect(errorsOf({ INTAKE_BEARER_TOKEN_FILE: '' })).toEqual([
      expect.objectContaining({ field: 'INTAKE_BEARER_TOKEN_FILE' }),
    ]);
  });

  it('when INTAKE_ALLOW_UNAUTHENTICATED=true and no token then it runs open, with a loud warning', () => {
    const settings = loadIntakeServerSettings({ INTAKE_ALLOW_UNAUTHENTICATED: 'true' });
    expect(settings.auth).toEqual({ allowUnauthenticated: true });
    expect(settings.warnings).toEqual([expect.stringMatching(/^UNAUTHENTICATED INTAKE: .*ANYONE/)]);
  });

  it('when both are set then the token wins and the flag is reported as ignored', () => {
    const settings = loadIntakeServerSettings({
      INTAKE_BEARER_TOKEN_FILE: tokenFile,
      INTAKE_ALLOW_UNAUTHENTICATED: 'true',
    });
    expect(settings.auth).toEqual({ bearerToken: 's3cret' });
    expect(settings.warnings).toEqual([
      expect.stringContaining('INTAKE_ALLOW_UNAUTHENTICATED=true is ignored'),
    ]);
  });

  it.each(['yes', '1', 'TRUE'])('when INTAKE_ALLOW_UNAUTHENTICATED=%p then it is refused', (value) => {
    expect(errorsOf({ INTAKE_ALLOW_UNAUTHENTICATED: value })).toEqual([
      { field: 'INTAKE_ALLOW_UNAUTHENTICATED', message: 'must be "true" or "false"' },
    ]);
  });

  it('when the token file is empty, unreadable or holds spaces then the error names the variable and the path', () => {
    const empty = file('empty', '\n');
    const missing = join(dir, 'no-such-file');
    const spaced = file('spaced', 'two words\n');
    expect(errorsOf({ INTAKE_BEARER_TOKEN_FILE: empty })).toEqual([
      { field: 'INTAKE_BEARER_TOKEN_FILE', message: `${JSON.stringify(empty)} is empty` },
    ]);
    expect(errorsOf({ INTAKE_BEARER_TOKEN_FILE: missing })).toEqual([
      { field: 'INTAKE_BEARER_TOKEN_FILE', message: `cannot read ${JSON.stringify(missing)} (ENOENT)` },
    ]);
    expect(errorsOf({ INTAKE_BEARER_TOKEN_FILE: spaced })).toEqual([
      { field: 'INTAKE_BEARER_TOKEN_FILE', message: expect.stringContaining(JSON.stringify(spaced)) },
    ]);
  });

  it('when the token file is not readable by the process then it is refused', () => {
    if (process.getuid?.() === 0) return; // root reads anything
    const locked = file('locked', 's3cret');
    chmodSync(locked, 0o000);
    expect(errorsOf({ INTAKE_BEARER_TOKEN_FILE: locked })).toEqual([
      { field: 'INTAKE_BEARER_TOKEN_FILE', message: `cannot read ${JSON.stringify(locked)} (EACCES)` },
    ]);
  });

  describe('TLS', () => {
    let certFile: string;
    let keyFile: string;
    beforeAll(() => {
      const { cert, key } = selfSignedCert();
      certFile = file('cert.pem', cert);
      keyFile = file('key.pem', key);
    });

    it('when both files are set then they are read and checked as a pair', () => {
      const { tls } = loadIntakeServerSettings({
        INTAKE_BEARER_TOKEN_FILE: tokenFile,
        INTAKE_TLS_CERT_FILE: certFile,
        INTAKE_TLS_KEY_FILE: keyFile,
      });
      expect(tls).toMatchObject({ certFile, keyFile });
      expect(tls?.cert.toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    });

    it('when only one is set then the error names the missing one', () => {
      expect(errorsOf({ INTAKE_BEARER_TOKEN_FILE: tokenFile, INTAKE_TLS_CERT_FILE: certFile })).toEqual([
        { field: 'INTAKE_TLS_KEY_FILE', message: 'is required when INTAKE_TLS_CERT_FILE is set' },
      ]);
      expect(errorsOf({ INTAKE_BEARER_TOKEN_FILE: tokenFile, INTAKE_TLS_KEY_FILE: keyFile })).toEqual([
        { field: 'INTAKE_TLS_CERT_FILE', message: 'is required when INTAKE_TLS_KEY_FILE is set' },
      ]);
    });

    it('when a file cannot be read then the error names the variable and the path', () => {
      const missing = join(dir, 'missing.pem');
      expect(
        errorsOf({
          INTAKE_BEARER_TOKEN_FILE: tokenFile,
          INTAKE_TLS_CERT_FILE: certFile,
          INTAKE_TLS_KEY_FILE: missing,
        }),
      ).toEqual([
        { field: 'INTAKE_TLS_KEY_FILE', message: `cannot read ${JSON.stringify(missing)} (ENOENT)` },
      ]);
    });

    it('when the files are not a certificate and its key then it is refused', () => {
      const other = selfSignedCert();
      const otherKey = file('other-key.pem', other.key);
      const garbage = file('garbage.pem', 'not a certificate');
      expect(
        errorsOf({
          INTAKE_BEARER_TOKEN_FILE: tokenFile,
          INTAKE_TLS_CERT_FILE: certFile,
          INTAKE_TLS_KEY_FILE: otherKey,
        }),
      ).toEqual([
        {
          field: 'INTAKE_TLS_CERT_FILE',
          message: expect.stringContaining('not a usable PEM certificate and key'),
        },
      ]);
      expect(
        errorsOf({
          INTAKE_BEARER_TOKEN_FILE: tokenFile,
          INTAKE_TLS_CERT_FILE: garbage,
          INTAKE_TLS_KEY_FILE: keyFile,
        }),
      ).toEqual([
        { field: 'INTAKE_TLS_CERT_FILE', message: expect.stringContaining(JSON.stringify(garbage)) },
      ]);
    });
  });

  describe('bounds', () => {
    const withToken = (env: NodeJS.ProcessEnv) => ({ INTAKE_BEARER_TOKEN_FILE: tokenFile, ...env });

    it('reads every bound from its variable', () => {
      expect(
        loadIntakeServerSettings(
          withToken({
            INTAKE_HEADERS_TIMEOUT_MS: '2000',
            INTAKE_REQUEST_TIMEOUT_MS: '5000',
            INTAKE_MAX_CONNECTIONS: '16',
            INTAKE_MAX_ALERTS: '50',
          }),
        ),
      ).toMatchObject({ headersTimeoutMs: 2000, requestTimeoutMs: 5000, maxConnections: 16, maxAlerts: 50 });
    });

    it('when only a short request timeout is set then the headers timeout follows it down', () => {
      expect(loadIntakeServerSettings(withToken({ INTAKE_REQUEST_TIMEOUT_MS: '4000' }))).toMatchObject({
        headersTimeoutMs: 4000,
        requestTimeoutMs: 4000,
      });
    });

    it.each([
      ['INTAKE_MAX_ALERTS', '0'],
      ['INTAKE_MAX_ALERTS', 'many'],
      ['INTAKE_MAX_CONNECTIONS', '-1'],
      ['INTAKE_MAX_CONNECTIONS', '1.5'],
      ['INTAKE_HEADERS_TIMEOUT_MS', '0'],
      ['INTAKE_REQUEST_TIMEOUT_MS', '600001'],
    ])('when %s=%p then the error names it', (name, value) => {
      expect(errorsOf(withToken({ [name]: value })).map((e) => e.field)).toEqual([name]);
    });

    it('when the headers timeout is longer than the request timeout then it is refused', () => {
      expect(
        errorsOf(withToken({ INTAKE_HEADERS_TIMEOUT_MS: '20000', INTAKE_REQUEST_TIMEOUT_MS: '10000' })),
      ).toEqual([
        { field: 'INTAKE_HEADERS_TIMEOUT_MS', message: 'must be at most INTAKE_REQUEST_TIMEOUT_MS (10000)' },
      ]);
    });

    it('lists every problem at once', () => {
      expect(
        errorsOf({ INTAKE_MAX_ALERTS: '0', INTAKE_MAX_CONNECTIONS: '0' })
          .map((e) => e.field)
          .sort(),
      ).toEqual(['INTAKE_MAX_ALERTS', 'INTAKE_MAX_CONNECTIONS']);
    });
  });
});
