/**
 * `.stack/stack.json`, written by the local stack (`npm run stack`): clients read their defaults
 * from it. Apart from ./settings.ts so that the CLI reads it without loading zod or yaml.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface StackInfo {
  temporal: {
    address: string;
    namespace: string;
    uiUrl: string;
    cli: string;
    /** `dev` (`temporal server start-dev`, plain text) or `production` (`--temporal production`); absent: dev. */
    topology?: 'dev' | 'production';
    /** The production topology's frontend requires these client certificates (mTLS). */
    tls?: StackTemporalTls;
    /** A Temporal profile file (TOML) with the same settings, for TEMPORAL_CONFIG_FILE of the worker and the `temporal` CLI. */
    configFile?: string;
  };
  kubeconfig: string;
  executionNamespace: string;
  controlNamespace: string;
}

export interface StackTemporalTls {
  serverCaCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** The name the frontend's certificate is verified against. */
  serverName: string;
}

export function readStackInfo(path = resolve('.stack/stack.json')): StackInfo | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as StackInfo) : null;
}
