import { HISTOGRAM_NAMES, METRIC_NAMES, WEBHOOK_METRIC_NAMES } from './contract';
import {
  dashboardMetricNames,
  dashboardQueries,
  loadDashboard,
  metricFamily,
  promqlSeriesNames,
} from './dashboard';
import { at, records } from './render';

describe('Grafana dashboard', () => {
  const dashboard = loadDashboard();
  const panels = records(at(dashboard, 'panels')).filter((p) => p.type !== 'row');

  it('queries only metrics the proxy or the webhook exports, histogram series only of histograms', () => {
    const exported = [...METRIC_NAMES, ...WEBHOOK_METRIC_NAMES];
    const series = dashboardQueries(dashboard).flatMap(promqlSeriesNames);
    expect(series.length).toBeGreaterThan(0);
    expect(series.filter((name) => !exported.includes(metricFamily(name)))).toEqual([]);
    const histogramSeries = series.filter((name) => name !== metricFamily(name));
    expect(histogramSeries.length).toBeGreaterThan(0);
    expect(histogramSeries.filter((name) => !HISTOGRAM_NAMES.includes(metricFamily(name)))).toEqual(
      [],
    );
  });

  it('shows every metric family the proxy and the webhook export', () => {
    expect(dashboardMetricNames(dashboard)).toEqual(
      [...METRIC_NAMES, ...WEBHOOK_METRIC_NAMES].sort(),
    );
  });

  it("selects the webhook's series by the job its monitors and alerts give them, the proxy's by $job", () => {
    for (const expr of dashboardQueries(dashboard)) {
      const families = promqlSeriesNames(expr).map(metricFamily);
      const webhook = families.some((f) => WEBHOOK_METRIC_NAMES.includes(f));
      const selectors = [...expr.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] ?? '');
      for (const selector of selectors)
        expect(selector).toContain(
          webhook ? 'job=~".*vidispine-auth-proxy-injector.*"' : 'job=~"$job"',
        );
    }
  });

  it.each([
    ['time to expiry per user', 'token_expiry_timestamp_seconds'],
    ['refresh outcomes', 'token_refreshes_total'],
    ['refresh latency', 'token_refresh_duration_seconds_bucket'],
    ['request rate by user', 'requests_total'],
    ['request latency by user', 'request_duration_seconds_bucket'],
    ['401 replays', 'upstream_unauthorized_total'],
    ['in-flight requests', 'requests_in_flight'],
    ['WebSocket sessions open', 'websocket_sessions_open'],
    ['WebSocket sessions ended', 'websocket_sessions_ended_total'],
    ['admission reviews by result', 'admission_reviews_total'],
    ['admission review latency', 'admission_duration_seconds_bucket'],
    ["the webhook's days to certificate expiry", 'webhook_certificate_expiry_timestamp_seconds'],
    ["the webhook's certificate reload failing", 'webhook_certificate_reload_failing'],
  ])('has a panel for %s', (_what, series) => {
    const name = `vidispine_auth_proxy_${series}`;
    const panel = panels.find((p) =>
      records(p.targets).some((t) => promqlSeriesNames(String(t.expr)).includes(name)),
    );
    expect(panel).toBeDefined();
  });

  it('has unique panel ids, a layout inside the 24-column grid, and a data source variable', () => {
    const all = records(at(dashboard, 'panels'));
    expect(all.length).toBeGreaterThan(0);
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of all) {
      const x = Number(at(p, 'gridPos', 'x'));
      const w = Number(at(p, 'gridPos', 'w'));
      expect(x + w).toBeLessThanOrEqual(24);
    }
    const variables = records(at(dashboard, 'templating', 'list')).map((v) => v.name);
    expect(variables).toEqual(expect.arrayContaining(['datasource', 'user']));
  });
});

describe('metric name extraction', () => {
  it('finds prefixed names in PromQL and maps histogram series to their family', () => {
    const expr =
      'histogram_quantile(0.9, sum by (le) (rate(vidispine_auth_proxy_request_duration_seconds_bucket[5m]))) / on() up';
    expect(promqlSeriesNames(expr)).toEqual([
      'vidispine_auth_proxy_request_duration_seconds_bucket',
    ]);
    expect(metricFamily('vidispine_auth_proxy_request_duration_seconds_bucket')).toBe(
      'vidispine_auth_proxy_request_duration_seconds',
    );
    expect(metricFamily('vidispine_auth_proxy_requests_total')).toBe(
      'vidispine_auth_proxy_requests_total',
    );
  });

  it('collects queries from targets and templating, ignoring other strings', () => {
    const dashboard = {
      title: 'vidispine_auth_proxy_not_a_query',
      panels: [{ targets: [{ expr: 'vidispine_auth_proxy_a' }] }],
      templating: { list: [{ query: { query: 'label_values(vidispine_auth_proxy_b, user)' } }] },
    };
    expect(dashboardMetricNames(dashboard)).toEqual([
      'vidispine_auth_proxy_a',
      'vidispine_auth_proxy_b',
    ]);
  });
});
