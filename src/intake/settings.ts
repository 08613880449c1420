/**
 * The intake's security and bounds, from the environment: bearer token, optional TLS, server
 * timeouts, connection and alert caps. Validated with zod like every other setting; an error
 * names the environment variable (and the file, for a file that cannot be used). Nothing here
 * talks to Temporal, so a misconfigured intake refuses to start before it connects anywhere.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { InvalidConfigError } from '../domain/config';
import type { FieldError } from '../domain/request';
import { parseBearerToken, type IntakeAuth } from './auth';
import { fieldErrorsOf } from './fields';

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_MAX_ALERTS = 1000;

const flag = z
  .enum(['true', 'false'], { error: 'must be "true" or "false"' })
  .default('false')
  .transform((v) => v === 'true');
const ms = () => z.coerce.number().int().min(1).max(600_000);

// Keyed by the environment variable, so an error names what the operator set.
export const IntakeServerEnvSchema = z.object({
  INTAKE_BEARER_TOKEN_FILE: z.string().min(1).optional(),
  INTAKE_ALLOW_UNAUTHENTICATED: flag,
  INTAKE_TLS_CERT_FILE: z.string().min(1).optional(),
  INTAKE_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Default: 10s, or INTAKE_REQUEST_TIMEOUT_MS when that is shorter. */
  INTAKE_HEADERS_TIMEOUT_MS: ms().optional(),
  INTAKE_REQUEST_TIMEOUT_MS: ms().default(DEFAULT_REQUEST_TIMEOUT_MS),
  INTAKE_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_MAX_CONNECTIONS),
  INTAKE_MAX_ALERTS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_MAX_ALERTS),
});

export interface IntakeTls {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

export interface IntakeServerSettings {
  auth: IntakeAuth;
  /** null: plain HTTP. */
  tls: IntakeTls | null;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  maxAlerts: number;
  /** To log at startup (e.g. running unauthenticated). */
  warnings: string[];
}

/** Reads and checks every INTAKE_* security and bounds variable; throws {@link InvalidConfigError} listing every problem. */
export function loadIntakeServerSettings(env: NodeJS.ProcessEnv = process.env): IntakeServerSettings {
  const input = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('INTAKE_') && v !== undefined && v !== ''),
  );
  const parsed = IntakeServerEnvSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new InvalidConfigError(fieldErrorsOf(parsed.error));
  const e = parsed.data;
  const errors: FieldError[] = [];
  const warnings: string[] = [];

  let auth: IntakeAuth | undefined;
  if (e.INTAKE_BEARER_TOKEN_FILE !== undefined) {
    const text = readFile(e.INTAKE_BEARER_TOKEN_FILE, 'INTAKE_BEARER_TOKEN_FILE', errors);
    if (text !== undefined) {
      const token = parseBearerToken(text.toString('utf8'));
      if (token.ok) auth = { bearerToken: token.token };
      else
        errors.push(
          fileError(
            'INTAKE_BEARER_TOKEN_FILE',
            'token',
            `${quote(e.INTAKE_BEARER_TOKEN_FILE)} ${token.reason}`,
          ),
        );
    }
    if (e.INTAKE_ALLOW_UNAUTHENTICATED) {
      warnings.push(
        'INTAKE_ALLOW_UNAUTHENTICATED=true is ignored: INTAKE_BEARER_TOKEN_FILE is set, every webhook needs the token',
      );
    }
  } else if (e.INTAKE_ALLOW_UNAUTHENTICATED) {
    auth = { allowUnauthenticated: true };
    warnings.push(
      'UNAUTHENTICATED INTAKE: INTAKE_ALLOW_UNAUTHENTICATED=true and no INTAKE_BEARER_TOKEN_FILE, so ANYONE who can reach ' +
        'this port can start remediations. Use it only on a workstation; set INTAKE_BEARER_TOKEN_FILE everywhere else.',
    );
  } else {
    errors.push({
      field: 'INTAKE_BEARER_TOKEN_FILE',
      rule: 'required',
      message:
        'is required: the file holding the bearer token Alertmanager sends (http_config.authorization.credentials_file); ' +
        'set INTAKE_ALLOW_UNAUTHENTICATED=true to run without one (workstations only)',
    });
  }

  let tls: IntakeTls | null = null;
  const { INTAKE_TLS_CERT_FILE: certFile, INTAKE_TLS_KEY_FILE: keyFile } = e;
  if (certFile !== undefined && keyFile === undefined) {
    errors.push({
      field: 'INTAKE_TLS_KEY_FILE',
      rule: 'required',
      message: 'is required when INTAKE_TLS_CERT_FILE is set',
    });
  } else if (keyFile !== undefined && certFile === undefined) {
    errors.push({
      field: 'INTAKE_TLS_CERT_FILE',
      rule: 'required',
      message: 'is required when INTAKE_TLS_KEY_FILE is set',
    });
  } else if (certFile !== undefined && keyFile !== undefined) {
    const cert = readFile(certFile, 'INTAKE_TLS_CERT_FILE', errors);
    const key = readFile(keyFile, 'INTAKE_TLS_KEY_FILE', errors);
    if (cert && key) {
      try {
        createSecureContext({ cert, key });
        tls = { cert, key, certFile, keyFile };
      } catch (error) {
        errors.push(
          fileError(
            'INTAKE_TLS_CERT_FILE',
            'tls',
            `${quote(certFile)} and INTAKE_TLS_KEY_FILE ${quote(keyFile)} are not a usable PEM certificate and key: ${messageOf(error)}`,
          ),
        );
      }
    }
  }

  // Node refuses a headers timeout above the request timeout (the request includes its headers).
  const headersTimeoutMs =
    e.INTAKE_HEADERS_TIMEOUT_MS ?? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, e.INTAKE_REQUEST_TIMEOUT_MS);
  if (headersTimeoutMs > e.INTAKE_REQUEST_TIMEOUT_MS) {
    errors.push({
      field: 'INTAKE_HEADERS_TIMEOUT_MS',
      rule: 'max',
      message: `must be at most INTAKE_REQUEST_TIMEOUT_MS (${e.INTAKE_REQUEST_TIMEOUT_MS})`,
    });
  }

  if (errors.length > 0 || !auth) throw new InvalidConfigError(errors);
  return {
    auth,
    tls,
    headersTimeoutMs,
    requestTimeoutMs: e.INTAKE_REQUEST_TIMEOUT_MS,
    maxConnections: e.INTAKE_MAX_CONNECTIONS,
    maxAlerts: e.INTAKE_MAX_ALERTS,
    warnings,
  };
}

function readFile(path: string, variable: string, errors: FieldError[]): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    errors.push(fileError(variable, 'file', `cannot read ${quote(path)}${code ? ` (${code})` : ''}`));
    return undefined;
  }
}

function fileError(field: string, rule: string, message: string): FieldError {
  return { field, rule, message };
}

const quote = (path: string): string => JSON.stringify(path);

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
