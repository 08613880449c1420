/**
 * The intake's deployment artifacts against the code: the Alertmanager receiver example sends the
 * bearer token from a file to a path the intake serves, the intake Deployment mounts its token
 * from a Secret where INTAKE_BEARER_TOKEN_FILE points (and loads as the pod would), the
 * NetworkPolicy lets only Alertmanager and Prometheus reach the intake's port, and
 * docker-compose.yml publishes nothing beyond 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALERTMANAGER_PATHS } from '../../../src/intake/server';
import { DEFAULT_MAX_ALERTS, loadIntakeServerSettings } from '../../../src/intake/settings';
import { deployManifests, find, type K8sObject, readYamlDocuments, repoPath } from '../deploy/support';

interface Container {
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
type Deployment = K8sObject & {
  spec: {
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        securityContext: { runAsGroup?: number; fsGroup?: number };
        containers: Container[];
        volumes: {
          name: string;
          secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
        }[];
      };
    };
  };
};
type Service = K8sObject & { spec: { ports: { port: number; targetPort: string | number }[] } };
interface PolicyPeer {
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: { matchLabels?: Record<string, string> };
}
type NetworkPolicy = K8sObject & {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: { from: PolicyPeer[]; ports: { protocol: string; port: number | string }[] }[];
  };
};

const manifests = deployManifests();
const intake = find<Deployment>(manifests, 'Deployment', 'remediation-intake');
const pod = intake.spec.template;
const container = pod.spec.containers[0]!;
const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
const intakePort = container.ports!.find((p) => p.name === 'http')!.containerPort;

describe('deploy/alertmanager-receiver.yaml', () => {
  const [doc] = readYamlDocuments(repoPath('deploy/alertmanager-receiver.yaml'));
  const config = doc!.value as {
    route: { routes: { receiver: string; group_by?: string[]; group_interval?: string }[] };
    receivers: {
      name: string;
      webhook_configs?: {
        url: string;
        max_alerts?: number;
        send_resolved?: boolean;
        http_config?: { authorization?: Record<string, string>; bearer_token?: string };
      }[];
    }[];
  };
  const receiver = config.receivers.find((r) => r.name === 'remediation')!;
  const webhook = receiver.webhook_configs![0]!;

  it('sends the bearer token from a file (never inline in the config)', () => {
    expect(webhook.http_config).toEqual({
      authorization: {
        type: 'Bearer',
        credentials_file: '/etc/alertmanager/secrets/remediation-intake-token',
      },
    });
  });

  it('posts to a path the intake serves, at the intake Service', () => {
    const url = new URL(webhook.url);
    expect(ALERTMANAGER_PATHS).toContain(url.pathname);
    const service = find<Service>(manifests, 'Service', 'remediation-intake');
    expect(url.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}`);
    expect(Number(url.port)).toBe(service.spec.ports[0]!.port);
  });

  it("truncates a group at the intake's alerts-per-payload cap instead of being refused", () => {
    expect(webhook.max_alerts).toBeGreaterThan(0);
    expect(webhook.max_alerts).toBeLessThanOrEqual(DEFAULT_MAX_ALERTS);
  });

  it('routes to the remediation receiver', () => {
    expect(config.route.routes.map((r) => r.receiver)).toContain('remediation');
  });

  it('sends resolved notifications (verification, AlreadyResolved), grouped by alert name and namespace', () => {
    expect(webhook.send_resolved).toBe(true);
    const route = config.route.routes.find((r) => r.receiver === 'remediation')!;
    expect(route.group_by).toEqual(['alertname', 'namespace']);
    expect(route.group_interval).toBe('5m');
  });
});

describe('deploy/worker.yaml intake Deployment', () => {
  it('mounts the token Secret read-only where INTAKE_BEARER_TOKEN_FILE points', () => {
    const file = env['INTAKE_BEARER_TOKEN_FILE']!;
    expect(file).toBeTruthy();
    const mount = container.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
    expect(mount.readOnly).toBe(true);
    const volume = pod.spec.volumes.find((v) => v.name === mount.name)!;
    expect(volume.secret?.secretName).toBe('remediation-intake-token');
    const path = file.slice(mount.mountPath.length + 1);
    expect(volume.secret?.items).toEqual([{ key: 'token', path }]);
  });

  it('lets only the pod group read the token (0440 + fsGroup of the non-root user)', () => {
    const volume = pod.spec.volumes.find((v) => v.secret)!;
    expect(volume.secret?.defaultMode).toBe(0o440);
    expect(pod.spec.securityContext.fsGroup).toBe(pod.spec.securityContext.runAsGroup);
  });

  it('never runs unauthenticated, and loads as the pod would', () => {
    expect(env).not.toHaveProperty('INTAKE_ALLOW_UNAUTHENTICATED');
    const dir = mkdtempSync(join(tmpdir(), 'intake-deploy-'));
    try {
      const token = join(dir, 'token');
      writeFileSync(token, 'from-the-secret\n');
      const settings = loadIntakeServerSettings({ ...env, INTAKE_BEARER_TOKEN_FILE: token });
      expect(settings.auth).toEqual({ bearerToken: 'from-the-secret' });
      expect(settings.tls).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is scraped on its webhook port, where /metrics is served', () => {
    expect(pod.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(intakePort),
      'prometheus.io/path': '/metrics',
    });
  });
});

describe('deploy/networkpolicy.yaml', () => {
  const policy = find<NetworkPolicy>(manifests, 'NetworkPolicy', 'remediation-intake');

  it('selects the intake pods, in their namespace, for ingress only', () => {
    expect(policy.metadata.namespace).toBe(intake.metadata.namespace);
    expect(pod.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
  });

  it('lets in only Alertmanager and Prometheus pods of a selected namespace, on the intake port only', () => {
    const peers = policy.spec.ingress.map((rule) => {
      expect(rule.ports).toEqual([{ protocol: 'TCP', port: intakePort }]);
      // One peer holding both selectors: namespace AND pod (two peers would mean OR).
      expect(rule.from).toHaveLength(1);
      const [peer] = rule.from;
      expect(Object.keys(peer!.namespaceSelector?.matchLabels ?? {})).not.toHaveLength(0);
      return peer!.podSelector?.matchLabels?.['app.kubernetes.io/name'];
    });
    expect(peers).toEqual(['alertmanager', 'prometheus']);
  });
});

describe('docker-compose.yml', () => {
  const [doc] = readYamlDocuments(repoPath('docker-compose.yml'));
  const services = (
    doc!.value as { services: Record<string, { ports?: string[]; environment?: Record<string, string> }> }
  ).services;

  it('publishes every port on 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => `${name} ${p}`),
    );
    expect(published.length).toBeGreaterThan(0);
    expect(published.filter((p) => !/ 127\.0\.0\.1:\d+:\d+$/.test(p))).toEqual([]);
  });

  it('runs the intake with a token file or an explicit INTAKE_ALLOW_UNAUTHENTICATED', () => {
    const intakeEnv = services['intake']!.environment ?? {};
    expect(
      intakeEnv['INTAKE_BEARER_TOKEN_FILE'] !== undefined ||
        intakeEnv['INTAKE_ALLOW_UNAUTHENTICATED'] === 'true',
    ).toBe(true);
    expect(() => loadIntakeServerSettings(intakeEnv)).not.toThrow();
  });
});
