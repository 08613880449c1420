/**
 * What the Alertmanager conformance tests drive and read: a sender that posts alerts to
 * Alertmanager's v2 API the way Prometheus does, the intake's real entrypoint as a child process,
 * Prometheus text metrics, and counts of what was started (Temporal visibility through the
 * `temporal` CLI, PipelineRuns through the API server).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { TEKTON_GROUP, TEKTON_VERSION, TektonPlural, type PipelineRun } from '../../../src/domain/tekton';

const run = promisify(execFile);
const REPO_ROOT = join(__dirname, '../../..');

export interface SentAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** Set once resolved; a firing alert's endsAt is renewed on every send. */
  resolvedAt: string | null;
  generatorURL: string;
}

/**
 * Posts alerts as Prometheus' notifier does: every active alert again on each resend tick with
 * `endsAt` renewed into the future (Prometheus: 4 × max(resend delay, evaluation interval)), the
 * same `startsAt` for as long as the alert fires, and a resolved alert with `endsAt` = the time it
 * resolved, which Prometheus keeps re-sending for a while. A new firing gets a new `startsAt`.
 */
export class PrometheusSender {
  private readonly alerts = new Map<string, SentAlert>();
  private readonly timer: NodeJS.Timeout;
  private sending: Promise<void> = Promise.resolve();
  /** Posts that Alertmanager did not answer 200 (the tests expect none). */
  readonly failures: string[] = [];

  constructor(
    private readonly alertmanagerUrl: string,
    /** Prometheus' --rules.alert.resend-delay (1m there): how often active alerts are posted again. */
    private readonly resendMs = 1000,
    /**
     * How far ahead endsAt lies. Prometheus uses 4 resend delays; here more than 4 s, so a test
     * machine busy for a few seconds does not let Alertmanager time the alert out by itself.
     */
    private readonly lifetimeMs = 20_000,
  ) {
    this.timer = setInterval(() => void this.send([...this.alerts.values()]), resendMs);
  }

  /** Starts firing (a new firing when the alert had resolved): posted now and on every tick. */
  async fire(...labelSets: Record<string, string>[]): Promise<SentAlert[]> {
    const startsAt = new Date().toISOString();
    const fired = labelSets.map((labels) => {
      const alert: SentAlert = {
        labels,
        annotations: {
          description: `Deployment ${labels.namespace ?? ''}/${labels.deployment ?? labels.statefulset ?? ''} has not matched the expected number of replicas for longer than 15 minutes.`,
          runbook_url: `https://runbooks.prometheus-operator.dev/runbooks/kubernetes/${(labels.alertname ?? '').toLowerCase()}`,
          summary: 'Replicas mismatch.',
        },
        startsAt,
        resolvedAt: null,
        generatorURL: `http://prometheus-k8s-0:9090/graph?g0.expr=${encodeURIComponent(labels.alertname ?? '')}&g0.tab=1`,
      };
      this.alerts.set(key(labels), alert);
      return alert;
    });
    await this.send(fired);
    return fired;
  }

  /** The alert stopped firing: posted now with endsAt in the past, and on later ticks. */
  async resolve(...labelSets: Record<string, string>[]): Promise<void> {
    const resolvedAt = new Date(Date.now() - 1).toISOString();
    const resolved = labelSets.map((labels) => {
      const alert = this.alerts.get(key(labels));
      if (!alert) throw new Error(`never fired: ${key(labels)}`);
      alert.resolvedAt ??= resolvedAt;
      return alert;
    });
    await this.send(resolved);
  }

  /**
   * The alert resolves and fires again at once (a rule that cleared for one evaluation): the
   * resolved and the new firing, in one request so that no Alertmanager flush falls between them.
   */
  async flap(labels: Record<string, string>): Promise<SentAlert> {
    const old = this.alerts.get(key(labels));
    if (!old) throw new Error(`never fired: ${key(labels)}`);
    const resolved = { ...old, resolvedAt: new Date(Date.now() - 1).toISOString() };
    const fired: SentAlert = { ...old, startsAt: new Date().toISOString(), resolvedAt: null };
    this.alerts.set(key(labels), fired);
    await this.send([resolved, fired]);
    return fired;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sending;
  }

  private send(alerts: SentAlert[]): Promise<void> {
    if (alerts.length === 0) return this.sending;
    const endsAt = new Date(Date.now() + this.lifetimeMs).toISOString();
    const body = alerts.map((a) => ({
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.resolvedAt ?? endsAt,
      generatorURL: a.generatorURL,
    }));
    this.sending = this.sending.then(async () => {
      try {
        const res = await fetch(`${this.alertmanagerUrl}/api/v2/alerts`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (res.status !== 200) this.failures.push(`HTTP ${res.status}: ${await res.text()}`);
      } catch (error) {
        this.failures.push(String(error));
      }
    });
    return this.sending;
  }
}

function key(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

/** Alertmanager's fingerprint of an alert it holds (the intake receives the same in each webhook). */
export async function alertmanagerFingerprint(
  alertmanagerUrl: string,
  labels: Record<string, string>,
): Promise<string> {
  const filter = Object.entries(labels)
    .map(([k, v]) => `filter=${encodeURIComponent(`${k}="${v}"`)}`)
    .join('&');
  const res = await fetch(`${alertmanagerUrl}/api/v2/alerts?${filter}`);
  const alerts = (await res.json()) as { fingerprint: string; labels: Record<string, string> }[];
  const match = alerts.filter((a) => key(a.labels) === key(labels));
  if (match.length !== 1) throw new Error(`Alertmanager holds ${match.length} alerts with ${key(labels)}`);
  return match[0]!.fingerprint;
}

// ---------------------------------------------------------------------------------- metrics

/** Sum of the samples of `name` whose labels include `labels` (Prometheus text format). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${url}/metrics: HTTP ${res.status}`);
  return res.text();
}

// ---------------------------------------------------------------------------------- intake

/** One JSON log line of the intake. */
export type IntakeLogLine = Record<string, unknown> & { msg: string };

export interface IntakeProcess {
  /** e.g. http://127.0.0.1:40123 (webhooks at /api/v1/alerts/alertmanager). */
  url: string;
  /** Every log line so far, in order. */
  lines: IntakeLogLine[];
  /** The `alertmanager notification` lines of one Alertmanager group (its groupKey contains `groupKeyPart`). */
  notifications(groupKeyPart: string): IntakeLogLine[];
  stop(): Promise<void>;
}

/** `node dist/intake/main.js`, as the image runs it, listening on a free loopback port. */
export async function startIntake(env: Record<string, string>): Promise<IntakeProcess> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(INTAKE_|TEMPORAL_|REMEDIATION_|LOG_LEVEL)/.test(k)),
  );
  const child: ChildProcess = spawn(process.execPath, [join(REPO_ROOT, 'dist/intake/main.js')], {
    cwd: REPO_ROOT,
    env: { ...inherited, INTAKE_HOST: '127.0.0.1', INTAKE_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: IntakeLogLine[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: IntakeLogLine;
      try {
        line = JSON.parse(text) as IntakeLogLine;
      } catch {
        return;
      }
      lines.push(line);
      if (line.msg === 'intake listening') resolve(new URL(String(line.url)).origin);
    });
    void exited.then((code) =>
      reject(
        new Error(
          `the intake exited (${String(code)}) before listening: ${JSON.stringify(lines)} ${stderr.join('')}`,
        ),
      ),
    );
  });
  const url = await listening;
  return {
    url,
    lines,
    notifications: (part) =>
      lines.filter((l) => l.msg === 'alertmanager notification' && String(l.groupKey).includes(part)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------- what started

export interface TemporalTarget {
  cli: string;
  address: string;
  namespace: string;
}

/** `temporal workflow count --query …`: what visibility holds, as an operator would ask it. */
export async function countWorkflows(temporal: TemporalTarget, query: string): Promise<number> {
  const { stdout } = await run(temporal.cli, [
    'workflow',
    'count',
    `--address=${temporal.address}`,
    `--namespace=${temporal.namespace}`,
    `--query=${query}`,
    '--output=json',
  ]);
  const count = (JSON.parse(stdout) as { count?: string | number }).count;
  return Number(count ?? 0);
}

/** The PipelineRuns the product created for a fingerprint (its `remediation.dev/fingerprint` annotation). */
export async function pipelineRunsOfFingerprint(
  kc: KubeConfig,
  namespace: string,
  fingerprintKey: string,
): Promise<PipelineRun[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
    group: TEKTON_GROUP,
    version: TEKTON_VERSION,
    namespace,
    plural: TektonPlural.PipelineRun,
  })) as { items: PipelineRun[] };
  return list.items.filter(
    (r) =>
      (r.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[
        'remediation.dev/fingerprint'
      ] === fingerprintKey,
  );
}
