// What the shipped monitoring asks Prometheus: every Grafana panel's queries and every
// alert's expression, read from the files users install.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const DASHBOARD_FILE = join('deploy', 'monitoring', 'grafana-dashboard.json');
export const RULE_FILE = join('deploy', 'monitoring', 'prometheusrule.yaml');

/**
 * Grafana's template variables as a user viewing everything would have them: every job and
 * user (the variables' "All" value) and `$__rate_interval` for the given scrape interval
 * (Grafana's own rule: four scrape intervals at least).
 */
export function substituteVariables(expr, { scrapeSeconds }) {
  return expr
    .replaceAll('$__rate_interval', `${4 * scrapeSeconds}s`)
    .replace(/\$(job|user|namespace|instance|pod)\b/g, '.*');
}

/** Panels with their PromQL targets: [{ title, type, targets: [{ expr, legend }] }]. */
export function dashboardPanels(root) {
  const dashboard = JSON.parse(readFileSync(join(root, DASHBOARD_FILE), 'utf8'));
  const panels = [];
  const walk = (list) => {
    for (const p of list ?? []) {
      if (p.type === 'row') walk(p.panels);
      else if (Array.isArray(p.targets) && p.targets.length > 0) {
        panels.push({
          title: p.title,
          type: p.type,
          targets: p.targets.map((t) => ({ expr: t.expr, legend: t.legendFormat ?? '' })),
        });
      }
    }
  };
  walk(dashboard.panels);
  return panels;
}

/** The shipped PrometheusRule's groups, as a Prometheus rule file reads them. */
export function ruleGroups(root) {
  return parse(readFileSync(join(root, RULE_FILE), 'utf8')).spec.groups;
}

/** Grafana's legend: `{{label}}` replaced by the series' label values. */
export function legendFor(format, metric) {
  const text = format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, k) => metric[k] ?? '').trim();
  return text === '' ? JSON.stringify(metric) : text;
}
