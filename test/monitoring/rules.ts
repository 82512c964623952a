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

/** The group of the proxy's alerts and the group of the injection webhook's. */
export const PROXY_GROUP = 'vidispine-auth-proxy';
export const INJECTOR_GROUP = 'vidispine-auth-proxy-injector';

/** The rules of one group of `groups`, which must hold it. */
export function groupRules(groups: readonly RuleGroup[], name: string): AlertRule[] {
  const group = groups.find((g) => g.name === name);
  if (group === undefined) throw new Error(`no rule group ${name}`);
  return group.rules;
}

/** A Prometheus rule file (`groups:`), as `promtool` and `prometheus --config` read it. */
export function ruleFile(groups: readonly RuleGroup[]): string {
  return stringify({ groups });
}
