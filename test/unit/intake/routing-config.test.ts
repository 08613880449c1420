import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FieldError } from '../../../src/domain/request';
import {
  InvalidRoutingConfigError,
  compileTemplate,
  loadRoutingConfig,
  parseRoutingConfig,
  renderTemplate,
  routeMatches,
} from '../../../src/intake/routing-config';
import { fixtureRoutes } from './support';

const route = (overrides: Record<string, unknown> = {}) => ({
  name: 'restart',
  match: { alertname: 'KubePodCrashLooping' },
  action: {
    id: 'restart-deployment',
    pipeline: 'restart-deployment',
    params: { d: '{{ labels.deployment }}' },
  },
  target: { kind: 'Deployment', name: '{{ labels.deployment }}', namespace: '{{ labels.namespace }}' },
  ...overrides,
});

function errorsOf(input: unknown): FieldError[] {
  try {
    parseRoutingConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRoutingConfigError);
    return (e as InvalidRoutingConfigError).errors;
  }
  throw new Error('expected the config to be rejected');
}

const fields = (errors: FieldError[]) => errors.map((e) => `${e.field}:${e.rule}`);

describe('routing config', () => {
  it('when the YAML fixture is loaded then its routes are compiled in order', () => {
    const routes = fixtureRoutes();
    expect(routes.map((r) => r.name)).toEqual(['crashloop-restart', 'replicas-mismatch']);
    expect(routes[0]).toMatchObject({
      severityLabel: 'severity',
      deadline: 1_800_000,
      action: { timeout: 600_000 },
    });
    expect(routes[0]?.target.name).toEqual([{ source: 'labels', key: 'deployment' }]);
  });

  it('when the file is JSON then it is read as JSON', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'routes-')), 'routes.json');
    writeFileSync(path, JSON.stringify({ routes: [route()] }));
    expect(loadRoutingConfig(path).routes).toHaveLength(1);
  });

  it('when the file is not valid YAML then (root) names the syntax error', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'routes-')), 'routes.yaml');
    writeFileSync(path, 'routes: [\n');
    expect(() => loadRoutingConfig(path)).toThrow(InvalidRoutingConfigError);
  });

  it.each<[string, unknown, string[]]>([
    [
      'a template uses an unknown placeholder',
      {
        routes: [
          route(),
          route({ name: 'b' }),
          route({ name: 'c', target: { kind: 'Deployment', name: '{{ alert.name }}' } }),
        ],
      },
      ['routes[2].target.name:template'],
    ],
    [
      'a literal Kind is lower-case (S2 at load time)',
      { routes: [route({ target: { kind: 'deployment', name: 'api', namespace: 'prod' } })] },
      ['routes[0].target.kind:pattern'],
    ],
    [
      'a literal namespace is not DNS-1123',
      { routes: [route({ target: { kind: 'Deployment', name: 'api', namespace: 'Prod' } })] },
      ['routes[0].target.namespace:pattern'],
    ],
    [
      'a template has a stray brace',
      { routes: [route({ target: { kind: 'Deployment', name: 'api-{{ labels.x' } })] },
      ['routes[0].target.name:template'],
    ],
    [
      'a matcher regex does not compile',
      { routes: [route({ match: { namespace: { regex: 'prod-(' } } })] },
      ['routes[0].match.namespace.regex:regex'],
    ],
    [
      'a matcher is neither a value nor a regex',
      { routes: [route({ match: { namespace: 3 } })] },
      ['routes[0].match.namespace:format'],
    ],
    [
      'a matcher label name is not a Prometheus label name',
      { routes: [route({ match: { 'app.kubernetes.io/name': 'x' } })] },
      ['routes[0].match["app.kubernetes.io/name"]:pattern'],
    ],
    [
      'a param name is not a Tekton param name',
      { routes: [route({ action: { id: 'a', pipeline: 'p', params: { '1st': 'x' } } })] },
      ['routes[0].action.params["1st"]:pattern'],
    ],
    [
      'a timeout is not a duration',
      { routes: [route({ action: { id: 'a', pipeline: 'p', timeout: '10 minutes' } })] },
      ['routes[0].action.timeout:duration'],
    ],
    [
      'a deadline is not a duration',
      { routes: [route({ deadline: '1d' })] },
      ['routes[0].deadline:duration'],
    ],
    [
      'a key is misspelt',
      { routes: [route({ severity_label: 'sev' })] },
      ['routes[0].severity_label:unknownKey'],
    ],
    ['two routes share a name', { routes: [route(), route()] }, ['routes[1].name:unique']],
    ['there are no routes', { routes: [] }, ['routes:min']],
    ['the action is missing', { routes: [route({ action: undefined })] }, ['routes[0].action:required']],
  ])('when %s then the error names the field', (_, input, expected) => {
    const errors = errorsOf(input);
    expect(fields(errors)).toEqual(expected);
    for (const e of errors) expect(e.message).not.toBe('');
  });

  it('when a template is rendered then only labels and annotations are substituted', () => {
    const tpl = compileTemplate('{{labels.namespace}}/{{ annotations.summary }}-x');
    if (typeof tpl === 'string') throw new Error(tpl);
    expect(renderTemplate(tpl, { labels: { namespace: 'shop' }, annotations: { summary: 'down' } })).toEqual({
      ok: true,
      value: 'shop/down-x',
    });
    expect(renderTemplate(tpl, { labels: { namespace: '' }, annotations: {} })).toEqual({
      ok: false,
      missing: 'labels.namespace',
    });
  });

  it.each([
    ['{{ labels.namespace }}/{{ annotations.summary }}', 'shop/down'],
    ['{{ .Labels.namespace }}/{{ .Annotations.summary }}', 'shop/down'],
    ['{{.Labels.namespace}}/{{.Annotations.summary}}', 'shop/down'],
    ['{{ .Labels.namespace }}/{{ annotations.summary }}', 'shop/down'],
    ['{{ .CommonLabels.cluster }}:{{ .CommonAnnotations.team }}', 'eu-1:core'],
  ])('when a template is %p then it renders %p (both syntaxes read the same alert)', (text, value) => {
    const tpl = compileTemplate(text);
    if (typeof tpl === 'string') throw new Error(tpl);
    const context = {
      labels: { namespace: 'shop' },
      annotations: { summary: 'down' },
      commonLabels: { cluster: 'eu-1' },
      commonAnnotations: { team: 'core' },
    };
    expect(renderTemplate(tpl, context)).toEqual({ ok: true, value });
  });

  it('when .Labels and labels name the same label then they compile to the same template', () => {
    expect(compileTemplate('{{ .Labels.pod }}')).toEqual(compileTemplate('{{ labels.pod }}'));
    expect(compileTemplate('{{ .Annotations.summary }}')).toEqual(
      compileTemplate('{{ annotations.summary }}'),
    );
  });

  it('when a common label is absent (the notification had no common value) then it is reported missing', () => {
    const tpl = compileTemplate('{{ .CommonLabels.cluster }}');
    if (typeof tpl === 'string') throw new Error(tpl);
    expect(renderTemplate(tpl, { labels: { cluster: 'eu-1' }, annotations: {} })).toEqual({
      ok: false,
      missing: 'commonLabels.cluster',
    });
  });

  it.each([
    '{{ .Labels }}',
    '{{ .labels.pod }}',
    '{{ Labels.pod }}',
    '{{ .Labels.pod | toUpper }}',
    '{{ index .Labels "pod" }}',
    '{{ .GroupLabels.namespace }}',
    '{{- .Labels.pod -}}',
  ])('when an Alertmanager-style template is %p then it is refused, naming both syntaxes', (text) => {
    const error = compileTemplate(text);
    expect(typeof error).toBe('string');
    expect(error).toContain('{{ .Labels.NAME }}');
    expect(error).toContain('{{ labels.NAME }}');
  });

  it.each(['{{ labels }}', '{{ labels.a.b }}', '{{ process.env.HOME }}', '{{ labels["x"] }}', '}} {{'])(
    'when a template is %p then it is refused',
    (text) => {
      expect(typeof compileTemplate(text)).toBe('string');
    },
  );

  it('when matching then regexes are anchored and an absent label matches as ""', () => {
    const [r] = parseRoutingConfig({
      routes: [route({ match: { namespace: { regex: 'prod-.*' }, team: '' } })],
    }).routes;
    expect(routeMatches(r!, { namespace: 'prod-eu' })).toBe(true);
    expect(routeMatches(r!, { namespace: 'staging-prod-eu' })).toBe(false);
    expect(routeMatches(r!, { namespace: 'prod-eu', team: 'core' })).toBe(false);
  });
});
