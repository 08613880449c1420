/**
 * The alert rules and the Grafana dashboard the Helm chart ships, checked with Prometheus's own
 * promtool (built from the Prometheus Go module, see support/promtool.ts): the rule file is valid,
 * every alert passes its unit tests on synthetic series (test/prometheus/rules.test.yaml) firing
 * and not firing, every dashboard query is valid PromQL, and every metric they name is documented.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { IntakeMetrics } from '../../src/intake/metrics';
import { promtool, provisionPromtool } from './support/promtool';

const repoRoot = join(__dirname, '../..');
const RULES = 'charts/remediation-orchestrator/files/prometheus-rules.yaml';
const RULE_TESTS = 'test/prometheus/rules.test.yaml';
const DASHBOARD = 'charts/remediation-orchestrator/files/grafana-dashboard.json';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
  }[];
}
interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

const read = (path: string): string => readFileSync(join(repoRoot, path), 'utf8');
const rules = (): AlertRule[] => (parseYaml(read(RULES)) as RuleFile).groups.flatMap((g) => g.rules);
const panels = (): Panel[] => (JSON.parse(read(DASHBOARD)) as { panels: Panel[] }).panels;

/** Every `remediation_…` or `temporal_…` metric family an expression names (histogram series to their family). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:remediation|temporal)_[a-z0-9_]+)/g)].map((m) =>
    m[1]!.replace(/_(bucket|sum|count)$/, ''),
  );
}

describe('Prometheus alert rules and the Grafana dashboard (promtool)', () => {
  // A cold cache builds promtool from source: minutes on a small machine.
  beforeAll(() => provisionPromtool(), 30 * 60_000);

  it('promtool check rules: the rule file is valid', async () => {
    const run = await promtool(['check', 'rules', RULES]);
    expect(run).toMatchObject({ code: 0 });
    expect(run.stdout).toContain(`SUCCESS: ${rules().length} rules found`);
  });

  it('promtool test rules: every alert passes its tests on synthetic series', async () => {
    const run = await promtool(['test', 'rules', RULE_TESTS]);
    expect({ code: run.code, out: run.stdout + run.stderr }).toEqual({
      code: 0,
      out: expect.stringContaining('SUCCESS'),
    });
  });

  it('every alert is tested both firing and not firing', () => {
    const tests = parseYaml(read(RULE_TESTS)) as RuleTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const alerts = rules().map((r) => r.alert);
    expect(alerts).toEqual([
      'RemediationManualReviewPending',
      'RemediationFingerprintBreakerOpen',
      'RemediationBudgetExhausted',
      'RemediationPipelineRunFailureRatioHigh',
    ]);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, firing: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, firing: true });
      expect({ alert, quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, quiet: true });
    }
    for (const rule of rules()) {
      expect([rule.alert, rule.labels?.severity]).toEqual([
        rule.alert,
        expect.stringMatching(/^(warning|critical)$/),
      ]);
      expect([rule.alert, Object.keys(rule.annotations ?? {}).sort()]).toEqual([
        rule.alert,
        ['description', 'summary'],
      ]);
    }
  });

  it('the tests catch a changed rule: a longer `for` fails them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-rules-'));
    const changed = parseYaml(read(RULES)) as RuleFile;
    const rule = changed.groups[0]!.rules.find((r) => r.alert === 'RemediationManualReviewPending')!;
    rule.for = '45m';
    writeFileSync(join(dir, 'rules.yaml'), stringifyYaml(changed));
    const tests = parseYaml(read(RULE_TESTS)) as RuleTests;
    tests.rule_files = ['rules.yaml'];
    writeFileSync(join(dir, 'tests.yaml'), stringifyYaml(tests));
    const run = await promtool(['test', 'rules', join(dir, 'tests.yaml')]);
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toMatch(/RemediationManualReviewPending/);
  });

  it("every dashboard query is valid PromQL (checked as recording rules with Grafana's $__rate_interval as 5m)", async () => {
    const exprs = panels().flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    const dir = mkdtempSync(join(tmpdir(), 'grafana-dashboard-'));
    const asRules = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs.map((expr, i) => ({
            record: `dashboard:query_${i}`,
            expr: expr.replaceAll('$__rate_interval', '5m'),
          })),
        },
      ],
    };
    writeFileSync(join(dir, 'dashboard-queries.yaml'), stringifyYaml(asRules));
    const run = await promtool(['check', 'rules', join(dir, 'dashboard-queries.yaml')]);
    expect({ code: run.code, out: run.stdout + run.stderr }).toEqual({
      code: 0,
      out: expect.stringContaining(`SUCCESS: ${exprs.length} rules found`),
    });
  });

  it('every metric the rules and the dashboard use is documented in docs/observability.md', () => {
    const docs = read('docs/observability.md');
    const used = new Set([
      ...rules().flatMap((r) => metricNames(r.expr)),
      ...panels().flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))),
    ]);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
  });

  it("promtool check metrics: the intake's exposition follows Prometheus's naming conventions", async () => {
    const metrics = new IntakeMetrics();
    metrics.request('alertmanager', 200, 0.02);
    metrics.alertReceived('firing');
    metrics.remediationStarted();
    const run = await promtool(['check', 'metrics'], metrics.render());
    expect({ code: run.code, problems: (run.stdout + run.stderr).trim() }).toEqual({ code: 0, problems: '' });
  });
});
