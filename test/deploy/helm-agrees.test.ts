import { lookup } from 'node:dns/promises';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError } from '../../src/config/errors';
import { parseListen } from '../../src/config/listen';
import { loadConfig } from '../../src/config/load';
import { RESERVED_REQUEST_HEADERS } from '../../src/config/request-headers';
import { CHART, HELMS, type Helm, at, renderChart } from './render';

/**
 * The chart's checks against the proxy's own: each value below goes through the proxy's
 * loader in this process and through the chart's check in a real Helm render, and the two
 * must agree, the chart naming the key the proxy names. One render per Helm version judges
 * them all: the checks are named templates that return the problem (the chart `fail`s with
 * it), so a test template can call each on every value without one render per value.
 */

type Config = Record<string, unknown>;

const FILE = '/var/run/secrets/vidispine-auth-proxy/p';
const URL_BASE = 'http://vidispine:8080';

/** A configuration with these users (named a, b, … unless named), each with its password file. */
const listed = (users: readonly Config[], more: Config = {}): Config => ({
  vidispine: { url: URL_BASE },
  users: users.map((user, i) => ({
    name: String.fromCharCode(97 + i),
    passwordFile: FILE,
    ...user,
  })),
  ...more,
});

/** One user per listen address (none for undefined). */
const withUsers = (listens: readonly (string | undefined)[], more: Config = {}): Config =>
  listed(
    listens.map((listen) => (listen === undefined ? {} : { listen })),
    more,
  );

const one = (user: Config = {}, more: Config = {}): Config => ({
  vidispine: { url: URL_BASE },
  users: [{ name: 'a', passwordFile: FILE, listen: '127.0.0.1:8080', ...user }],
  ...more,
});

/** Users minted for by a RunAs account (or an administrator), named as given. */
const minted = (account: 'runAs' | 'admin', names: readonly string[]): Config => ({
  vidispine: { url: URL_BASE, [account]: { username: 'svc', passwordFile: FILE } },
  users: names.map((name, i) => ({ name, listen: `127.0.0.1:${8080 + i}` })),
});

/** One user minted for by the administrator `admin`, given as `admin`. */
const withAdmin = (admin: Config, user: Config = {}): Config => ({
  vidispine: { url: URL_BASE, admin: { username: 'admin', ...admin } },
  users: [{ name: 'a', listen: '127.0.0.1:8080', ...user }],
});

interface Case {
  /** The config value; empty: single-user mode, the proxy configured by its variables. */
  readonly config: Config;
  /** token.seconds, in single-user mode. */
  readonly tokenSeconds?: number;
  /** The proxy container's extraEnv (sidecar.extraEnv: the cases are a sidecar's). */
  readonly extraEnv?: readonly Config[];
  /**
   * The key the chart names where it words the refusal its own way: the proxy offers a
   * literal secret too, which the chart refuses (it would land in a ConfigMap), and the ops
   * listener the chart sets is the user's service.opsPort, not a key they wrote.
   */
  readonly ownWords?: string;
  /** What a variable extraEnv takes from a ConfigMap holds there (a Secret's: x). */
  readonly held?: Readonly<Record<string, string>>;
  /** In single-user mode, the chart's vidispine values, and the variables they give the proxy. */
  readonly vidispine?: { readonly values: Config; readonly env: Readonly<Record<string, string>> };
  /**
   * The chart refuses what the proxy runs, as a setup in which part of the values does
   * nothing: its message says the proxy takes it, never that it exits.
   */
  readonly proxyRuns?: true;
}

const KEY = { id: 'VSID2C56CQTA7DWW7DLF' };
const FROM_SECRET = (name: string): Config => ({
  name,
  valueFrom: { secretKeyRef: { name: 'vidispine', key: 'password' } },
});

// Where each credential's secret comes from: one source, and a variable the container has.
const CREDENTIALS: readonly Case[] = [
  { config: withAdmin({ passwordFile: FILE }) },
  {
    config: withAdmin({ passwordFile: FILE, passwordEnv: 'VAP_PW' }),
    extraEnv: [FROM_SECRET('VAP_PW')],
  },
  { config: withAdmin({ passwordFile: FILE, accessKey: { ...KEY, secretFile: FILE } }) },
  { config: withAdmin({ accessKey: { ...KEY, secretFile: FILE } }) },
  { config: withAdmin({}), ownWords: 'config.vidispine.admin' },
  { config: withAdmin({ accessKey: KEY }), ownWords: 'config.vidispine.admin.accessKey' },
  { config: withAdmin({ accessKey: { ...KEY, secretEnv: 'VAP_KEY' } }) },
  {
    config: withAdmin({ accessKey: { ...KEY, secretEnv: 'VAP_KEY' } }),
    extraEnv: [FROM_SECRET('VAP_KEY')],
  },
  {
    config: one({
      passwordFile: undefined,
      accessKey: { ...KEY, secretFile: FILE, secretEnv: 'K' },
    }),
    extraEnv: [FROM_SECRET('K')],
  },
  {
    config: one({ passwordFile: undefined, accessKey: KEY }),
    ownWords: 'config.users[0].accessKey',
  },
  { config: one({ passwordFile: undefined, passwordEnv: 'VAP_PW' }) },
  {
    config: one({ passwordFile: undefined, passwordEnv: 'VAP_PW' }),
    extraEnv: [FROM_SECRET('VAP_PW')],
  },
  {
    config: one({ passwordFile: undefined, passwordEnv: 'VAP_PW' }),
    extraEnv: [{ name: 'VAP_PW', value: 'x' }],
  },
];

// The other rules of src/config/resolve.ts that span keys, each on both sides of its line.
const CONFIGS: readonly Config[] = [
  one(),
  // The safety margin: at most half the lifetime, the user's own or the top-level one.
  one({}, { token: { seconds: 10, safetyMarginSeconds: 5 } }),
  one({}, { token: { seconds: 10, safetyMarginSeconds: 5.5 } }),
  one({}, { token: { safetyMarginSeconds: 30.5 } }),
  one({}, { token: { seconds: 2_147_483_647, safetyMarginSeconds: 1_073_741_824 } }),
  one({ token: { safetyMarginSeconds: 31 } }),
  one({ token: { seconds: 8 } }, { token: { safetyMarginSeconds: 5 } }),
  one({ token: { seconds: 10, safetyMarginSeconds: 5 } }, { token: { safetyMarginSeconds: 30 } }),
  one({ token: { seconds: 9 } }, { token: { seconds: 120, safetyMarginSeconds: 4.5 } }),
  one({ token: {} }, { token: { safetyMarginSeconds: 30 } }),
  one({}, { token: { seconds: 1e3, safetyMarginSeconds: 5e2 } }),
  one({}, { token: { seconds: 7, safetyMarginSeconds: 3.5 } }),
  one({}, { token: { seconds: 7, safetyMarginSeconds: 3.5000001 } }),
  // The margin in the message as written: 3.5 s would read as met by a lifetime of 7 s.
  one({ token: { seconds: 7 } }, { token: { safetyMarginSeconds: 3.5000001 } }),
  one({ token: { seconds: 1 } }, { token: { safetyMarginSeconds: 0.5000001 } }),
  // The replay buffers: the total at least one body, or 0.
  one({}, { proxy: { replayBufferTotalBytes: 1000 } }),
  one({}, { proxy: { replayBufferTotalBytes: 0 } }),
  one({}, { proxy: { replayBufferBytes: 0, replayBufferTotalBytes: 5 } }),
  one({}, { proxy: { replayBufferBytes: 2048, replayBufferTotalBytes: 2048 } }),
  one({}, { proxy: { replayBufferBytes: 2049, replayBufferTotalBytes: 2048 } }),
  // Names: each once; sent in a RunAs header, Latin-1 only.
  listed([
    { name: 'a', listen: '127.0.0.1:8080' },
    { name: 'a', listen: '127.0.0.1:8081' },
  ]),
  minted('runAs', ['ingest', 'müller']),
  minted('runAs', ['ingest', '取込']),
  minted('admin', ['取込']),
  listed([
    { name: 'alice', listen: '127.0.0.1:8080' },
    { name: 'Alice', listen: '127.0.0.1:8081' },
  ]),
  // Listeners: what binds the same socket, in the forms the resolver reads.
  withUsers(['127.0.0.1:8080', '0x7f000001:8080']),
  withUsers(['127.0.0.1:8080', '2130706433:8080']),
  withUsers(['127.0.0.1:8080', '127.0.0.2:8080']),
  withUsers(['127.1:8080', '0177.0.0.1:8080']),
  withUsers(['[::1]:8080', '0.0.0.0:8080']),
  withUsers(['[::]:8080', '127.0.0.1:8080']),
  withUsers(['0:8080', '127.0.0.1:8080']),
  withUsers(['localhost:8080', '[::1]:8080']),
  withUsers(['LocalHost:8080', 'localhost:8080']),
  withUsers(['[::ffff:127.0.0.1]:8080', '127.0.0.1:8080']),
  withUsers(['[0:0::1]:8080', '[::1]:8080']),
  withUsers(['[fe80::1]:8080', '[FE80:0::1]:8080']),
  withUsers(['[fe80::1%eth0]:8080', '[fe80::1%ETH0]:8080']),
  withUsers(['[fe80::1%eth0]:8080', '[fe80::1%eth0]:8080']),
  withUsers(['0.0.0.0:8080', '[fd00::1]:8080']),
  withUsers(['[::ffff:0:0]:8080', '127.0.0.1:8080']),
  withUsers(['[::]:8080', '[::ffff:10.0.0.1]:8080']),
  withUsers(['myhost:8080', 'MyHost:8080']),
  withUsers(['myhost:8080', '0.0.0.0:8080']),
  withUsers(['myhost:8080', '[::1]:8080']),
  withUsers(['127.0.0.1:9090'], { ops: { listen: 'off' } }),
  withUsers(['127.0.0.1:9091'], { ops: { listen: '0.0.0.0:9091' } }),
  // Keys that act on requests, where no request could reach them.
  listed([{ listen: '127.0.0.1:8080' }, { selectUserHeader: 'X-Vidispine-User' }]),
  listed([{ listen: '127.0.0.1:8080' }, { allowRunAs: true }]),
  listed([{ listen: '127.0.0.1:8080', selectUserHeader: 'X-User' }, { allowRunAs: true }]),
  // A select header with a meaning of its own, in any case: each name the proxy refuses.
  ...RESERVED_REQUEST_HEADERS.map((name) =>
    one({ selectUserHeader: name.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase()) }),
  ),
  one({ selectUserHeader: 'TRANSFER-ENCODING' }),
];

// Single-user mode: the rules spanning keys that variables in extraEnv can break.
const VARIABLE = (name: string, value: string): Config => ({ name, value });
const FROM_CONFIG_MAP = (name: string): Config => ({
  name,
  valueFrom: { configMapKeyRef: { name: 'proxy-tuning', key: name } },
});
const SINGLE_USER: readonly Case[] = [
  { config: {}, extraEnv: [VARIABLE('TOKEN_SAFETY_MARGIN_SECONDS', '30')] },
  { config: {}, extraEnv: [VARIABLE('TOKEN_SAFETY_MARGIN_SECONDS', '30.5')] },
  { config: {}, tokenSeconds: 10, extraEnv: [VARIABLE('TOKEN_SAFETY_MARGIN_SECONDS', '6')] },
  {
    config: {},
    tokenSeconds: 10,
    extraEnv: [VARIABLE('TOKEN_SECONDS', '12'), VARIABLE('TOKEN_SAFETY_MARGIN_SECONDS', '6')],
  },
  {
    config: {},
    extraEnv: [VARIABLE('TOKEN_SAFETY_MARGIN_SECONDS', '40'), VARIABLE('TOKEN_SECONDS', '70')],
  },
  { config: {}, extraEnv: [VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '1000')] },
  { config: {}, extraEnv: [VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '0')] },
  {
    config: {},
    extraEnv: [
      VARIABLE('PROXY_REPLAY_BUFFER_BYTES', '0'),
      VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '5'),
    ],
  },
  {
    config: {},
    extraEnv: [
      VARIABLE('PROXY_REPLAY_BUFFER_BYTES', '4096'),
      VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '4095'),
    ],
  },
  // A number from a ConfigMap is read by the proxy alone: the chart cannot judge what rests on it.
  {
    config: {},
    extraEnv: [FROM_CONFIG_MAP('TOKEN_SECONDS'), VARIABLE('TOKEN_SAFETY_MARGIN_SECONDS', '60')],
    held: { TOKEN_SECONDS: '3600' },
  },
  {
    config: {},
    extraEnv: [
      FROM_CONFIG_MAP('PROXY_REPLAY_BUFFER_BYTES'),
      VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '262144'),
    ],
    held: { PROXY_REPLAY_BUFFER_BYTES: '262144' },
  },
  // Digits with a leading zero are decimal to the proxy (0700 is 700, not octal 448).
  {
    config: {},
    extraEnv: [
      VARIABLE('PROXY_REPLAY_BUFFER_BYTES', '600'),
      VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '0700'),
    ],
  },
  {
    config: {},
    extraEnv: [
      VARIABLE('PROXY_REPLAY_BUFFER_BYTES', '0800'),
      VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '0700'),
    ],
  },
  // A later entry wins, as in Kubernetes; one from a Secret is the proxy's to judge.
  {
    config: {},
    extraEnv: [
      VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '1000'),
      VARIABLE('PROXY_REPLAY_BUFFER_TOTAL_BYTES', '2000000'),
    ],
  },
  // The chart gives the password as VIDISPINE_PASSWORD_FILE: a second source, from a Secret
  // too, and the proxy exits 2 (the chart names the entry, the proxy the file variable).
  {
    config: {},
    extraEnv: [FROM_SECRET('VIDISPINE_PASSWORD')],
    ownWords: 'sidecar.extraEnv VIDISPINE_PASSWORD',
  },
  {
    config: {},
    extraEnv: [FROM_SECRET('VIDISPINE_ADMIN_PASSWORD')],
    ownWords: 'sidecar.extraEnv VIDISPINE_ADMIN_PASSWORD',
  },
  // A secret's variable in another case is no variable of the proxy's, which exits 2.
  { config: {}, extraEnv: [FROM_SECRET('vidispine_password')] },
  { config: {}, extraEnv: [VARIABLE('vidispine_password', 'x')] },
  { config: {}, extraEnv: [FROM_SECRET('Vidispine_Admin_Password')] },
];

/**
 * Single-user mode: the user's own password (the chart's credentials.passwordKey) beside an
 * account that mints, `vidispine.<key>` with its password from the chart's Secret. The proxy
 * signs the user's token requests with the password and never uses the account.
 */
const ownBeside = (key: 'adminUser' | 'runAsUser', prefix: string): Case => ({
  config: {},
  vidispine: {
    values: { [key]: 'svc' },
    env: { [`${prefix}_USER`]: 'svc', [`${prefix}_PASSWORD_FILE`]: FILE },
  },
  proxyRuns: true,
});

const CASES: readonly Case[] = [
  ...SINGLE_USER,
  ownBeside('adminUser', 'VIDISPINE_ADMIN'),
  ownBeside('runAsUser', 'VIDISPINE_RUNAS'),
  ...CREDENTIALS,
  ...CONFIGS.map((config) => ({ config })),
  { config: withUsers(['127.0.0.1:9090']), ownWords: 'config.users[0].listen' },
  { config: withUsers(['[::1]:9090']), ownWords: 'config.users[0].listen' },
];

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
  `${URL_BASE}/vs/%2541PI`,
  `${URL_BASE}//API`,
  `${URL_BASE}/API/..%2f`,
  `${URL_BASE}/x/%2e%2e/%2e%2e/API`,
  `${URL_BASE}/v%73/%41PI`,
  `${URL_BASE}/APIs`,
  `${URL_BASE}/vs/API2`,
  `${URL_BASE}/vs/x%41PI`,
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
  '017700000001:8080',
  '0x7F.0.0.1:8080',
  '4294967295:8080',
  '[::ffff:127.1.2.3]:8080',
  '[::ffff:0:0]:8080',
  '[0::127.0.0.1]:8080',
];

interface Verdicts {
  readonly configs: { problem: string; yaml: string }[];
  readonly urls: string[];
  readonly loopback: boolean[];
}

// The chart's named templates, and one that calls each check on every case.
const HARNESS = `{{- $v := dict "service" (dict "opsPort" 9090) "gateway" (dict "enabled" false) "vidispine" (dict) "credentials" (dict "passwordKey" "p") -}}
{{- $configs := list -}}
{{- range .Values.cases -}}
{{- $vs := (default (dict) .vidispine).values | default (dict) -}}
{{- $ctx := dict "values" (merge (dict "config" .config "token" (dict "seconds" (default 60 .tokenSeconds)) "sidecar" (dict "extraEnv" (default (list) .extraEnv)) "vidispine" $vs) $v) "sidecar" true -}}
{{- $credentials := include "vidispine-auth-proxy.credentialsProblem" $ctx -}}
{{- if $credentials -}}
{{- $configs = append $configs (dict "problem" $credentials "yaml" (ternary "" (include "vidispine-auth-proxy.configYaml" $ctx) (empty .config))) -}}
{{- else if .config -}}
{{- $configs = append $configs (dict "problem" (include "vidispine-auth-proxy.configProblem" $ctx) "yaml" (include "vidispine-auth-proxy.configYaml" $ctx)) -}}
{{- else -}}
{{- $configs = append $configs (dict "problem" (include "vidispine-auth-proxy.envProblem" $ctx) "yaml" "") -}}
{{- end -}}
{{- end -}}
{{- $urls := list -}}
{{- range .Values.urls -}}
{{- $urls = append $urls (include "vidispine-auth-proxy.baseUrlProblem" (dict "path" "vidispine.url" "url" .)) -}}
{{- end -}}
{{- $loopback := list -}}
{{- range .Values.listens -}}
{{- $loopback = append $loopback (not (empty (include "vidispine-auth-proxy.onLoopback" .))) -}}
{{- end -}}
verdicts: {{ dict "configs" $configs "urls" $urls "loopback" $loopback | toJson }}
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
    writeFileSync(values, JSON.stringify({ cases: CASES, urls: URLS, listens: LISTENS }));
    // The verdicts document has no kind: it is read from the text.
    const { text } = renderChart(helm, dir, [values]);
    return at(parseYaml(text), 'verdicts') as Verdicts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a single-user sidecar's proxy reads besides extraEnv, as the chart sets it. */
const SINGLE_USER_ENV = {
  VIDISPINE_URL: URL_BASE,
  VIDISPINE_USER: 'a',
  VIDISPINE_PASSWORD_FILE: FILE,
  PROXY_LISTEN: '127.0.0.1:8080',
  OPS_LISTEN: '[::]:9090',
};

/**
 * The proxy's findings, one `key: problem` line each ([] if it starts), for the configuration
 * file `yaml` (none: single-user mode, with token.seconds), with the variables `extraEnv`
 * gives it (a ConfigMap's as `held` says, a Secret's stood in for).
 */
function proxyFindings(
  yaml: string,
  { extraEnv = [], tokenSeconds = 60, held = {}, vidispine }: Case,
): string[] {
  const given = Object.fromEntries(
    extraEnv.map((e) => [String(e.name), String(e.value ?? held[String(e.name)] ?? 'x')]),
  );
  const dir = mkdtempSync(join(tmpdir(), 'vap-agrees-config-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml);
    if (yaml === '')
      loadConfig({
        env: {
          ...SINGLE_USER_ENV,
          ...vidispine?.env,
          TOKEN_SECONDS: String(tokenSeconds),
          ...given,
        },
      });
    else loadConfig({ file, env: given });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.key}: ${i.problem}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A proxy finding as the chart words it: each key of the configuration under config, a
 * variable as the extraEnv entry it is.
 */
const asChartWords = (finding: string, single: boolean): string =>
  (single ? /^\w+:/ : /^[A-Z_]+:/).test(finding)
    ? `sidecar.extraEnv ${finding}`
    : finding.replace(
        /(?<![\w.[])(users\[\d+\]|(?:token|proxy|ops|vidispine)\.(?=\w))/g,
        'config.$1',
      );

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

  it('for rules that span keys, in the proxy words', () => {
    const disagreements = CASES.flatMap((c, i) => {
      const { config, extraEnv, ownWords, proxyRuns } = c;
      const { problem, yaml } = chart.configs[i] ?? { problem: '?', yaml: '' };
      const proxy = proxyFindings(yaml, c).map((f) => asChartWords(f, yaml === ''));
      // Its words, or its words and then how to do it in the chart.
      const agrees = proxyRuns
        ? proxy.length === 0 && /\bthe proxy takes\b/.test(problem) && !/\bexits?\b/.test(problem)
        : problem === ''
          ? proxy.length === 0
          : ownWords === undefined
            ? proxy.some((f) => problem === f || problem.startsWith(`${f}; `))
            : proxy.length > 0 && problem.startsWith(`${ownWords}: `);
      const setup = stringify({ config, extraEnv, vidispine: c.vidispine?.values });
      return agrees ? [] : [{ config: setup, chart: problem, proxy }];
    });
    expect(disagreements).toEqual([]);
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
