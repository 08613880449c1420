/** Fixtures and fakes shared by the intake tests. */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
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

/** One HTTP request with node:http (full control over headers and chunking); the reply's JSON body. */
export function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer | readonly Buffer[];
  } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'POST', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
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
