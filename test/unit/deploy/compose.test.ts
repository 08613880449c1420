/**
 * docker-compose.yml against the Compose Specification schema (vendored from compose-go v2.13.0,
 * test/fixtures/compose-spec), plus what the schema cannot know: the search attributes match the
 * workflow's, every dependency waits on a real condition, and the worker gets the env it reads.
 */
import { readFileSync } from 'node:fs';

import Ajv2020 from 'ajv/dist/2020';

import { searchAttributeDefinitions } from '../../../src/temporal-contract';
import { readYamlDocuments, repoPath } from './support';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { file?: string; content?: string }>;
}

// Compose resolves YAML merge keys (`<<: *temporal-env`) before validating, and so does this read.
const [doc] = readYamlDocuments(repoPath('docker-compose.yml'));
const compose = doc!.value as Compose;
const { services } = compose;

describe('docker-compose.yml', () => {
  it('matches the Compose Specification schema', () => {
    const schema = JSON.parse(
      readFileSync(repoPath('test/fixtures/compose-spec/compose-spec.json'), 'utf8'),
    ) as object;
    // strict off: the schema uses annotations ajv does not know (e.g. `deprecated`).
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
    expect(validate(compose) ? [] : validate.errors).toEqual([]);
  });

  it('has the stack of a full deployment', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['intake', 'postgresql', 'temporal', 'temporal-search-attributes', 'temporal-ui', 'worker'].sort(),
    );
    expect(services.postgresql!.image).toMatch(/^postgres:16\./);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
  });

  it('registers exactly the search attributes the workflow writes, with their types', () => {
    const script = [services['temporal-search-attributes']!.command].flat().join('\n');
    const registered = [
      ...script.matchAll(/\b([A-Za-z]+):(Keyword|Datetime|Text|Int|Double|Bool|KeywordList)\b/g),
    ].map(([, name, type]) => ({ name, type }));
    expect(registered).toEqual(searchAttributeDefinitions);
  });

  it('starts every dependent only on a real condition, and each healthy-condition has a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect({ name, dependency, known: dependency in services }).toEqual({
          name,
          dependency,
          known: true,
        });
        if (condition === 'service_healthy') expect(services[dependency]!.healthcheck).toBeDefined();
      }
    }
    expect(services.worker!.depends_on).toMatchObject({
      temporal: { condition: 'service_healthy' },
      'temporal-search-attributes': { condition: 'service_completed_successfully' },
    });
  });

  it('has a healthcheck on every long-running service except the UI', () => {
    const oneShot = ['temporal-search-attributes', 'temporal-ui'];
    const missing = Object.entries(services).filter(([name, s]) => !oneShot.includes(name) && !s.healthcheck);
    expect(missing.map(([name]) => name)).toEqual([]);
  });

  it('builds the worker from the Dockerfile and runs the intake from the same image', () => {
    expect(services.worker!.build).toMatchObject({ context: '.', dockerfile: 'Dockerfile' });
    expect(services.intake!.image).toBe(services.worker!.image);
    expect(services.intake!.command).toEqual(['node', 'dist/intake/main.js']);
  });

  it('mounts the kubeconfig read-only where KUBECONFIG points', () => {
    for (const name of ['worker', 'intake']) {
      const service = services[name]!;
      const mount = service.volumes?.find((v) => v.target === service.environment?.KUBECONFIG);
      expect({ name, mount }).toEqual({
        name,
        mount: expect.objectContaining({ type: 'bind', read_only: true }),
      });
    }
  });

  it('gives the worker env from the names src/settings.ts reads and a stop grace above 30s', () => {
    expect(Object.keys(services.worker!.environment!).sort()).toEqual(
      [
        'KUBECONFIG',
        'METRICS_PORT',
        'REMEDIATION_TASK_QUEUE',
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
      ].sort(),
    );
    expect(Number(/^(\d+)s$/.exec(services.worker!.stop_grace_period ?? '')?.[1])).toBeGreaterThan(30);
  });

  it('refers only to config files that exist', () => {
    for (const config of Object.values(compose.configs ?? {}))
      if (config.file) expect(() => readFileSync(repoPath(config.file!))).not.toThrow();
  });
});
