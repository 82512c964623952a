/**
 * The README's metric lists are what dashboards and alerts are written from: each metric it
 * names, with its labels and type, is one the proxy or the webhook exports, and each metric
 * they export (the `process_*` and `nodejs_*` defaults aside) is in them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_PREFIX, OpsMetrics, recordTokenEvents } from '../../src/ops/metrics';
import { WebhookMetrics } from '../../src/inject/metrics';
import { parseExposition } from '../support/prom-parse';
import { ScriptedTokens } from '../support/ops';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** `name{a,b}` → `name{a,b}` with the labels sorted, the form both sides are compared in. */
function signature(name: string, labels: readonly string[]): string {
  return labels.length === 0 ? name : `${name}{${[...labels].sort().join(',')}}`;
}

function between(text: string, start: string, end: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`no section from ${start} to ${end}`);
  return text.slice(from, to);
}

/** The proxy's metrics table under "### Metrics": `name{labels}` → type, prefix added. */
function documentedProxyMetrics(readme: string): Map<string, string> {
  const section = between(readme, '### Metrics', '\nprom-client is loaded');
  const rows = [...section.matchAll(/^\| `([a-z_]+)(?:\{([a-z_,]+)\})?` \| (\w+) \|/gm)];
  return new Map(
    rows.map(([, name = '', labels = '', type = '']) => [
      signature(METRIC_PREFIX + name, labels === '' ? [] : labels.split(',')),
      type,
    ]),
  );
}

/** The webhook's metrics, named in full in the paragraph on its ops listener. */
function documentedWebhookMetrics(readme: string): Set<string> {
  const paragraph = between(readme, 'Its ops listener serves `/livez`', 'the process metrics');
  return new Set(
    [...paragraph.matchAll(/`(vidispine_auth_proxy_[a-z_]+)(?:\{([a-z_,]+)\})?`/g)].map(
      ([, name = '', labels = '']) => signature(name, labels === '' ? [] : labels.split(',')),
    ),
  );
}

/** Every family of an exposition under the prefix: `name{labels}` → type. */
function exported(text: string): Map<string, string> {
  const families = [...parseExposition(text).values()].filter((f) =>
    f.name.startsWith(METRIC_PREFIX),
  );
  return new Map(
    families.map((family) => {
      const labels = new Set(family.samples.flatMap((s) => Object.keys(s.labels)));
      labels.delete('le');
      return [signature(family.name, [...labels]), String(family.type)];
    }),
  );
}

it("the proxy's /metrics is the README's metrics table, labels and types included", async () => {
  const now = () => Date.parse('2026-01-01T00:00:00Z');
  const tokens = new ScriptedTokens(['ingest'], now);
  const metrics = new OpsMetrics({ users: ['ingest'], tokens, now, defaultMetrics: false });
  recordTokenEvents(tokens, metrics);
  // Series that exist only once something happened, so that their labels show.
  tokens.minted('ingest');
  metrics.requestStarted();
  metrics.requestFinished('ingest', 'GET', 200, 0.01);
  const documented = documentedProxyMetrics(README);
  expect(documented.size).toBeGreaterThan(10);
  expect(Object.fromEntries(exported(await metrics.render()))).toEqual(
    Object.fromEntries(documented),
  );
});

it("the webhook's /metrics is the README's list of them, labels included", async () => {
  const metrics = new WebhookMetrics({ defaultMetrics: false });
  metrics.reviewed('injected', 0.001);
  const documented = documentedWebhookMetrics(README);
  expect(documented.size).toBeGreaterThan(4);
  expect([...exported(await metrics.render()).keys()].sort()).toEqual([...documented].sort());
});

it('reads a metric, its labels and its type from a row, and a webhook metric from the text', () => {
  const readme =
    '### Metrics\n\n| metric | type | meaning |\n|---|---|---|\n' +
    '| `a_total{user,result}` | counter | x |\n| `b` | gauge | y |\n| `process_*`, `nodejs_*` | | z |\n' +
    '\nprom-client is loaded';
  expect(documentedProxyMetrics(readme)).toEqual(
    new Map([
      [`${METRIC_PREFIX}a_total{result,user}`, 'counter'],
      [`${METRIC_PREFIX}b`, 'gauge'],
    ]),
  );
  const webhook =
    'Its ops listener serves `/livez` and `/metrics`: `vidispine_auth_proxy_c_total{result}` and\n`vidispine_auth_proxy_d`, plus the process metrics.';
  expect(documentedWebhookMetrics(webhook)).toEqual(
    new Set(['vidispine_auth_proxy_c_total{result}', 'vidispine_auth_proxy_d']),
  );
});
