/**
 * kubeconfig loading as kubectl does it: a KUBECONFIG-style list merges (first definition of a
 * name wins, first current-context wins, missing files skipped), and a context can be chosen;
 * an unknown one names the available ones. Files are written to a temp dir.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import { KubeConfigError, describeKubeConfig, loadKubeConfig } from '../../../src/k8s/kube';

const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
let n = 0;

interface Spec {
  clusters?: Record<string, string>;
  users?: string[];
  contexts?: Record<string, { cluster: string; user: string; namespace?: string }>;
  current?: string;
  /** Extra cluster fields, e.g. a relative certificate-authority path. */
  clusterExtra?: Record<string, Record<string, string>>;
}

function kubeconfig(spec: Spec, folder = dir): string {
  const path = join(folder, `config-${++n}`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: Object.entries(spec.clusters ?? {}).map(([name, server]) => ({
        name,
        cluster: { server, ...spec.clusterExtra?.[name] },
      })),
      users: (spec.users ?? []).map((name) => ({ name, user: { token: `token-${name}` } })),
      contexts: Object.entries(spec.contexts ?? {}).map(([name, context]) => ({ name, context })),
      ...(spec.current !== undefined && { 'current-context': spec.current }),
    }),
  );
  return path;
}

const list = (...paths: string[]) => paths.join(delimiter);

function kubeError(fn: () => unknown): KubeConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KubeConfigError);
    return error as KubeConfigError;
  }
  throw new Error('expected a KubeConfigError');
}

describe('merging a KUBECONFIG list', () => {
  const dev = kubeconfig({
    clusters: { dev: 'https://dev.example:6443' },
    users: ['dev-user'],
    contexts: { dev: { cluster: 'dev', user: 'dev-user' } },
  });
  const prod = kubeconfig({
    clusters: { prod: 'https://prod.example:6443' },
    users: ['prod-user'],
    contexts: { prod: { cluster: 'prod', user: 'prod-user' } },
    current: 'prod',
  });

  it('when two files are listed then clusters, users and contexts of both are there', () => {
    const kc = loadKubeConfig(list(dev, prod));
    expect(kc.getClusters().map((c) => c.name)).toEqual(['dev', 'prod']);
    expect(kc.getUsers().map((u) => u.name)).toEqual(['dev-user', 'prod-user']);
    expect(kc.getContexts().map((c) => c.name)).toEqual(['dev', 'prod']);
  });

  it('when the first file sets no current-context then the first one that does sets it', () => {
    expect(loadKubeConfig(list(dev, prod)).getCurrentContext()).toBe('prod');
  });

  it('when both files set current-context then the first wins', () => {
    const staging = kubeconfig({
      clusters: { staging: 'https://staging.example:6443' },
      users: ['u'],
      contexts: { staging: { cluster: 'staging', user: 'u' } },
      current: 'staging',
    });
    expect(loadKubeConfig(list(staging, prod)).getCurrentContext()).toBe('staging');
    expect(loadKubeConfig(list(prod, staging)).getCurrentContext()).toBe('prod');
  });

  it('when two files define the same name then the first definition wins whole, without an error', () => {
    const other = kubeconfig({
      clusters: { prod: 'https://impostor.example:6443' },
      users: ['prod-user'],
      contexts: { prod: { cluster: 'prod', user: 'prod-user', namespace: 'ignored' } },
    });
    const kc = loadKubeConfig(list(prod, other));
    expect(kc.getClusters()).toHaveLength(1);
    expect(kc.getCluster('prod')?.server).toBe('https://prod.example:6443');
    expect(kc.getContextObject('prod')?.namespace).toBeUndefined();
  });

  it('when KUBECONFIG holds the list then it is used without a path', () => {
    const kc = loadKubeConfig(undefined, { env: { KUBECONFIG: list(dev, prod) } });
    expect(describeKubeConfig(kc)).toEqual({
      context: 'prod',
      cluster: 'prod',
      server: 'https://prod.example:6443',
      user: 'prod-user',
    });
  });

  it('when a path is given then it beats KUBECONFIG', () => {
    const kc = loadKubeConfig(prod, { env: { KUBECONFIG: dev } });
    expect(kc.getContexts().map((c) => c.name)).toEqual(['prod']);
  });

  it('when a listed file does not exist or an entry is empty then it is skipped', () => {
    const kc = loadKubeConfig(list(join(dir, 'missing'), '', prod));
    expect(kc.getCurrentContext()).toBe('prod');
  });

  it('when no listed file exists then the error names them', () => {
    const a = join(dir, 'nope-a');
    const b = join(dir, 'nope-b');
    expect(kubeError(() => loadKubeConfig(list(a, b))).message).toBe(
      `none of the kubeconfig files exist: ${a}, ${b}`,
    );
    expect(kubeError(() => loadKubeConfig(a)).message).toBe(`kubeconfig ${a} does not exist`);
  });

  it('when a file is not a kubeconfig then the error names it', () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, '');
    expect(kubeError(() => loadKubeConfig(list(prod, bad))).message).toContain(
      `cannot load kubeconfig ${bad}`,
    );
  });

  it('when a file names a certificate by a relative path then it resolves against that file', () => {
    const folder = join(dir, 'elsewhere');
    mkdirSync(folder);
    const withCa = kubeconfig(
      {
        clusters: { ca: 'https://ca.example:6443' },
        clusterExtra: { ca: { 'certificate-authority': 'ca.crt' } },
        users: ['u'],
        contexts: { ca: { cluster: 'ca', user: 'u' } },
      },
      folder,
    );
    const kc = loadKubeConfig(list(prod, withCa));
    expect(kc.getCluster('ca')?.caFile).toBe(join(folder, 'ca.crt'));
  });

  it('when no file sets current-context and none is chosen then the error lists the contexts', () => {
    expect(kubeError(() => loadKubeConfig(dev)).message).toBe(
      `kubeconfig ${dev} sets no current-context: choose one with --context or KUBE_CONTEXT (available: dev)`,
    );
  });
});

describe('choosing a context', () => {
  const both = kubeconfig({
    clusters: { a: 'https://a.example', b: 'https://b.example' },
    users: ['u'],
    contexts: { a: { cluster: 'a', user: 'u' }, b: { cluster: 'b', user: 'u' } },
    current: 'a',
  });

  it('when a context is chosen then it replaces the current-context', () => {
    const kc = loadKubeConfig(both, { context: 'b' });
    expect(describeKubeConfig(kc)).toMatchObject({ context: 'b', server: 'https://b.example' });
  });

  it('when the context is chosen across merged files then it is found in any of them', () => {
    const extra = kubeconfig({
      clusters: { c: 'https://c.example' },
      users: ['v'],
      contexts: { c: { cluster: 'c', user: 'v' } },
    });
    expect(describeKubeConfig(loadKubeConfig(list(both, extra), { context: 'c' })).server).toBe(
      'https://c.example',
    );
  });

  it('when the context is unknown then the error names it and lists the available ones', () => {
    expect(kubeError(() => loadKubeConfig(both, { context: 'prdo' })).message).toBe(
      `Kubernetes context "prdo" not found in kubeconfig ${both}; available: a, b`,
    );
  });

  it('when the current-context names no context then the error says so', () => {
    const dangling = kubeconfig({
      clusters: { a: 'https://a.example' },
      users: ['u'],
      contexts: { a: { cluster: 'a', user: 'u' } },
      current: 'gone',
    });
    expect(kubeError(() => loadKubeConfig(dangling)).message).toContain(
      `current-context "gone" of kubeconfig ${dangling} is not one of its contexts`,
    );
  });
});
