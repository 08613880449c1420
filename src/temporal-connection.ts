/**
 * Where Temporal is and how to talk to it securely, resolved once for the worker, the client, the
 * CLI and the intake through the SDK's standard environment configuration (`@temporalio/envconfig`):
 * the same `TEMPORAL_*` variables, TOML profile file and precedence as the `temporal` CLI.
 *
 * Precedence, first wins, per field:
 *   1. explicit values (CLI `--address`, `--namespace`; `--profile` and `--config-file` choose the profile),
 *   2. the environment (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`,
 *      `TEMPORAL_GRPC_META_*`),
 *   3. the profile (`TEMPORAL_PROFILE`, else `default`) of the config file (`TEMPORAL_CONFIG_FILE`, else
 *      `~/.config/temporalio/temporal.toml` or the OS equivalent),
 *   4. the caller's fallback (`.stack/stack.json` of the local stack, the worker's REMEDIATION_CONFIG),
 *   5. 127.0.0.1:7233 and namespace `default`.
 * An API key turns TLS on unless TLS is explicitly off, as in the CLI. The API key is never part of
 * the summary or of an error message.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { platform } from 'node:os';
import type { TLSConfig } from '@temporalio/client';
import {
  loadClientConfig,
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';
const DEFAULT_PROFILE = 'default';

/** What both `Connection.connect` (client) and `NativeConnection.connect` (worker) accept. */
export interface TemporalConnectionOptions {
  address: string;
  /** `true`/a TLSConfig: TLS on; `false`/absent: plain TCP. */
  tls?: TLSConfig | boolean;
  apiKey?: string;
  /** gRPC metadata sent with every call (`TEMPORAL_GRPC_META_*`, the profile's `grpc_meta`). */
  metadata?: Record<string, string>;
}

export interface TemporalConnection {
  connectionOptions: TemporalConnectionOptions;
  namespace: string;
  /** One line for logs: address, namespace, TLS and where each came from; never the API key. */
  summary: string;
  /** Settings that were given but cannot take effect (said once at startup by the caller). */
  warnings: string[];
}

/** Values below the environment and the profile, e.g. `.stack/stack.json`. */
export interface TemporalFallback {
  address?: string;
  namespace?: string;
  /** For the summary, e.g. `.stack/stack.json`. */
  source: string;
  /** Client certificate and CA files; used only with the fallback's address and when nothing else sets TLS. */
  tls?: {
    serverCaCertPath: string;
    clientCertPath: string;
    clientKeyPath: string;
    serverName?: string;
  };
}

export interface ResolveTemporalConnectionOptions {
  /** The environment (default process.env). Empty values count as unset. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line values: `address`/`namespace` win over everything; `profile`/`configFile` pick the profile. */
  explicit?: {
    address?: string;
    namespace?: string;
    profile?: string;
    configFile?: string;
    /** Names explicit address/namespace in the summary (default: their flags, `--address`/`--namespace`). */
    source?: string;
  };
  /** Consulted only for fields that neither explicit values, the environment nor the profile set. */
  fallback?: TemporalFallback | null | (() => TemporalFallback | null);
  /**
   * Ignore the environment's and the profile file's Temporal settings: connect in plain text to
   * `explicit`/`fallback` (the embedded local stack, whose dev server has no TLS).
   */
  isolated?: boolean;
}

/** The Temporal connection settings are wrong (names the variable or profile field, and the path). */
export class TemporalConfigError extends Error {
  override readonly name = 'TemporalConfigError';
}

const TLS_FILES = [
  {
    key: 'clientCert',
    env: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
    field: 'tls.client_cert_path',
    what: 'client certificate',
  },
  {
    key: 'clientKey',
    env: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
    field: 'tls.client_key_path',
    what: 'client key',
  },
  {
    key: 'serverCACert',
    env: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    field: 'tls.server_ca_cert_path',
    what: 'server CA certificate',
  },
] as const;

/** Resolves the Temporal connection; throws {@link TemporalConfigError} on unusable settings. */
export function resolveTemporalConnection(
  options: ResolveTemporalConnectionOptions = {},
): TemporalConnection {
  const env = setOnly(options.env ?? process.env);
  const explicit = options.explicit ?? {};
  let fallbackValue: TemporalFallback | null | undefined;
  const fallback = (): TemporalFallback | null =>
    (fallbackValue ??=
      typeof options.fallback === 'function' ? options.fallback() : (options.fallback ?? null));
  /** One field: explicit, else the environment, else the profile file, else the fallback, else the default. */
  const pick = (
    field: 'address' | 'namespace',
    layers: { env?: string; profile?: string; profileSource?: string },
    defaultValue: string,
  ): [value: string, from: string] => {
    const given = explicit[field];
    if (given) return [given, explicit.source ?? `--${field}`];
    const envName = field === 'address' ? 'TEMPORAL_ADDRESS' : 'TEMPORAL_NAMESPACE';
    if (layers.env) return [layers.env, envName];
    if (layers.profile) return [layers.profile, layers.profileSource ?? 'profile'];
    const fb = fallback();
    if (fb?.[field]) return [fb[field], fb.source];
    return [defaultValue, 'default'];
  };

  if (options.isolated) {
    const [address, addressFrom] = pick('address', {}, DEFAULT_TEMPORAL_ADDRESS);
    const [namespace, namespaceFrom] = pick('namespace', {}, DEFAULT_TEMPORAL_NAMESPACE);
    const fbTls = fallbackTls(fallbackValue, addressFrom);
    return {
      connectionOptions: {
        address,
        ...(fbTls && {
          tls: {
            serverRootCACertificate: readFileSync(fbTls.serverCaCertPath),
            clientCertPair: {
              crt: readFileSync(fbTls.clientCertPath),
              key: readFileSync(fbTls.clientKeyPath),
            },
            ...(fbTls.serverName !== undefined && { serverNameOverride: fbTls.serverName }),
          },
        }),
      },
      namespace,
      summary: `${address} (${addressFrom}), namespace ${namespace} (${namespaceFrom}), ${fbTls ? `TLS on (client certificate ${fbTls.clientCertPath}, from ${addressFrom})` : 'TLS off'}`,
      warnings: [],
    };
  }

  const file = configFileOf(explicit.configFile, env);
  if (explicit.configFile && !existsSync(explicit.configFile)) {
    throw new TemporalConfigError(
      `Temporal config file ${explicit.configFile} (--config-file) does not exist`,
    );
  }
  const configSource: ConfigDataSource | undefined = explicit.configFile
    ? { path: explicit.configFile }
    : undefined;
  const profileName = explicit.profile ?? env['TEMPORAL_PROFILE'];
  const profileFlag = explicit.profile !== undefined ? '--profile' : 'TEMPORAL_PROFILE';
  const name = profileName ?? DEFAULT_PROFILE;

  let fileProfiles: Record<string, ClientConfigProfile>;
  try {
    fileProfiles = loadClientConfig({ configSource, overrideEnvVars: env }).profiles;
  } catch (error) {
    throw new TemporalConfigError(
      `Temporal config file ${file.path ?? '(none)'}${file.from}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
  if (profileName !== undefined && !Object.hasOwn(fileProfiles, profileName)) {
    const names = Object.keys(fileProfiles);
    const where =
      file.path === undefined
        ? 'no config file location is known (set TEMPORAL_CONFIG_FILE or --config-file)'
        : !existsSync(file.path)
          ? `config file ${file.path}${file.from} does not exist`
          : `config file ${file.path}${file.from} has ${names.length ? `profiles ${names.join(', ')}` : 'no profiles'}`;
    throw new TemporalConfigError(`Temporal profile "${profileName}" (${profileFlag}) not found: ${where}`);
  }
  const fileProfile = fileProfiles[name];
  const inFile = (field: string): string => `profile.${name}.${field} in ${file.path ?? '(config file)'}`;

  let profile: ClientConfigProfile;
  let tlsFrom: string | undefined;
  try {
    profile = loadClientConfigProfile({ profile: profileName, configSource, overrideEnvVars: env });
  } catch (error) {
    throw new TemporalConfigError(
      `Temporal profile "${name}" of ${file.path ?? '(no config file)'}${file.from}: ${messageOf(error)}`,
      { cause: error },
    );
  }

  const [address, addressFrom] = pick(
    'address',
    { env: env['TEMPORAL_ADDRESS'], profile: fileProfile?.address, profileSource: inFile('address') },
    DEFAULT_TEMPORAL_ADDRESS,
  );
  const [namespace, namespaceFrom] = pick(
    'namespace',
    { env: env['TEMPORAL_NAMESPACE'], profile: fileProfile?.namespace, profileSource: inFile('namespace') },
    DEFAULT_TEMPORAL_NAMESPACE,
  );
  // The local stack's production topology: its stack.json names the client certificate its frontend requires.
  const fbTls = fallbackTls(fallbackValue, addressFrom);
  if (fbTls && profile.tls === undefined) {
    tlsFrom = addressFrom;
    profile = {
      ...profile,
      tls: {
        clientCert: { path: fbTls.clientCertPath },
        clientKey: { path: fbTls.clientKeyPath },
        serverCACert: { path: fbTls.serverCaCertPath },
        ...(fbTls.serverName !== undefined && { serverName: fbTls.serverName }),
      },
    };
  }

  // Read every TLS file here, so that an unreadable one is reported by the setting that named it.
  const fileOf = (key: (typeof TLS_FILES)[number]['key']): { path: string; from: string } | undefined => {
    const source = profile.tls?.[key];
    if (!source || !('path' in source)) return undefined;
    const spec = TLS_FILES.find((f) => f.key === key)!;
    return {
      path: source.path,
      from: tlsFrom ?? (env[spec.env] === source.path ? spec.env : inFile(spec.field)),
    };
  };
  for (const spec of TLS_FILES) {
    const f = fileOf(spec.key);
    if (!f) continue;
    try {
      readFileSync(f.path);
    } catch (error) {
      throw new TemporalConfigError(
        `cannot read the Temporal TLS ${spec.what} ${f.path} (from ${f.from}): ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
  const hasCert = profile.tls?.clientCert !== undefined;
  const hasKey = profile.tls?.clientKey !== undefined;
  if (hasCert !== hasKey && profile.tls?.disabled !== true) {
    const [missing, given] = hasCert
      ? ['client key (TEMPORAL_TLS_CLIENT_KEY_PATH or tls.client_key_path)', 'client certificate']
      : ['client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH or tls.client_cert_path)', 'client key'];
    throw new TemporalConfigError(`Temporal mTLS: a ${given} is set but no ${missing}; both are needed`);
  }

  let connectionOptions: TemporalConnectionOptions;
  try {
    const converted = toClientOptions({ ...profile, address, namespace }).connectionOptions;
    connectionOptions = {
      address,
      ...(converted.tls !== undefined && converted.tls !== null && { tls: converted.tls }),
      ...(converted.apiKey !== undefined && { apiKey: converted.apiKey }),
      // The package passes the profile's grpcMeta (string values) through as the metadata.
      ...(profile.grpcMeta !== undefined &&
        converted.metadata !== undefined &&
        Object.keys(profile.grpcMeta).length > 0 && { metadata: { ...profile.grpcMeta } }),
    };
  } catch (error) {
    throw new TemporalConfigError(`Temporal TLS settings of profile "${name}": ${messageOf(error)}`, {
      cause: error,
    });
  }

  const warnings: string[] = [];
  if (env['TEMPORAL_TLS_DISABLE_HOST_VERIFICATION'] !== undefined) {
    warnings.push(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported by the Temporal TypeScript SDK: the server ' +
        "certificate's host name is still verified (TEMPORAL_TLS_SERVER_NAME sets the name to check)",
    );
  }
  if (connectionOptions.apiKey !== undefined && !connectionOptions.tls) {
    warnings.push('the Temporal API key is sent without TLS (TEMPORAL_TLS=false or tls.disabled = true)');
  }
  if (env['TEMPORAL_CONFIG_FILE'] && !explicit.configFile && !existsSync(env['TEMPORAL_CONFIG_FILE'])) {
    warnings.push(
      `TEMPORAL_CONFIG_FILE=${env['TEMPORAL_CONFIG_FILE']} does not exist: no profile file is used`,
    );
  }

  const apiKeyFrom = !profile.apiKey
    ? undefined
    : env['TEMPORAL_API_KEY']
      ? 'TEMPORAL_API_KEY'
      : inFile('api_key');
  const parts = [`${address} (${addressFrom})`, `namespace ${namespace} (${namespaceFrom})`];
  parts.push(tlsSummary(connectionOptions.tls, profile, fileOf));
  if (apiKeyFrom) parts.push(`API key from ${apiKeyFrom}`);
  if (connectionOptions.metadata)
    parts.push(`gRPC metadata ${Object.keys(connectionOptions.metadata).join(', ')}`);
  if (fileProfile) parts.push(`profile "${name}" of ${file.path ?? 'the config file'}`);
  return { connectionOptions, namespace, summary: parts.join(', '), warnings };
}

/** The fallback's TLS files, when the address is the fallback's (read only if it was read for a field). */
function fallbackTls(
  fallback: TemporalFallback | null | undefined,
  addressFrom: string,
): TemporalFallback['tls'] {
  return fallback && addressFrom === fallback.source ? fallback.tls : undefined;
}

function tlsSummary(
  tls: TLSConfig | boolean | undefined,
  profile: ClientConfigProfile,
  fileOf: (key: 'clientCert' | 'clientKey' | 'serverCACert') => { path: string } | undefined,
): string {
  if (!tls) return 'TLS off';
  const details: string[] = [];
  const cert = fileOf('clientCert');
  if (profile.tls?.clientCert) details.push(`client certificate ${cert ? cert.path : '(inline data)'}`);
  const ca = fileOf('serverCACert');
  if (profile.tls?.serverCACert) details.push(`server CA ${ca ? ca.path : '(inline data)'}`);
  if (profile.tls?.serverName) details.push(`server name ${profile.tls.serverName}`);
  return `TLS on${details.length ? ` (${details.join(', ')})` : ''}`;
}

/**
 * The config file the package reads, for messages: `--config-file`, else TEMPORAL_CONFIG_FILE, else
 * the OS default (as the `temporal` CLI documents it).
 */
function configFileOf(
  explicit: string | undefined,
  env: Readonly<Record<string, string>>,
): { path: string | undefined; from: string } {
  if (explicit) return { path: explicit, from: ' (--config-file)' };
  if (env['TEMPORAL_CONFIG_FILE'])
    return { path: env['TEMPORAL_CONFIG_FILE'], from: ' (TEMPORAL_CONFIG_FILE)' };
  let dir: string | undefined;
  switch (platform()) {
    case 'win32':
      dir = env['APPDATA'];
      break;
    case 'darwin':
      dir = env['HOME'] && join(env['HOME'], 'Library', 'Application Support');
      break;
    default: {
      const xdg = env['XDG_CONFIG_HOME'];
      dir = xdg ? (isAbsolute(xdg) ? xdg : undefined) : env['HOME'] && join(env['HOME'], '.config');
    }
  }
  return { path: dir ? join(dir, 'temporalio', 'temporal.toml') : undefined, from: '' };
}

/**
 * The set variables: an empty one counts as unset, as everywhere else in this product, except
 * `TEMPORAL_GRPC_META_*`, where an empty value removes the profile's header (the package's rule).
 */
function setOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (value === '' && !key.startsWith('TEMPORAL_GRPC_META_')) continue;
    out[key] = value;
  }
  return out;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
