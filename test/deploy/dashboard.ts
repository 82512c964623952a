import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_PREFIX } from './contract';

export const DASHBOARD_PATH = join(
  __dirname,
  '..',
  '..',
  'deploy',
  'monitoring',
  'grafana-dashboard.json',
);

const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

/** Every PromQL expression in a Grafana dashboard: panel targets and templating queries. */
export function dashboardQueries(dashboard: unknown = loadDashboard()): string[] {
  const found: string[] = [];
  const walk = (node: unknown, key: string | undefined): void => {
    if (typeof node === 'string') {
      if (key === 'expr' || key === 'query' || key === 'definition') found.push(node);
      return;
    }
    if (Array.isArray(node)) {
      for (const item of node) walk(item, key);
      return;
    }
    if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, k);
    }
  };
  walk(dashboard, undefined);
  return found;
}

/** The proxy's series names a PromQL expression reads (`_bucket` etc. as written). */
export function promqlSeriesNames(expr: string): string[] {
  const names = expr.match(new RegExp(`\\b${METRIC_PREFIX}[a-z0-9_]+`, 'g')) ?? [];
  return [...new Set(names)].sort();
}

/** The metric family a series belongs to, as `# TYPE` lines on /metrics name it. */
export function metricFamily(series: string): string {
  return series.replace(HISTOGRAM_SERIES, '');
}

/**
 * The proxy's metric families the Grafana dashboard uses, sorted; compare them with the
 * `# TYPE` names of a live /metrics scrape.
 */
export function dashboardMetricNames(dashboard: unknown = loadDashboard()): string[] {
  const families = dashboardQueries(dashboard).flatMap(promqlSeriesNames).map(metricFamily);
  return [...new Set(families)].sort();
}

export function loadDashboard(): unknown {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as unknown;
}
