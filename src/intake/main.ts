/**
 * `npm run intake`: the Alertmanager webhook receiver. Reads INTAKE_PORT (default 9095),
 * INTAKE_HOST (default 0.0.0.0), INTAKE_ROUTES (routing config, required), INTAKE_MAX_BODY_BYTES,
 * the token, TLS and bounds of ./settings.ts (INTAKE_BEARER_TOKEN_FILE is required unless
 * INTAKE_ALLOW_UNAUTHENTICATED=true; checked before anything connects), and finds Temporal like
 * the worker does: TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / REMEDIATION_TASK_QUEUE, else
 * `.stack/stack.json`. Stops gracefully on SIGINT/SIGTERM.
 */
import { z } from 'zod';
import { RemediationClient } from '../client';
import { resolveTemporalConnection } from '../temporal-connection';
import { InvalidConfigError } from '../domain/config';
import { createLogger, logLevelFromEnv, type Logger } from '../log';
import { readStackInfo, type StackInfo } from '../settings';
import { DEFAULT_TASK_QUEUE } from '../temporal-contract';
import { fieldErrorsOf } from './fields';
import { loadRoutingConfig } from './routing-config';
import { DEFAULT_MAX_BODY_BYTES, createIntakeServer, type IntakeLog } from './server';
import { loadIntakeServerSettings } from './settings';

// Keyed by the environment variable, so an error names what the operator set.
const IntakeEnvSchema = z.object({
  INTAKE_PORT: z.coerce.number().int().min(0).max(65535).default(9095),
  INTAKE_HOST: z.string().min(1).default('0.0.0.0'),
  INTAKE_ROUTES: z.string().min(1),
  INTAKE_MAX_BODY_BYTES: z.coerce.number().int().min(1).default(DEFAULT_MAX_BODY_BYTES),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  REMEDIATION_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
});

export interface IntakeSettings {
  port: number;
  host: string;
  /** Path of the routing config (JSON or YAML). */
  routes: string;
  maxBodyBytes: number;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
}

export function loadIntakeSettings(
  env: NodeJS.ProcessEnv = process.env,
  stack: StackInfo | null = env.TEMPORAL_ADDRESS ? null : readStackInfo(),
): IntakeSettings {
  const input = Object.fromEntries(
    Object.entries({
      ...env,
      TEMPORAL_ADDRESS: env.TEMPORAL_ADDRESS ?? stack?.temporal.address,
      TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE ?? stack?.temporal.namespace,
    }).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = IntakeEnvSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new InvalidConfigError(fieldErrorsOf(parsed.error));
  const e = parsed.data;
  return {
    port: e.INTAKE_PORT,
    host: e.INTAKE_HOST,
    routes: e.INTAKE_ROUTES,
    maxBodyBytes: e.INTAKE_MAX_BODY_BYTES,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.REMEDIATION_TASK_QUEUE,
  };
}

/** The intake's events through the shared JSON logger (src/log.ts). */
const intakeLog =
  (logger: Logger): IntakeLog =>
  (level, message, fields) =>
    logger.log(level, message, fields);

export async function runIntake(): Promise<void> {
  const jsonLog = intakeLog(createLogger({ name: 'intake', level: logLevelFromEnv(process.env) }));
  const settings = loadIntakeSettings();
  // Token, TLS and bounds first: a misconfigured intake refuses to start before it connects.
  const server = loadIntakeServerSettings();
  for (const warning of server.warnings) jsonLog('warn', warning);
  const { routes } = loadRoutingConfig(settings.routes);
  // TEMPORAL_* variables and the Temporal profile (TLS, API key) first; then the settings' stack.json/default.
  const temporal = resolveTemporalConnection({
    fallback: {
      address: settings.temporalAddress,
      namespace: settings.temporalNamespace,
      source: 'intake settings',
    },
  });
  for (const warning of temporal.warnings) jsonLog('warn', warning);
  const client = await RemediationClient.connect({
    connection: temporal.connectionOptions,
    namespace: temporal.namespace,
    taskQueue: settings.taskQueue,
  });
  const intake = createIntakeServer({
    routes,
    // The remediation admits its action itself (a refusal ends Skipped ActionNotAllowed, on record).
    start: (input) => client.start(input, { checkAction: false }),
    resolve: (fingerprint) => client.resolveFingerprint(fingerprint, 'Alertmanager: resolved'),
    maxBodyBytes: settings.maxBodyBytes,
    auth: server.auth,
    tls: server.tls,
    maxAlerts: server.maxAlerts,
    headersTimeoutMs: server.headersTimeoutMs,
    requestTimeoutMs: server.requestTimeoutMs,
    maxConnections: server.maxConnections,
    log: jsonLog,
  });
  const address = await intake.listen(settings.port, settings.host);
  jsonLog('info', 'intake listening', {
    url: `${intake.protocol}://${address.address}:${address.port}/api/v1/alerts/alertmanager`,
    auth: 'bearerToken' in server.auth ? 'bearer token' : 'NONE (INTAKE_ALLOW_UNAUTHENTICATED=true)',
    tls: server.tls ? { certFile: server.tls.certFile } : false,
    limits: {
      maxBodyBytes: settings.maxBodyBytes,
      maxAlerts: server.maxAlerts,
      headersTimeoutMs: server.headersTimeoutMs,
      requestTimeoutMs: server.requestTimeoutMs,
      maxConnections: server.maxConnections,
    },
    routes: routes.map((r) => r.name),
    temporal: `${temporal.summary}, task queue ${settings.taskQueue}`,
  });

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      jsonLog('info', `${signal}: draining in-flight requests`);
      // A second signal means "now".
      process.once(signal, () => process.exit(130));
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await intake.close();
  await client.close();
  jsonLog('info', 'intake stopped');
}

if (require.main === module) {
  runIntake().catch((error: unknown) => {
    // LOG_LEVEL itself may be what is wrong: a failure to start is written whatever the level.
    createLogger({ name: 'intake' }).error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
