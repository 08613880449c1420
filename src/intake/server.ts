/**
 * The Alertmanager webhook receiver (node:http, no framework). A payload is validated as a whole
 * (422 naming every field), then each alert is planned by the mapper and started through the
 * injected `start`, so unit tests run without Temporal. Redelivery is safe: ids are idempotency
 * keys, so Alertmanager's retries after a 5xx start nothing twice.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidRequestError, type RemediationRequestInput } from '../domain/request';
import {
  InvalidAlertmanagerPayloadError,
  parseAlertmanagerPayload,
  type AlertmanagerPayload,
} from './alertmanager';
import { planAlert, type AlertDecision, type AlertOutcome } from './mapper';
import type { Route } from './routing-config';

export const ALERTMANAGER_PATHS = ['/api/v1/alerts/alertmanager', '/webhook'] as const;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

export type StartRemediation = (input: RemediationRequestInput) => Promise<{ id: string; started: boolean }>;
export type IntakeLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface IntakeServerOptions {
  routes: readonly Route[];
  start: StartRemediation;
  maxBodyBytes?: number;
  /** How long a client may take to send its body (slow-loris guard). */
  bodyTimeoutMs?: number;
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
): Promise<IntakeResult> {
  const results: AlertDecision[] = [];
  for (const alert of payload.alerts) {
    const plan = planAlert(alert, routes);
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

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function createIntakeServer(options: IntakeServerOptions): IntakeServer {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const log = options.log ?? (() => {});

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://intake').pathname;
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      return send(res, 200, { status: 'ok' });
    }
    if (!(ALERTMANAGER_PATHS as readonly string[]).includes(path))
      throw new HttpError(404, `no route ${path}`);
    if (req.method !== 'POST') throw methodNotAllowed('POST');
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new HttpError(415, `content type must be application/json, got ${JSON.stringify(type ?? '')}`);
    }
    const body = await readBody(req, maxBodyBytes, bodyTimeoutMs);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new HttpError(400, `invalid JSON: ${messageOf(error)}`);
    }
    let payload: AlertmanagerPayload;
    try {
      payload = parseAlertmanagerPayload(json);
    } catch (error) {
      if (!(error instanceof InvalidAlertmanagerPayloadError)) throw error;
      throw new HttpError(422, error.message, {
        fields: error.errors.map((e) => ({ field: e.field, rule: e.rule, message: e.message })),
      });
    }
    if (payload.truncatedAlerts > 0) {
      log('warn', 'Alertmanager truncated the notification', {
        groupKey: payload.groupKey,
        truncatedAlerts: payload.truncatedAlerts,
      });
    }
    const result = await processPayload(payload, options.routes, options.start, log);
    log('info', 'alertmanager notification', { groupKey: payload.groupKey, ...result.summary });
    // 503 makes Alertmanager redeliver; ids make the redelivery start only what is still missing.
    send(res, result.summary.error > 0 ? 503 : 200, result);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) {
        if (error.status === 413 || error.status === 408) res.setHeader('Connection', 'close');
        send(res, error.status, { error: error.message, ...error.body });
        return;
      }
      log('error', 'intake request failed', { error: messageOf(error) });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  return {
    server,
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
  return new HttpError(405, `method not allowed; use ${allow}`, { allow });
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
      fail(new HttpError(408, `request body not received within ${timeoutMs}ms`));
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
  return new HttpError(413, `request body exceeds ${limit} bytes`, { maxBodyBytes: limit });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
