/**
 * The Alertmanager webhook receiver (node:http or node:https, no framework). Every webhook call
 * must carry the bearer token (401 otherwise, before its body is read); `/healthz` and `/metrics`
 * stay open. A payload is bounded (body bytes, alerts per payload, header and request timeouts,
 * connections) and validated as a whole (422 naming every field), then each alert is planned by
 * the mapper and started through the injected `start`, so unit tests run without Temporal.
 * Redelivery is safe: ids are idempotency keys, so Alertmanager's retries after a 5xx start
 * nothing twice.
 */
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { InvalidRequestError, type RemediationRequestInput } from '../domain/request';
import {
  InvalidAlertmanagerPayloadError,
  parseAlertmanagerPayload,
  type AlertmanagerPayload,
} from './alertmanager';
import { authChallenge, bearerTokenChecker, type AuthFailure, type IntakeAuth } from './auth';
import { labelsFingerprint, planAlert, type AlertDecision, type AlertOutcome } from './mapper';
import { IntakeMetrics, METRICS_CONTENT_TYPE, type IntakeHandler, type PayloadRejection } from './metrics';
import type { Route } from './routing-config';
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_MAX_ALERTS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './settings';

export const ALERTMANAGER_PATHS = ['/api/v1/alerts/alertmanager', '/webhook'] as const;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

export type StartRemediation = (input: RemediationRequestInput) => Promise<{ id: string; started: boolean }>;
/** Tells the running remediations of a fingerprint that its alert resolved; their ids (none: nobody held it). */
export type ResolveFingerprint = (fingerprint: string) => Promise<string[]>;
export type IntakeLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface IntakeServerOptions {
  routes: readonly Route[];
  start: StartRemediation;
  /** Resolved notifications go here; without it they are ignored. */
  resolve?: ResolveFingerprint;
  /** Required: a bearer token, or an explicit `{ allowUnauthenticated: true }`. */
  auth: IntakeAuth;
  /** PEM certificate chain and key: serve HTTPS instead of HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
  maxBodyBytes?: number;
  /** Alerts one payload may hold; more is refused with 413 and nothing is started. */
  maxAlerts?: number;
  /** How long a client may take to send its body (slow-loris guard). */
  bodyTimeoutMs?: number;
  /** How long a client may take to send the request headers (Node's `headersTimeout`). */
  headersTimeoutMs?: number;
  /** How long a whole request may take to arrive (Node's `requestTimeout`); at least `headersTimeoutMs`. */
  requestTimeoutMs?: number;
  /** Open connections at once; further ones are closed on accept (Node's `maxConnections`). */
  maxConnections?: number;
  /** The counters behind `/metrics`; a fresh set when absent. */
  metrics?: IntakeMetrics;
  log?: IntakeLog;
}

export interface IntakeResult {
  receiver: string;
  groupKey: string;
  /** Alerts Alertmanager left out of this notification (`max_alerts`); they are not seen here. */
  truncatedAlerts: number;
  summary: Record<AlertOutcome, number>;
  results: AlertDecision[];
}

export interface IntakeServer {
  readonly server: Server;
  readonly protocol: 'http' | 'https';
  readonly metrics: IntakeMetrics;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** Plans every alert, starts the ones to start (in payload order) and explains each decision. */
export async function processPayload(
  payload: AlertmanagerPayload,
  routes: readonly Route[],
  start: StartRemediation,
  log: IntakeLog = () => {},
  resolve?: ResolveFingerprint,
): Promise<IntakeResult> {
  const results: AlertDecision[] = [];
  for (const alert of payload.alerts) {
    if (alert.status === 'resolved' && resolve) {
      results.push(await resolved(alert.fingerprint ?? labelsFingerprint(alert.labels), resolve, log));
      continue;
    }
    const plan = planAlert(alert, routes, payload);
    if (!plan.start) {
      results.push(plan.decision);
      continue;
    }
    const base = { fingerprint: plan.fingerprint, route: plan.route, remediationId: plan.id };
    try {
      const { id, started } = await start(plan.input);
      results.push(
        started
          ? { ...base, remediationId: id, outcome: 'started', reason: 'remediation started' }
          : { ...base, remediationId: id, outcome: 'duplicate', reason: 'already started for this firing' },
      );
    } catch (error) {
      if (error instanceof InvalidRequestError) {
        results.push({ ...base, outcome: 'rejected', reason: error.message, fields: error.errors });
        continue;
      }
      log('error', 'starting a remediation failed', { remediationId: plan.id, error: messageOf(error) });
      results.push({ ...base, outcome: 'error', reason: `could not start: ${messageOf(error)}` });
    }
  }
  const summary: Record<AlertOutcome, number> = {
    started: 0,
    duplicate: 0,
    ignored: 0,
    resolved: 0,
    rejected: 0,
    error: 0,
  };
  for (const r of results) summary[r.outcome] += 1;
  return {
    receiver: payload.receiver,
    groupKey: payload.groupKey,
    truncatedAlerts: payload.truncatedAlerts,
    summary,
    results,
  };
}

/** A resolved alert: tell whoever remediates its fingerprint; 200 whether or not anyone does. */
async function resolved(
  fingerprint: string,
  resolve: ResolveFingerprint,
  log: IntakeLog,
): Promise<AlertDecision> {
  try {
    const ids = await resolve(fingerprint);
    return ids.length
      ? {
          fingerprint,
          route: null,
          outcome: 'resolved',
          reason: `told ${ids.length} running remediation(s) that the alert resolved`,
          remediationId: ids[0]!,
        }
      : {
          fingerprint,
          route: null,
          outcome: 'ignored',
          reason: 'alert is resolved; no remediation of it is running',
        };
  } catch (error) {
    log('error', 'telling remediations about a resolved alert failed', {
      fingerprint,
      error: messageOf(error),
    });
    return {
      fingerprint,
      route: null,
      outcome: 'error',
      reason: `could not tell remediations: ${messageOf(error)}`,
    };
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
    readonly headers: OutgoingHttpHeaders = {},
    /** Counted in remediation_intake_payload_rejections_total. */
    readonly rejection?: PayloadRejection,
  ) {
    super(message);
  }
}

/** Paths served without the token: liveness and the Prometheus scrape (counts only, no alert content). */
const OPEN_PATHS: Readonly<Record<string, IntakeHandler>> = { '/healthz': 'healthz', '/metrics': 'metrics' };

export function createIntakeServer(options: IntakeServerOptions): IntakeServer {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxAlerts = options.maxAlerts ?? DEFAULT_MAX_ALERTS;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeoutMs = options.headersTimeoutMs ?? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs);
  const metrics = options.metrics ?? new IntakeMetrics();
  const log = options.log ?? (() => {});
  // Checked for presence at runtime too: a JavaScript caller (or a cast) cannot fall back to "open".
  const auth = options.auth as IntakeAuth | undefined;
  if (!auth || !('bearerToken' in auth || auth.allowUnauthenticated === true)) {
    throw new Error(
      'createIntakeServer: auth is required ({ bearerToken } or { allowUnauthenticated: true })',
    );
  }
  const checkToken = 'bearerToken' in auth ? bearerTokenChecker(auth.bearerToken) : () => null;

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      return send(res, 200, { status: 'ok' });
    }
    if (path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      return sendText(res, 200, METRICS_CONTENT_TYPE, metrics.render());
    }
    // Everything else needs the token, before anything about the request is looked at.
    const failure = checkToken(req.headers.authorization);
    if (failure) {
      metrics.authFailure(failure);
      throw unauthorized(failure);
    }
    if (!(ALERTMANAGER_PATHS as readonly string[]).includes(path))
      throw new HttpError(404, `no route ${path}`);
    if (req.method !== 'POST') throw methodNotAllowed('POST');
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new HttpError(
        415,
        `content type must be application/json, got ${JSON.stringify(type ?? '')}`,
        {},
        {},
        'unsupported_media_type',
      );
    }
    const body = await readBody(req, maxBodyBytes, bodyTimeoutMs);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new HttpError(400, `invalid JSON: ${messageOf(error)}`, {}, {}, 'invalid_json');
    }
    // Counted before the schema runs: a payload over the cap is refused as a whole, unvalidated.
    const alertCount = alertsIn(json);
    if (alertCount > maxAlerts) {
      throw new HttpError(
        413,
        `payload holds ${alertCount} alerts; at most ${maxAlerts} are accepted per notification ` +
          `(INTAKE_MAX_ALERTS; set the receiver's max_alerts to at most this): nothing was started`,
        { maxAlerts, alerts: alertCount },
        {},
        'too_many_alerts',
      );
    }
    let payload: AlertmanagerPayload;
    try {
      payload = parseAlertmanagerPayload(json);
    } catch (error) {
      if (!(error instanceof InvalidAlertmanagerPayloadError)) throw error;
      throw new HttpError(
        422,
        error.message,
        { fields: error.errors.map((e) => ({ field: e.field, rule: e.rule, message: e.message })) },
        {},
        'invalid_payload',
      );
    }
    for (const alert of payload.alerts) metrics.alertReceived(alert.status);
    if (payload.truncatedAlerts > 0) {
      log('warn', 'Alertmanager truncated the notification', {
        groupKey: payload.groupKey,
        truncatedAlerts: payload.truncatedAlerts,
      });
    }
    const result = await processPayload(payload, options.routes, options.start, log, options.resolve);
    for (let i = 0; i < result.summary.started; i++) metrics.remediationStarted();
    log('info', 'alertmanager notification', { groupKey: payload.groupKey, ...result.summary });
    // 503 makes Alertmanager redeliver; ids make the redelivery start only what is still missing.
    send(res, result.summary.error > 0 ? 503 : 200, result);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://intake').pathname;
    const handler: IntakeHandler =
      OPEN_PATHS[path] ??
      ((ALERTMANAGER_PATHS as readonly string[]).includes(path) ? 'alertmanager' : 'other');
    const arrived = process.hrtime.bigint();
    res.once('finish', () =>
      metrics.request(handler, res.statusCode, Number(process.hrtime.bigint() - arrived) / 1e9),
    );
    handle(req, res, path).catch((error: unknown) => {
      if (error instanceof HttpError) {
        if (error.rejection) metrics.payloadRejected(error.rejection);
        // Refused before (or while) its body was read: close, so the unread rest is not parsed as a request.
        if ([401, 408, 413].includes(error.status)) res.setHeader('Connection', 'close');
        for (const [name, value] of Object.entries(error.headers))
          if (value !== undefined) res.setHeader(name, value);
        send(res, error.status, { error: error.message, ...error.body });
        return;
      }
      log('error', 'intake request failed', { error: messageOf(error) });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };

  const serverOptions: ServerOptions = {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    // Node checks both timeouts on this interval (default 30s); check often enough to honour them.
    connectionsCheckingInterval: Math.min(1000, headersTimeoutMs),
  };
  const tls = options.tls ?? null;
  const server: Server = tls
    ? createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, onRequest)
    : createServer(serverOptions, onRequest);
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;

  return {
    server,
    protocol: tls ? 'https' : 'http',
    metrics,
    listen: (port, host = '0.0.0.0') =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, `method not allowed; use ${allow}`, { allow }, { Allow: allow });
}

function unauthorized(failure: AuthFailure): HttpError {
  return new HttpError(
    401,
    failure === 'missing' ? 'missing bearer token (Authorization: Bearer …)' : 'invalid bearer token',
    {},
    { 'WWW-Authenticate': authChallenge(failure) },
  );
}

/** The length of a decoded payload's `alerts` array, 0 when it has none (the schema reports that). */
function alertsIn(json: unknown): number {
  if (json === null || typeof json !== 'object' || !('alerts' in json)) return 0;
  const alerts = (json as { alerts: unknown }).alerts;
  return Array.isArray(alerts) ? alerts.length : 0;
}

/** Reads the whole body, refusing more than `limit` bytes (413) or a body slower than `timeoutMs` (408). */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // drain, so the client can read the 413 instead of a reset
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      fail(new HttpError(408, `request body not received within ${timeoutMs}ms`, {}, {}, 'body_timeout'));
    }, timeoutMs);
    const fail = (error: HttpError): void => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      req.resume();
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) fail(tooLarge(limit));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (error) => fail(new HttpError(400, `request body: ${error.message}`)));
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    `request body exceeds ${limit} bytes (INTAKE_MAX_BODY_BYTES)`,
    { maxBodyBytes: limit },
    {},
    'body_too_large',
  );
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
