import { lookup } from 'node:dns/promises';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseListen } from '../../src/config/listen';
import { loadConfig } from '../../src/config/load';
import { CHART, HELMS, type Helm, at, renderChart } from './render';

/**
 * The chart's checks against the proxy's own: each value below goes through the proxy's
 * loader in this process and through the chart's check in a real Helm render, and the two
 * must agree, the chart naming the key the proxy names. One render per Helm version judges
 * them all: the checks are named templates that return the problem (the chart `fail`s with
 * it), so a test template can call each on every value without one render per value.
 */

const URL_BASE = 'http://vidispine:8080';

// Base URLs: dot segments (%2e too), backslashes, escaped letters, and neighbours that are fine.
const URLS: readonly string[] = [
  'http://api',
  'http://api/',
  'http://API/.',
  `${URL_BASE}/API/vs`,
  `${URL_BASE}/myAPI`,
  `${URL_BASE}/vs/API`,
  `${URL_BASE}/API/%2e`,
  `${URL_BASE}/API/%2E%2e/API`,
  `${URL_BASE}/API/a/..`,
  `${URL_BASE}/API/a/%2e%2E/`,
  `${URL_BASE}/API/..`,
  `${URL_BASE}/%41PI`,
  `${URL_BASE}/vs/%61p%69/./`,
  `${URL_BASE}/%41PI/x`,
  `${URL_BASE}/A%50Ix`,
  `${URL_BASE}\\API`,
  `${URL_BASE}/vs\\API\\`,
  `${URL_BASE}/API%2F`,
];

// Listen addresses a sidecar may take (loopback) and a gateway or its ops listener may not.
const LISTENS: readonly string[] = [
  '127.0.0.1:8080',
  '127.1:8080',
  '127.255.255.254:8080',
  '0x7f000001:8080',
  '0X7F.1:8080',
  '2130706433:8080',
  '2147483647:8080',
  '2147483648:8080',
  '0177.0.0.1:8080',
  '0.0.0.0:8080',
  '0:8080',
  '10.0.0.1:8080',
  '128.0.0.1:8080',
  'localhost:8080',
  'LOCALHOST:8080',
  '[::1]:8080',
  '[0:0:0:0:0:0:0:1]:8080',
  '[::0001]:8080',
  '[::ffff:127.0.0.1]:8080',
  '[::ffff:7f00:1]:8080',
  '[::ffff:10.0.0.1]:8080',
  '[::]:8080',
  '[fe80::1]:8080',
];

interface Verdicts {
  readonly urls: string[];
  readonly loopback: boolean[];
}

// The chart's named templates, and one that calls each check on every case.
const HARNESS = `{{- $urls := list -}}
{{- range .Values.urls -}}
{{- $urls = append $urls (include "vidispine-auth-proxy.baseUrlProblem" (dict "path" "vidispine.url" "url" .)) -}}
{{- end -}}
{{- $loopback := list -}}
{{- range .Values.listens -}}
{{- $loopback = append $loopback (not (empty (include "vidispine-auth-proxy.onLoopback" .))) -}}
{{- end -}}
verdicts: {{ dict "urls" $urls "loopback" $loopback | toJson }}
`;

function chartVerdicts(helm: Helm): Verdicts {
  const dir = mkdtempSync(join(tmpdir(), 'vap-agrees-'));
  try {
    mkdirSync(join(dir, 'templates'));
    cpSync(join(CHART, 'Chart.yaml'), join(dir, 'Chart.yaml'));
    for (const tpl of ['_checks.tpl', '_helpers.tpl'])
      cpSync(join(CHART, 'templates', tpl), join(dir, 'templates', tpl));
    writeFileSync(join(dir, 'templates', 'verdicts.yaml'), HARNESS);
    const values = join(dir, 'cases.yaml');
    writeFileSync(values, JSON.stringify({ urls: URLS, listens: LISTENS }));
    // The verdicts document has no kind: it is read from the text.
    const { text } = renderChart(helm, dir, [values]);
    return at(parseYaml(text), 'verdicts') as Verdicts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function proxyTakesUrl(url: string): boolean {
  try {
    loadConfig({ env: { VIDISPINE_URL: url, VIDISPINE_USER: 'a', VIDISPINE_PASSWORD: 'pw' } });
    return true;
  } catch {
    return false;
  }
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether the proxy's listener on `listen` binds a loopback address: resolved as it binds. */
async function proxyBindsLoopback(listen: string): Promise<boolean> {
  const parsed = parseListen(listen);
  if (typeof parsed === 'string') throw new Error(parsed);
  const { address, family } = await lookup(parsed.host);
  return LOOPBACK.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

const SCHEMA = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as unknown;
const URL_PATTERN = new RegExp(
  String(at(SCHEMA, 'properties', 'vidispine', 'properties', 'url', 'pattern')),
);

describe.each(HELMS)('$name: the chart refuses what the proxy refuses', (helm) => {
  let chart: Verdicts;
  beforeAll(() => {
    chart = chartVerdicts(helm);
  });

  it('for base URLs, as the schema and the template judge them together', () => {
    const disagreements = URLS.flatMap((url, i) => {
      const chartTakes = URL_PATTERN.test(url) && chart.urls[i] === '';
      return chartTakes === proxyTakesUrl(url) ? [] : [{ url, chart: chart.urls[i] }];
    });
    expect(disagreements).toEqual([]);
  });

  it('for loopback, as the address the proxy binds', async () => {
    const proxy = await Promise.all(LISTENS.map(proxyBindsLoopback));
    const disagreements = LISTENS.flatMap((listen, i) =>
      chart.loopback[i] === proxy[i] ? [] : [{ listen, chart: chart.loopback[i], proxy: proxy[i] }],
    );
    expect(disagreements).toEqual([]);
  });
});
