import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createSimulator, type Simulator } from '../../src/simulator';
import { PROMTOOL } from '../monitoring/tools';
import { ChildProxy } from '../support/child-proxy';
import { startWebhook } from '../support/inject';
import { parseExposition, type Exposition } from '../support/prom-parse';
import {
  METRIC_LABELS,
  METRIC_NAMES,
  WEBHOOK_METRIC_LABELS,
  WEBHOOK_METRIC_NAMES,
} from './contract';
import { dashboardMetricNames, metricFamily, promqlSeriesNames } from './dashboard';
import { ROOT, at, records } from './render';

// The built CLI, started the way the image starts it (environment only), scraped on its
// ops port: every metric the dashboard and the alerts query must be one it exports.

/** The metric families the alerts of one group of the shipped PrometheusRule query. */
function alertMetrics(group: string): string[] {
  const rule = parseYaml(
    readFileSync(join(ROOT, 'deploy', 'monitoring', 'prometheusrule.yaml'), 'utf8'),
  ) as unknown;
  const rules = records(at(rule, 'spec', 'groups')).find((g) => g.name === group)?.rules;
  return [
    ...new Set(
      records(rules)
        .flatMap((r) => promqlSeriesNames(String(r.expr)))
        .map(metricFamily),
    ),
  ];
}

describe('live /metrics of the injection webhook', () => {
  it("exports every metric the webhook's alerts query, the series they select included", async () => {
    const webhook = await startWebhook();
    try {
      const metrics = parseExposition((await webhook.ops('/metrics')).body);
      const used = alertMetrics('vidispine-auth-proxy-injector');
      expect(used.sort()).toEqual([
        'vidispine_auth_proxy_admission_reviews_total',
        'vidispine_auth_proxy_webhook_certificate_expiry_timestamp_seconds',
        'vidispine_auth_proxy_webhook_certificate_reload_failing',
        'vidispine_auth_proxy_webhook_tls_handshake_failures_total',
      ]);
      const typedNames = [...metrics.values()].filter((f) => f.type).map((f) => f.name);
      expect(typedNames).toEqual(expect.arrayContaining(used));
      // Every series exists from the start, at 0, so increase() sees the first one counted.
      const series = (name: string, result: string) =>
        metrics.get(name)?.samples.find((s) => s.labels.result === result)?.value;
      expect(series('vidispine_auth_proxy_admission_reviews_total', 'not_labelled')).toBe(0);
      expect(series('vidispine_auth_proxy_webhook_certificate_reloads_total', 'failure')).toBe(0);
      expect(series('vidispine_auth_proxy_webhook_certificate_reloads_total', 'success')).toBe(0);
      // The untrusted-certificate alert's reasons, at 0 before any handshake fails.
      for (const reason of ['unknown_ca', 'bad_certificate'])
        expect(
          metrics
            .get('vidispine_auth_proxy_webhook_tls_handshake_failures_total')
            ?.samples.find((s) => s.labels.reason === reason)?.value,
        ).toBe(0);
      // Nothing failing at start: the alert on it stays quiet after a restart.
      expect(
        metrics.get('vidispine_auth_proxy_webhook_certificate_reload_failing')?.samples[0]?.value,
      ).toBe(0);
    } finally {
      await webhook.stop();
    }
  });

  it("exports every metric the Grafana dashboard's webhook panels query, with the contract's labels", async () => {
    const webhook = await startWebhook();
    try {
      const metrics = parseExposition((await webhook.ops('/metrics')).body);
      const webhookPanels = dashboardMetricNames().filter((f) => WEBHOOK_METRIC_NAMES.includes(f));
      expect(webhookPanels).toEqual([...WEBHOOK_METRIC_NAMES].sort());
      const typedNames = [...metrics.values()].filter((f) => f.type).map((f) => f.name);
      expect(typedNames).toEqual(expect.arrayContaining(webhookPanels));
      const wrong: string[] = [];
      for (const [name, labels] of Object.entries(WEBHOOK_METRIC_LABELS)) {
        const samples = metrics.get(name)?.samples ?? [];
        if (samples.length === 0) wrong.push(`${name}: no series`);
        for (const sample of samples) {
          const got = Object.keys(sample.labels).filter((l) => l !== 'le');
          if (got.join() !== labels.join()) wrong.push(`${sample.name}{${got}}, not {${labels}}`);
        }
      }
      expect(wrong).toEqual([]);
    } finally {
      await webhook.stop();
    }
  });
});

describe('live /metrics of the proxy as the image runs it', () => {
  let sim: Simulator;
  let proxy: ChildProxy;
  let dir: string;
  let text: string;
  let metrics: Exposition;

  beforeAll(async () => {
    sim = createSimulator({});
    await sim.listen(0, '127.0.0.1');
    dir = mkdtempSync(join(tmpdir(), 'vap-scrape-'));
    writeFileSync(join(dir, 'password'), 'alice-password');
    proxy = ChildProxy.start(['run'], {
      VIDISPINE_URL: sim.url,
      VIDISPINE_USER: 'alice',
      VIDISPINE_PASSWORD_FILE: join(dir, 'password'),
      PROXY_LISTEN: '127.0.0.1:0',
      OPS_LISTEN: '127.0.0.1:0',
      SHUTDOWN_DELAY_SECONDS: '0',
      SHUTDOWN_DRAIN_SECONDS: '1',
      LOG_LEVEL: 'info',
    });
    const listening = await proxy.waitForEvent('listening');
    const dataPort = (listening.listeners as { port: number }[])[0].port;
    const ops = `http://127.0.0.1:${(listening.ops as { port: number }).port}`;
    await proxy.waitForEvent('token_minted');
    expect((await fetch(`${ops}/startupz`)).status).toBe(200);
    // One proxied request, so the request families have samples too.
    await (await fetch(`http://127.0.0.1:${dataPort}/API/item`)).arrayBuffer();
    text = await (await fetch(`${ops}/metrics`)).text();
    metrics = parseExposition(text);
  }, 25_000);

  afterAll(async () => {
    proxy.kill('SIGTERM');
    const timer = setTimeout(() => proxy.kill('SIGKILL'), 10_000);
    await proxy.exited;
    clearTimeout(timer);
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const typed = (): string[] => [...metrics.values()].filter((f) => f.type).map((f) => f.name);

  it('exports every metric family of the contract', () => {
    expect(typed()).toEqual(expect.arrayContaining([...METRIC_NAMES]));
    expect(proxy.stderr).toBe('');
  });

  it('gives every series of the contract exactly its labels, in order', () => {
    const wrong = new Set<string>();
    for (const [name, labels] of Object.entries(METRIC_LABELS)) {
      const samples = metrics.get(name)?.samples ?? [];
      if (samples.length === 0) wrong.add(`${name}: no series`);
      for (const sample of samples) {
        // A bucket's `le` is Prometheus's own, wherever prom-client writes it.
        const bucket = sample.name.endsWith('_bucket');
        const got = Object.keys(sample.labels).filter((label) => !(bucket && label === 'le'));
        if (got.join() !== labels.join() || (bucket && !('le' in sample.labels))) {
          wrong.add(`${sample.name}{${Object.keys(sample.labels)}}, not {${labels}}`);
        }
      }
    }
    expect([...wrong]).toEqual([]);
  });

  it("exports every metric the Grafana dashboard's proxy panels query", () => {
    const proxyPanels = dashboardMetricNames().filter((f) => !WEBHOOK_METRIC_NAMES.includes(f));
    expect(proxyPanels).toEqual([...METRIC_NAMES].sort());
    expect(typed()).toEqual(expect.arrayContaining(proxyPanels));
  });

  it("exports every metric the proxy's alerts query", () => {
    const used = alertMetrics('vidispine-auth-proxy');
    expect(used.length).toBeGreaterThan(0);
    expect(typed()).toEqual(expect.arrayContaining(used));
  });

  // Prometheus's linter flags only prom-client's three default gauges named like counters,
  // kept because they belong to the documented default set that Node.js dashboards chart.
  (PROMTOOL === undefined ? it.skip : it)(
    "`promtool check metrics` finds nothing but prom-client's three `_total` gauges",
    () => {
      const r = spawnSync(PROMTOOL as string, ['check', 'metrics'], {
        input: text,
        encoding: 'utf8',
      });
      const findings = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
      expect(findings.map((l) => l.split(' ')[0]).sort()).toEqual([
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ]);
      expect(findings.every((l) => l.includes('should not have "_total" suffix'))).toBe(true);
    },
  );

  it('drains and exits 0 on SIGTERM, as the pod is stopped', async () => {
    proxy.kill('SIGTERM');
    expect((await proxy.exited).code).toBe(0);
  });
});
