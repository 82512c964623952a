import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const PROMETHEUS_RULE = join(ROOT, 'deploy', 'monitoring', 'prometheusrule.yaml');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** `spec.groups` of a PrometheusRule object: what the Operator hands Prometheus. */
export function ruleGroups(prometheusRule: unknown): RuleGroup[] {
  const spec = (prometheusRule as { spec?: { groups?: unknown } } | null)?.spec;
  if (!Array.isArray(spec?.groups)) throw new Error('not a PrometheusRule: no spec.groups');
  return spec.groups as RuleGroup[];
}

export function shippedRuleGroups(): RuleGroup[] {
  return ruleGroups(parseYaml(readFileSync(PROMETHEUS_RULE, 'utf8')));
}

/** A Prometheus rule file (`groups:`), as `promtool` and `prometheus --config` read it. */
export function ruleFile(groups: readonly RuleGroup[]): string {
  return stringify({ groups });
}
