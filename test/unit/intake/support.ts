/** Fixtures and fakes shared by the intake tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RemediationRequestInput } from '../../../src/domain/request';
import type { AlertmanagerPayload } from '../../../src/intake/alertmanager';
import { loadRoutingConfig, type Route } from '../../../src/intake/routing-config';
import type { StartRemediation } from '../../../src/intake/server';

export const FIXTURES = join(__dirname, '../../fixtures/alertmanager');

export type FixtureName =
  'firing-crashloop' | 'firing-replicas-mismatch' | 'resolved-crashloop' | 'group-several' | 'truncated';

export const fixtureNames: readonly FixtureName[] = [
  'firing-crashloop',
  'firing-replicas-mismatch',
  'resolved-crashloop',
  'group-several',
  'truncated',
];

/** The raw JSON text of a webhook fixture. */
export function fixtureText(name: FixtureName): string {
  return readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
}

/** A fresh decoded copy (tests may mutate it). */
export function fixture(name: FixtureName): AlertmanagerPayload {
  return JSON.parse(fixtureText(name)) as AlertmanagerPayload;
}

export function fixtureRoutes(): Route[] {
  return loadRoutingConfig(join(FIXTURES, 'routes.yaml')).routes;
}

/** Behaves like RemediationClient.start: the same id starts once. */
export function fakeStart(): StartRemediation & { calls: RemediationRequestInput[] } {
  const seen = new Set<string>();
  const calls: RemediationRequestInput[] = [];
  const start = (input: RemediationRequestInput) => {
    calls.push(input);
    const id = input.id ?? `generated-${calls.length}`;
    const started = !seen.has(id);
    seen.add(id);
    return Promise.resolve({ id, started });
  };
  return Object.assign(start, { calls });
}

export interface HttpReply {
  status: number;
  body: Record<string, unknown>;
}

export interface HttpTextReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP request with node:http (full control over headers and chunking); the reply's JSON body. */
export async function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer | readonly Buffer[];
  } = {},
): Promise<HttpReply> {
  const reply = await requestText(url, options);
  return {
    status: reply.status,
    body: reply.text ? (JSON.parse(reply.text) as Record<string, unknown>) : {},
  };
}

/**
 * Like {@link request}, with the reply's headers and raw text; `https:` URLs trust `ca` (the
 * self-signed test certificate) and nothing else.
 */
export function requestText(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer | readonly Buffer[];
    ca?: string | Buffer;
  } = {},
): Promise<HttpTextReply> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const settings = {
      method: options.method ?? 'POST',
      headers: options.headers,
      ...(options.ca ? { ca: options.ca } : {}),
    };
    const req = send(url, settings, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    // The server may answer (413) and close while we are still sending: the reply is what counts.
    req.on('error', reject);
    const body = options.body;
    if (Array.isArray(body)) for (const chunk of body) req.write(chunk);
    else if (body !== undefined) req.write(body);
    req.end();
  });
}

export const json = { 'Content-Type': 'application/json' };

/** The bearer token the intake tests configure, and the headers of a webhook call that carries it. */
export const TEST_TOKEN = 'test-token-0123456789abcdef';
export const authJson = { ...json, Authorization: `Bearer ${TEST_TOKEN}` };

/**
 * A throwaway self-signed certificate for `localhost` and 127.0.0.1 (openssl; node cannot make
 * certificates), as PEM text.
 */
export function selfSignedCert(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'intake-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
        .concat(['-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'])
        .concat(['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
      { stdio: 'pipe' },
    );
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
