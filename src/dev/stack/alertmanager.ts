/**
 * Alertmanager for the conformance stack and its tests: its configuration (webhook receivers to the
 * intake with the bearer token from `credentials_file`, as an operator writes it), the process, and
 * a configuration reload through `POST /-/reload`, checked against what Alertmanager then reports.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { spawnLogged, waitFor, type Child } from './proc';

/** One webhook receiver; without `credentialsFile` Alertmanager sends no Authorization header. */
export interface WebhookReceiver {
  name: string;
  url: string;
  credentialsFile?: string;
}

/** A child route of the root route: alerts matching every matcher go to `receiver` (not the default). */
export interface ChildRoute {
  matchers: string[];
  receiver: string;
}

export interface AlertmanagerConfigOptions {
  /** The first is the root route's receiver. */
  receivers: [WebhookReceiver, ...WebhookReceiver[]];
  routes?: ChildRoute[];
  groupBy?: string[];
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
}

/**
 * alertmanager.yml as the intake wants it: grouped by alert name and namespace (a notification
 * never mixes namespaces, the scope of a remediation's fingerprint), resolved notifications on (they
 * end a verification), the token read from a file. Short group timings by default, so a test sees
 * firing, repeated and resolved notifications within seconds.
 */
export function alertmanagerConfig(opts: AlertmanagerConfigOptions): string {
  return stringify({
    route: {
      receiver: opts.receivers[0].name,
      group_by: opts.groupBy ?? ['alertname', 'namespace'],
      group_wait: opts.groupWait ?? '1s',
      group_interval: opts.groupInterval ?? '2s',
      repeat_interval: opts.repeatInterval ?? '1m',
      ...(opts.routes?.length
        ? { routes: opts.routes.map((r) => ({ matchers: r.matchers, receiver: r.receiver })) }
        : {}),
    },
    receivers: opts.receivers.map((r) => ({
      name: r.name,
      webhook_configs: [
        {
          url: r.url,
          send_resolved: true,
          ...(r.credentialsFile
            ? { http_config: { authorization: { type: 'Bearer', credentials_file: r.credentialsFile } } }
            : {}),
        },
      ],
    })),
  });
}

export interface Alertmanager {
  child: Child;
  /** e.g. http://127.0.0.1:19093 */
  url: string;
  configFile: string;
  /** Writes `config` to the config file and has Alertmanager load it (`POST /-/reload`). */
  reload(config: string): Promise<void>;
  stop(): Promise<void>;
}

export interface StartAlertmanagerOptions {
  /** The alertmanager binary. */
  path: string;
  /** Written to `configFile` before the start. */
  config: string;
  configFile: string;
  storageDir: string;
  port: number;
  logFile: string;
}

export async function startAlertmanager(opts: StartAlertmanagerOptions): Promise<Alertmanager> {
  const url = `http://127.0.0.1:${String(opts.port)}`;
  writeFileSync(opts.configFile, opts.config);
  const child = spawnLogged(
    'alertmanager',
    opts.path,
    [
      `--config.file=${opts.configFile}`,
      `--storage.path=${opts.storageDir}`,
      `--web.listen-address=127.0.0.1:${String(opts.port)}`,
      // An empty address turns gossip off: one Alertmanager, no cluster.
      '--cluster.listen-address=',
    ],
    opts.logFile,
  );
  await waitFor('alertmanager /-/ready', async () => (await fetch(`${url}/-/ready`)).status === 200, {
    timeoutMs: 30_000,
    intervalMs: 250,
    child,
  });
  return {
    child,
    url,
    configFile: opts.configFile,
    async reload(config) {
      writeFileSync(opts.configFile, config);
      const res = await fetch(`${url}/-/reload`, { method: 'POST' });
      // Synchronous: 200 once the new config is in force; a refused one keeps the old config
      // running and answers 500 with the reason.
      if (res.status !== 200)
        throw new Error(`alertmanager refused the reload: HTTP ${res.status}: ${await res.text()}`);
    },
    stop: () => child.stop(),
  };
}
