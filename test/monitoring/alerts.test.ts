import { promtoolTest, type Scenario } from './promtool-tests';
import { groupRules, PROXY_GROUP, ruleFile, shippedRuleGroups } from './rules';
import { failedAttempts, renewals } from './token-history';
import { describeWithPromtool, promtoolRuleTests } from './tools';

const EXPIRING = 'VidispineAuthProxyTokenExpiringWithoutRenewal';
const FAILING = 'VidispineAuthProxyTokenRefreshFailing';
const NOT_READY = 'VidispineAuthProxyNotReady';
const DOWN = 'VidispineAuthProxyDown';
const quiet = (...minutes: number[]) => minutes.map((at) => ({ at, firing: [] }));

const MIN = 60;
const HOUR = 3600;

/**
 * Each scenario is a proxy's series as Prometheus would scrape them (every 30 s), and the
 * alerts that must be firing at some moments, every other alert being quiet then (the
 * webhook's too: webhook-alerts.test.ts has the webhook's scenarios).
 */
const SCENARIOS: Record<string, Scenario> = {
  'healthy: 60 s tokens renewed at about 70 % of their lifetime': {
    minutes: 60,
    token: { lifetime: 60, mints: renewals(60, 0, 60 * MIN), failures: [] },
    expect: quiet(5, 10, 20, 30, 40, 50, 60),
  },
  'healthy: 1 h tokens': {
    minutes: 150,
    token: { lifetime: HOUR, mints: renewals(HOUR, 0, 150 * MIN), failures: [] },
    expect: quiet(10, 40, 59, 61, 90, 120, 150),
  },
  'healthy: a 60 s autoRefresh token kept alive by traffic, minted once': {
    minutes: 60,
    token: { lifetime: 60, mints: [0], pushEvery: 10, failures: [] },
    expect: quiet(5, 10, 30, 60),
  },
  'healthy: a 60 s autoRefresh token under steady traffic, each scrape read 28 s later': {
    minutes: 60,
    // Requests push the expiry at most every 10 s (the server's refresh interval): with a
    // steady stream of requests, about every 10.5 s.
    token: { lifetime: 60, mints: [0], pushEvery: 10.5, failures: [] },
    evaluationLag: 28,
    expect: quiet(5, 10, 20, 30, 40, 50, 60),
  },
  'token endpoint down for 20 minutes: the 60 s token expires, then a new one is minted': {
    minutes: 45,
    token: {
      lifetime: 60,
      mints: [...renewals(60, 0, 10 * MIN), 30 * MIN + 5, ...renewals(60, 31 * MIN, 45 * MIN)],
      failures: failedAttempts('server_error', 10 * MIN, 30 * MIN, 10 * MIN + 20),
    },
    expect: [
      ...quiet(9, 10.5),
      { at: 14, firing: [NOT_READY] },
      { at: 25, firing: [EXPIRING, FAILING, NOT_READY] },
      // The failures leave the 7-minute window of the failing alert by then.
      ...quiet(38, 45),
    ],
  },
  'wrong password from the start: no token for the user': {
    minutes: 20,
    token: { lifetime: 60, mints: [], failures: failedAttempts('unauthorized', 0, 20 * MIN) },
    expect: [...quiet(1), { at: 3, firing: [NOT_READY] }, { at: 15, firing: [FAILING, NOT_READY] }],
  },
  'a Vidispine URL that is not the server root (404): no token for the user': {
    minutes: 20,
    token: { lifetime: 60, mints: [], failures: failedAttempts('not_found', 0, 20 * MIN) },
    expect: [...quiet(1), { at: 3, firing: [NOT_READY] }, { at: 15, firing: [FAILING, NOT_READY] }],
  },
  'refreshes failing while a 1 h token is still valid': {
    minutes: 70,
    token: {
      lifetime: HOUR,
      mints: [0],
      failures: failedAttempts('timeout', 42 * MIN, 70 * MIN, HOUR),
    },
    expect: [...quiet(41, 45), { at: 55, firing: [FAILING] }],
  },
  'refreshes failing for an hour at the 5-minute backoff cap (8 h token)': {
    minutes: 7 * 60,
    token: {
      lifetime: 8 * HOUR,
      mints: [0],
      failures: failedAttempts('network', 336 * MIN, 7 * HOUR, 8 * HOUR),
    },
    expect: [...quiet(335), { at: 350, firing: [FAILING] }, { at: 7 * 60, firing: [FAILING] }],
  },
  'Vidispine hanging for an hour under an 8 h token, scraped between two evaluations': {
    minutes: 7 * 60,
    token: {
      lifetime: 8 * HOUR,
      mints: [0],
      // Each mint times out after 10 s, then waits the 5-minute cap: failures 310 s apart.
      failures: failedAttempts('timeout', 336 * MIN, 7 * HOUR, 8 * HOUR, 10),
    },
    scrapePhase: 20,
    expect: [
      ...quiet(335),
      // Firing from then on, not resolving between two failures.
      ...Array.from({ length: 71 }, (_, i) => ({ at: 350 + i, firing: [FAILING] })),
    ],
  },
  'a 4.5-minute token endpoint outage under a 1 h token, then renewed: no failing alert': {
    minutes: 70,
    token: {
      lifetime: HOUR,
      // The renewal fails from 40 min on (1 s, 2 s, 4 s … apart) and succeeds 4.5 min later.
      mints: [0, 40 * MIN + 270],
      failures: failedAttempts('server_error', 40 * MIN, 40 * MIN + 270, HOUR),
    },
    scrapePhase: 20,
    // Every evaluation from before the outage until well after it.
    expect: quiet(...Array.from({ length: 61 }, (_, i) => 39 + i / 2)),
  },
  'metrics endpoint unreachable for 10 minutes': {
    minutes: 30,
    token: { lifetime: HOUR, mints: [0], failures: [] },
    up: (t) => t < 10 * MIN || t >= 20 * MIN,
    expect: [...quiet(9, 12), { at: 16, firing: [DOWN] }, ...quiet(25)],
  },
};

describeWithPromtool('shipped alerts under promtool test rules', () => {
  const groups = shippedRuleGroups();
  const rules = groups.flatMap((g) => g.rules);
  const passes = promtoolRuleTests('vap-alerts-', ruleFile(groups));

  it("has a scenario in which each of the proxy's alerts fires", () => {
    const fired = new Set(
      Object.values(SCENARIOS).flatMap((s) => s.expect.flatMap((e) => e.firing)),
    );
    const proxyAlerts = groupRules(groups, PROXY_GROUP).map((r) => r.alert);
    expect(proxyAlerts.length).toBeGreaterThan(0);
    expect(proxyAlerts.filter((a) => !fired.has(a))).toEqual([]);
  });

  it.each(Object.entries(SCENARIOS))('%s', (name, scenario) =>
    passes(name, promtoolTest(scenario, rules, 'rules.yaml')),
  );
});
