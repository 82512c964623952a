import type { AlertRule } from './rules';
import { count, heldToken, type TokenHistory } from './token-history';

/** The shipped PodMonitor's scrape interval: the series are sampled this often. */
const SCRAPE_SECONDS = 30;
/**
 * The input series' grid: finer than the scrapes, so a scrape can fall between two rule
 * evaluations (the grid's other points hold no sample).
 */
const GRID_SECONDS = 10;

const METRIC = 'vidispine_auth_proxy_';
const TARGET = { job: 'media/vidispine-auth-proxy', instance: '10.0.0.7:9090' };

const USER = 'alice';

/** A proxy with one user as Prometheus sees it over `minutes`: the token history and `up`. */
export interface Scenario {
  minutes: number;
  token: TokenHistory;
  /** Whether the target could be scraped at t (default: always). */
  up?: (t: number) => boolean;
  /**
   * Seconds between a scrape and the rule evaluation that reads it (default 0). Scrapes and
   * evaluations run on separate 30 s timers, so a rule may always see data this old.
   */
  evaluationLag?: number;
  /**
   * Seconds from a rule evaluation to the next scrape, a multiple of 10 below 30 (default 0).
   * Scrapes and evaluations keep their own phase in a real Prometheus: then a 5-minute range
   * holds ten samples spanning 270 s, not the eleven spanning 300 s of scrapes that land
   * on the evaluation's own instants.
   */
  scrapePhase?: number;
  /** Which alerts fire at these moments (minutes); every other alert must be quiet then. */
  expect: { at: number; firing: string[] }[];
}

interface InputSeries {
  series: string;
  values: string;
}

function seriesName(name: string, labels: Record<string, string>): string {
  const all = { ...TARGET, ...labels };
  return `${name}{${Object.entries(all)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

/**
 * One value per scrape (`scrapePhase` seconds after an evaluation instant), as it was
 * `evaluationLag` seconds before; `undefined` (absent), and every point between two scrapes,
 * is promtool's `_`.
 */
function sampled(s: Scenario, value: (t: number) => number | undefined): string {
  const out: string[] = [];
  const lag = s.evaluationLag ?? 0;
  const phase = s.scrapePhase ?? 0;
  for (let t = 0; t <= s.minutes * 60; t += GRID_SECONDS) {
    const v = t % SCRAPE_SECONDS !== phase || t < lag ? undefined : value(t - lag);
    out.push(v === undefined ? '_' : String(v));
  }
  return out.join(' ');
}

const scraped = (s: Scenario, t: number): boolean => s.up?.(t) ?? true;

function inputSeries(s: Scenario): InputSeries[] {
  const out: InputSeries[] = [
    { series: seriesName('up', {}), values: sampled(s, (t) => (scraped(s, t) ? 1 : 0)) },
  ];
  // A failed scrape leaves no proxy series at all; `up` is Prometheus's own.
  const add = (
    name: string,
    labels: Record<string, string>,
    value: (t: number) => number | undefined,
  ) =>
    out.push({
      series: seriesName(`${METRIC}${name}`, labels),
      values: sampled(s, (t) => (scraped(s, t) ? value(t) : undefined)),
    });
  const h = s.token;
  const user = USER;
  {
    add('token_expiry_timestamp_seconds', { user }, (t) => heldToken(h, t)?.expiresAt);
    add('token_last_success_timestamp_seconds', { user }, (t) => heldToken(h, t)?.mintedAt);
    add('token_valid', { user }, (t) => {
      const held = heldToken(h, t);
      return held !== undefined && held.expiresAt > t ? 1 : 0;
    });
    add('token_refreshes_total', { user, result: 'success', reason: 'none' }, (t) =>
      count(h.mints, t),
    );
    // Every failure series starts at 0; two reasons are enough to show the labels apart.
    const reasons = new Set<string>(['network', ...h.failures.map((f) => f.reason)]);
    for (const reason of reasons) {
      const times = h.failures.filter((f) => f.reason === reason).map((f) => f.at);
      add('token_refreshes_total', { user, result: 'failure', reason }, (t) => count(times, t));
    }
  }
  return out;
}

/** Prometheus's `humanizeDuration`, for whole seconds. */
function humanizeDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const sign = seconds < 0 ? '-' : '';
  const v = Math.trunc(Math.abs(seconds));
  const [d, h, m, s] = [
    Math.floor(v / 86400),
    Math.floor(v / 3600) % 24,
    Math.floor(v / 60) % 60,
    v % 60,
  ];
  if (d > 0) return `${sign}${d}d ${h}h ${m}m ${s}s`;
  if (h > 0) return `${sign}${h}h ${m}m ${s}s`;
  if (m > 0) return `${sign}${m}m ${s}s`;
  return `${sign}${s}s`;
}

/** An annotation as Prometheus renders it; only the template forms the shipped rules use. */
export function renderTemplate(
  text: string,
  labels: Record<string, string>,
  value: number,
): string {
  const out = text
    .replace(
      /\{\{\s*if lt \$value 0\.0\s*\}\}(.*?)\{\{\s*else\s*\}\}(.*?)\{\{\s*end\s*\}\}/gs,
      (_m, negative: string, otherwise: string) => (value < 0 ? negative : otherwise),
    )
    .replace(
      /\{\{\s*(\$labels\.(\w+)|\$value(\s*\|\s*humanizeDuration)?)\s*\}\}/g,
      (_m, _e, label: string | undefined, humanize: string | undefined) => {
        if (label !== undefined) return labels[label] ?? '';
        return humanize ? humanizeDuration(value) : String(value);
      },
    );
  if (out.includes('{{')) throw new Error(`template form not modelled here: ${text}`);
  return out;
}

/** The alert's labels and value at time t, as the shipped expression would give them. */
function firingAlert(
  rule: AlertRule,
  s: Scenario,
  t: number,
): { labels: Record<string, string>; value: number }[] {
  const severity = rule.labels ?? {};
  const user = USER;
  switch (rule.alert) {
    case 'VidispineAuthProxyTokenExpiringWithoutRenewal': {
      const held = heldToken(s.token, t);
      if (held === undefined) throw new Error(`${rule.alert} cannot fire without a token`);
      return [{ labels: { ...TARGET, user, ...severity }, value: held.expiresAt - t }];
    }
    case 'VidispineAuthProxyTokenRefreshFailing':
      return [...new Set(s.token.failures.map((f) => f.reason))].map((reason) => ({
        labels: { ...TARGET, user, reason, ...severity },
        value: 0,
      }));
    case 'VidispineAuthProxyNotReady':
      return [{ labels: { ...TARGET, user, ...severity }, value: 0 }];
    case 'VidispineAuthProxyDown':
      return [{ labels: { ...TARGET, ...severity }, value: 0 }];
    default:
      throw new Error(`no model of the labels of ${rule.alert}: add it here`);
  }
}

/** A `promtool test rules` file: the scenario's series and, per moment, every alert's state. */
export function promtoolTest(s: Scenario, rules: readonly AlertRule[], ruleFile: string): unknown {
  return {
    rule_files: [ruleFile],
    evaluation_interval: `${SCRAPE_SECONDS}s`,
    tests: [
      {
        interval: `${GRID_SECONDS}s`,
        input_series: inputSeries(s),
        alert_rule_test: s.expect.flatMap(({ at, firing }) =>
          rules.map((rule) => ({
            eval_time: `${at * 60}s`,
            alertname: rule.alert,
            exp_alerts: firing.includes(rule.alert)
              ? firingAlert(rule, s, at * 60).map(({ labels, value }) => ({
                  exp_labels: labels,
                  exp_annotations: Object.fromEntries(
                    Object.entries(rule.annotations ?? {}).map(([k, v]) => [
                      k,
                      renderTemplate(v, labels, value),
                    ]),
                  ),
                }))
              : [],
          })),
        ),
      },
    ],
  };
}
