import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART, HELMS, renderChart } from '../deploy/render';
import { ruleFile, ruleGroups, shippedRuleGroups, type RuleGroup } from './rules';
import { describeWithPromtool, promtool } from './tools';

function checkRules(groups: RuleGroup[]): { code: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vap-rules-'));
  try {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, ruleFile(groups));
    return promtool(['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function chartRuleGroups(): RuleGroup[] {
  const { objects } = renderChart(HELMS[0], CHART, [], {
    set: [
      'image.repository=registry.example.com/vidispine-auth-proxy',
      'metrics.prometheusRule.enabled=true',
    ],
  });
  const rules = objects.filter((o) => o.kind === 'PrometheusRule');
  expect(rules).toHaveLength(1);
  return ruleGroups(rules[0]);
}

describeWithPromtool('shipped alert rules under promtool check rules', () => {
  it.each([
    ['deploy/monitoring/prometheusrule.yaml', shippedRuleGroups],
    ["the Helm chart's PrometheusRule, rendered", chartRuleGroups],
  ])('%s: valid, every rule an alert with a severity and a summary', (_where, groups) => {
    const g = groups();
    const { code, output } = checkRules(g);
    if (code !== 0) throw new Error(`promtool check rules failed:\n${output}`);
    const rules = g.flatMap((group) => group.rules);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.alert).toMatch(/^VidispineAuthProxy/);
      expect(['critical', 'warning']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
    }
  });

  it('rejects a broken rule (the check is real)', () => {
    const broken = [{ name: 'x', rules: [{ alert: 'Broken', expr: 'sum by (user (up)' }] }];
    expect(checkRules(broken).code).not.toBe(0);
  });
});
