import { renderTemplate } from './promtool-tests';
import { groupRules, INJECTOR_GROUP, ruleFile, shippedRuleGroups, type AlertRule } from './rules';
import { describeWithPromtool, promtoolRuleTests } from './tools';

const EXPIRING = 'VidispineAuthProxyWebhookCertificateExpiring';
const RELOAD_FAILING = 'VidispineAuthProxyWebhookCertificateReloadFailing';
const NOT_TRUSTED = 'VidispineAuthProxyWebhookNotTrusted';
const SELECTOR_LOST = 'VidispineAuthProxyWebhookObjectSelectorLost';
const DOWN = 'VidispineAuthProxyWebhookDown';

/** The shipped monitors' scrape interval, and the job both give the webhook's targets. */
const SCRAPE_SECONDS = 30;
const TARGET = { job: 'vidispine-auth-proxy-injector', instance: '10.0.0.9:9090' };
const METRIC = 'vidispine_auth_proxy_';

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;

/** An alert expected at a moment: its name and, where the name has two rules, the severity. */
type Expected = readonly [alert: string, severity?: 'warning' | 'critical'];

/**
 * One webhook replica as Prometheus scrapes it. Times are seconds from the start, which is
 * also Prometheus's `time()` there: an expiry of 14 * DAY is 14 days after the start.
 */
interface WebhookScenario {
  minutes: number;
  /** notAfter of the certificate served at t (Unix seconds). */
  expiry: (t: number) => number;
  /** Certificate reloads after a change on disk. */
  reloads?: { at: number; result: 'success' | 'failure' }[];
  /** Moments the files were put back to the pair in use: no reload, nothing failing. */
  restored?: number[];
  /** Handshakes failed by a client that does not trust the certificate (unknown_ca). */
  untrusted?: number[];
  /** Handshakes failed otherwise (protocol): a scanner, plain HTTP. */
  garbled?: number[];
  /** Reviews of pods without the opt-in label (each a pod). */
  unlabelled?: number[];
  /** Whether the target could be scraped at t (default: always). */
  up?: (t: number) => boolean;
  /** Which alerts fire at these moments (minutes); every other alert must be quiet then. */
  expect: { at: number; firing: Expected[] }[];
}

const quiet = (...minutes: number[]) => minutes.map((at) => ({ at, firing: [] }));
const count = (times: readonly number[], t: number): number => times.filter((x) => x <= t).length;

/** The webhook's reload_failing gauge at t: 1 while the last look at the files failed. */
function failing(s: WebhookScenario, t: number): number {
  const looks = [
    ...(s.reloads ?? []),
    ...(s.restored ?? []).map((at) => ({ at, result: 'restored' })),
  ].filter((r) => r.at <= t);
  const last = looks.sort((a, b) => a.at - b.at).at(-1);
  return last?.result === 'failure' ? 1 : 0;
}

/** promtool's values notation, a run of equal values (or of absent ones, `_`) at a time. */
function notation(values: readonly (number | undefined)[]): string {
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[i]) j++;
    const v = values[i] === undefined ? '_' : String(values[i]);
    const run = j - i + 1;
    if (run === 1) out.push(v);
    else out.push(values[i] === undefined ? `_x${run}` : `${v}x${run - 1}`);
    i = j + 1;
  }
  return out.join(' ');
}

function inputSeries(s: WebhookScenario): { series: string; values: string }[] {
  const times = Array.from({ length: (s.minutes * MIN) / SCRAPE_SECONDS + 1 }, (_, i) => {
    return i * SCRAPE_SECONDS;
  });
  const up = (t: number): boolean => s.up?.(t) ?? true;
  const name = (metric: string, labels: Record<string, string> = {}): string =>
    `${metric}{${Object.entries({ ...TARGET, ...labels })
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`;
  // A failed scrape leaves no webhook series at all; `up` is Prometheus's own.
  const series = (
    metric: string,
    labels: Record<string, string>,
    value: (t: number) => number,
  ) => ({
    series: name(`${METRIC}${metric}`, labels),
    values: notation(times.map((t) => (up(t) ? value(t) : undefined))),
  });
  const reloads = (result: string) =>
    (s.reloads ?? []).filter((r) => r.result === result).map((r) => r.at);
  return [
    { series: name('up'), values: notation(times.map((t) => (up(t) ? 1 : 0))) },
    series('webhook_certificate_expiry_timestamp_seconds', {}, s.expiry),
    // Every series of the counters starts at 0, as the webhook exports them.
    ...['success', 'failure'].map((result) =>
      series('webhook_certificate_reloads_total', { result }, (t) => count(reloads(result), t)),
    ),
    series('webhook_certificate_reload_failing', {}, (t) => failing(s, t)),
    series('admission_reviews_total', { result: 'injected' }, (t) => Math.floor(t / MIN)),
    series('webhook_tls_handshake_failures_total', { reason: 'unknown_ca' }, (t) =>
      count(s.untrusted ?? [], t),
    ),
    series('webhook_tls_handshake_failures_total', { reason: 'protocol' }, (t) =>
      count(s.garbled ?? [], t),
    ),
    series('admission_reviews_total', { result: 'not_labelled' }, (t) =>
      count(s.unlabelled ?? [], t),
    ),
  ];
}

/** An alert's labels and annotations as the rule gives them at t. */
function expectedAlert(rule: AlertRule, s: WebhookScenario, t: number) {
  const labels = { ...TARGET, ...rule.labels };
  const value = rule.alert === EXPIRING ? s.expiry(t) - t : 0;
  return {
    exp_labels: labels,
    exp_annotations: Object.fromEntries(
      Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, renderTemplate(v, labels, value)]),
    ),
  };
}

function promtoolTest(s: WebhookScenario, rules: readonly AlertRule[], file: string): unknown {
  const names = [...new Set(rules.map((r) => r.alert))];
  const fires = (rule: AlertRule, firing: readonly Expected[]): boolean =>
    firing.some(([alert, severity]) => {
      return alert === rule.alert && (severity === undefined || severity === rule.labels?.severity);
    });
  return {
    rule_files: [file],
    evaluation_interval: `${SCRAPE_SECONDS}s`,
    tests: [
      {
        interval: `${SCRAPE_SECONDS}s`,
        input_series: inputSeries(s),
        alert_rule_test: s.expect.flatMap(({ at, firing }) =>
          names.map((alertname) => ({
            eval_time: `${at * MIN}s`,
            alertname,
            exp_alerts: rules
              .filter((r) => r.alert === alertname && fires(r, firing))
              .map((r) => expectedAlert(r, s, at * MIN)),
          })),
        ),
      },
    ],
  };
}

/** A certificate that expires `left` seconds after the start, never renewed. */
const expiresIn = (left: number) => (): number => left;

const SCENARIOS: Record<string, WebhookScenario> = {
  'healthy: a certificate with 60 days left, pods injected': {
    minutes: 120,
    expiry: expiresIn(60 * DAY),
    expect: quiet(5, 30, 60, 120),
  },
  "cert-manager's renewal 15 days ahead (renewBefore 360h) loads: no alert": {
    minutes: 120,
    expiry: (t) => (t < 30 * MIN ? 15 * DAY : 30 * MIN + 90 * DAY),
    reloads: [{ at: 30 * MIN, result: 'success' }],
    expect: quiet(10, 29, 31, 60, 120),
  },
  "certificates.sh's 365-day certificate left to run out: a warning 14 days ahead": {
    minutes: 120,
    expiry: expiresIn(14 * DAY + 30 * MIN),
    // Under 14 days from 30 min on; the warning waits its 10 minutes.
    expect: [
      ...quiet(20, 35),
      { at: 45, firing: [[EXPIRING, 'warning']] },
      { at: 120, firing: [[EXPIRING, 'warning']] },
    ],
  },
  'a certificate 2 days from expiry: critical, and after its expiry still firing': {
    minutes: 2 * 24 * 60 + 60,
    expiry: expiresIn(2 * DAY + 30 * MIN),
    expect: [
      ...quiet(5),
      { at: 15, firing: [[EXPIRING, 'warning']] },
      { at: 35, firing: [[EXPIRING, 'warning']] },
      {
        at: 45,
        firing: [
          [EXPIRING, 'warning'],
          [EXPIRING, 'critical'],
        ],
      },
      // Expired 30 minutes ago.
      {
        at: 2 * 24 * 60 + 60,
        firing: [
          [EXPIRING, 'warning'],
          [EXPIRING, 'critical'],
        ],
      },
    ],
  },
  'a renewed pair that does not load: warned while it stays, the expiry warning joining it': {
    minutes: 24 * 60 + 120,
    // cert-manager renews 15 days ahead; the webhook keeps the old certificate.
    expiry: expiresIn(15 * DAY + HOUR),
    reloads: [{ at: HOUR, result: 'failure' }],
    expect: [
      ...quiet(59, 63),
      { at: 70, firing: [[RELOAD_FAILING]] },
      { at: 23 * 60, firing: [[RELOAD_FAILING]] },
      { at: 24 * 60 + 120, firing: [[RELOAD_FAILING], [EXPIRING, 'warning']] },
    ],
  },
  'a renewal that loads, then one that does not, the same day': {
    minutes: 8 * 60,
    expiry: (t) => (t < HOUR ? 15 * DAY : HOUR + 90 * DAY),
    reloads: [
      { at: HOUR, result: 'success' },
      { at: 5 * HOUR, result: 'failure' },
    ],
    expect: [...quiet(61, 4 * 60, 5 * 60 + 3), { at: 5 * 60 + 10, firing: [[RELOAD_FAILING]] }],
  },
  'a bad pair, then the files put back to the pair in use: quiet from then': {
    minutes: 4 * 60,
    expiry: expiresIn(30 * DAY),
    reloads: [{ at: 30 * MIN, result: 'failure' }],
    restored: [50 * MIN],
    expect: [...quiet(29), { at: 40, firing: [[RELOAD_FAILING]] }, ...quiet(51, 120, 4 * 60)],
  },
  'a pair read while the kubelet swapped it fails once, then loads: no alert': {
    minutes: 90,
    expiry: (t) => (t < 30 * MIN + 30 ? 15 * DAY : 30 * MIN + 90 * DAY),
    reloads: [
      { at: 30 * MIN, result: 'failure' },
      { at: 30 * MIN + 30, result: 'success' },
    ],
    expect: quiet(29, 31, 36, 40, 90),
  },
  'a bad pair replaced by a good one 20 minutes later': {
    minutes: 120,
    expiry: (t) => (t < 50 * MIN ? 15 * DAY : 50 * MIN + 90 * DAY),
    reloads: [
      { at: 30 * MIN, result: 'failure' },
      { at: 50 * MIN, result: 'success' },
    ],
    expect: [...quiet(29, 33), { at: 40, firing: [[RELOAD_FAILING]] }, ...quiet(51, 120)],
  },
  'the webhook configuration lost its objectSelector: unlabelled pods reviewed': {
    minutes: 120,
    expiry: expiresIn(60 * DAY),
    unlabelled: [20 * MIN, 20 * MIN, 20 * MIN + 10],
    expect: [
      ...quiet(19),
      { at: 22, firing: [[SELECTOR_LOST]] },
      { at: 75, firing: [[SELECTOR_LOST]] },
      ...quiet(85),
    ],
  },
  'a stale caBundle: the API server fails every handshake from minute 20 on': {
    minutes: 60,
    expiry: expiresIn(60 * DAY),
    // The API server's retries and the controllers' pods, a failure each 30 s.
    untrusted: Array.from({ length: 80 }, (_, i) => 20 * MIN + i * SCRAPE_SECONDS),
    expect: [
      ...quiet(19, 25),
      { at: 32, firing: [[NOT_TRUSTED]] },
      { at: 55, firing: [[NOT_TRUSTED]] },
    ],
  },
  'one client with the wrong CA, and a scanner all along: no alert': {
    minutes: 60,
    expiry: expiresIn(60 * DAY),
    untrusted: [20 * MIN],
    garbled: Array.from({ length: 100 }, (_, i) => i * SCRAPE_SECONDS),
    expect: quiet(19, 21, 25, 30, 60),
  },
  'the webhook cannot be scraped for 10 minutes': {
    minutes: 30,
    expiry: expiresIn(60 * DAY),
    up: (t) => t < 10 * MIN || t >= 20 * MIN,
    expect: [...quiet(9, 12), { at: 16, firing: [[DOWN]] }, ...quiet(25)],
  },
};

describeWithPromtool("the webhook's shipped alerts under promtool test rules", () => {
  const groups = shippedRuleGroups();
  // Every alert shipped, the proxy's too: none of them may fire on the webhook's series.
  const rules = groups.flatMap((g) => g.rules);
  const passes = promtoolRuleTests('vap-webhook-alerts-', ruleFile(groups));

  it("has a scenario in which each of the webhook's alerts fires, at each severity", () => {
    const fired = Object.values(SCENARIOS).flatMap((s) => s.expect.flatMap((e) => e.firing));
    const webhookRules = groupRules(groups, INJECTOR_GROUP);
    expect(webhookRules.map((r) => r.alert)).toEqual([
      EXPIRING,
      EXPIRING,
      RELOAD_FAILING,
      NOT_TRUSTED,
      SELECTOR_LOST,
      DOWN,
    ]);
    const unfired = webhookRules.filter(
      (r) =>
        !fired.some(
          ([alert, severity]) =>
            alert === r.alert && (severity ?? r.labels?.severity) === r.labels?.severity,
        ),
    );
    expect(unfired.map((r) => `${r.alert} (${r.labels?.severity})`)).toEqual([]);
  });

  it.each(Object.entries(SCENARIOS))('%s', (name, scenario) =>
    passes(name, promtoolTest(scenario, rules, 'rules.yaml')),
  );
});
