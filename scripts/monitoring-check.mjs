#!/usr/bin/env node
/**
 * Monitoring checked by the real thing: a real Prometheus server (Debian's `prometheus`)
 * scrapes the built proxy every second while it serves two users under traffic, with
 * Vidispine forgetting every token twice and a token endpoint outage long enough for the
 * tokens to expire. Then every Grafana panel query (deploy/monitoring/grafana-dashboard.json)
 * and every alert expression (deploy/monitoring/prometheusrule.yaml) is evaluated through
 * Prometheus's HTTP API over the run and must return data; the proxy's alert expressions must
 * return none while all is healthy; and Prometheus must evaluate the shipped rule file
 * without error. Beside the proxy, two injection webhooks (the built CLI's `inject`) are
 * scraped as the shipped monitors name them (job vidispine-auth-proxy-injector): a healthy
 * one (a 90-day certificate, labelled pods), for which no webhook alert expression may
 * return anything, and a troubled one (a certificate with a day left, an unlabelled pod
 * reviewed, clients that trust another CA, a renewed key that does not load), for which each
 * must return data.
 *
 * The run compresses time: 10 s and 20 s tokens instead of 60 s, 1 s scrapes instead of 30 s,
 * so the alerts' range windows are read at a tenth of their length ([5m] → [30s]). Their
 * behaviour at real scale is what `promtool test rules` checks in test/monitoring.
 *
 *   npm run monitoring-check [-- --picture docs/monitoring.svg]   (about 2 minutes)
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort, startPrometheus } from './monitoring/prometheus.mjs';
import { renderPicture } from './monitoring/picture.mjs';
import { dashboardPanels, ruleGroups, substituteVariables } from './monitoring/queries.mjs';
import { watchChild } from './monitoring/listening.mjs';
import { breakKey, startWebhook } from './monitoring/webhooks.mjs';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { createSimulator } = require('../dist/simulator');

const SCRAPE_SECONDS = 1;
const TIME_SCALE = 10;
/** Seconds from the start; the outage outlasts both lifetimes and the scaled 5 m windows. */
const PHASES = {
  /** Alerts must be quiet from here (both users renewed once) to the first revocation. */
  quietFrom: 16,
  /**
   * Far enough apart for each replacement token to live to its renewal: revocations at
   * similar token ages with nothing in between would rightly teach the proxy a shorter
   * lifetime (checked below).
   */
  revocations: [18, 36],
  outage: { from: 40, to: 72 },
  /**
   * The troubled webhook is sent a pod without the opt-in label, then given a bad key, and
   * meets a client that trusts another CA (a stale caBundle) in between.
   */
  webhook: { unlabelled: 20, badKey: 30, untrusted: { from: 22, to: 60 } },
  /** Leaves time for the no-token backoff (at most 30 s) to mint again after the outage. */
  end: 108,
};
const USERS = {
  alice: { seconds: 10, own: true },
  bob: { seconds: 20, own: false },
};

const picture = (() => {
  const i = process.argv.indexOf('--picture');
  return i < 0 ? undefined : process.argv[i + 1];
})();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ the proxy as a child

function startProxy(simUrl, dir) {
  const config = {
    vidispine: {
      url: simUrl,
      admin: { username: 'admin', password: 'admin' },
      mintTimeoutSeconds: 2,
      upstreamTimeoutSeconds: 1.5,
    },
    users: Object.entries(USERS).map(([name, u]) => ({
      name,
      ...(u.own ? { password: `${name}-password` } : {}),
      listen: '127.0.0.1:0',
      token: { seconds: u.seconds },
    })),
    ops: { listen: '127.0.0.1:0' },
    log: { level: 'warn' },
    shutdown: { delaySeconds: 0, drainSeconds: 2 },
  };
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, stringify(config));
  // `listening` is logged at info: start at info, read it, ignore the rest.
  const child = spawn(process.execPath, [join(root, 'dist/cli.js'), 'run', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  const { listening, stop } = watchChild(child, 'proxy');
  const ready = listening.then((entry) => ({
    ports: Object.fromEntries(entry.listeners.map((l) => [l.user, l.port])),
    opsPort: entry.ops.port,
  }));
  return { ready, stop };
}

// ------------------------------------------------------------------ traffic

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const answers = new Map();

function request(port, path, method = 'GET', body) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve('error'));
    });
    req.on('error', () => resolve('error'));
    req.end(body);
  }).then((status) => answers.set(status, (answers.get(status) ?? 0) + 1));
}

async function clients(ports, until) {
  const client = async (port) => {
    for (let i = 0; Date.now() < until; i++) {
      if (i % 20 === 19)
        await request(port, '/API/import/raw?filename=m', 'POST', 'x'.repeat(4096));
      else await request(port, '/API/whoami');
      await sleep(20);
    }
  };
  // Requests Vidispine answers too late: 504s and `upstream_errors_total{reason="timeout"}`.
  const slow = async () => {
    while (Date.now() < until) {
      await request(ports.alice, '/API/slow?ms=2500');
      await sleep(3000);
    }
  };
  await Promise.all([...Object.values(ports).flatMap((p) => [client(p), client(p)]), slow()]);
}

async function chaos(sim, start, troubled) {
  const at = (s) => sleep(Math.max(0, start + s * 1000 - Date.now()));
  const webhook = (async () => {
    await at(PHASES.webhook.unlabelled);
    await troubled.review(false);
    await at(PHASES.webhook.badKey);
    breakKey(troubled.keyFile);
  })();
  // A stale caBundle: a handshake refused every 2 s, long enough for the scaled [30s] rate.
  const untrusted = (async () => {
    await at(PHASES.webhook.untrusted.from);
    while (Date.now() < start + PHASES.webhook.untrusted.to * 1000) {
      await troubled.untrusted();
      await sleep(2000);
    }
  })();
  for (const s of PHASES.revocations) {
    await at(s);
    sim.revokeAllTokens();
  }
  await at(PHASES.outage.from);
  sim.failTokenEndpoints({ kind: 'status', status: 503 });
  await at(PHASES.outage.to);
  sim.healTokenEndpoints();
  await webhook;
  await untrusted;
}

/** Labelled pods for the healthy webhook, one a second. */
async function labelledPods(webhook, until) {
  while (Date.now() < until) {
    await webhook.review(true);
    await sleep(1000);
  }
}

// ------------------------------------------------------------------ checks

/** Range windows at the run's time scale: `[5m]` → `[30s]`. */
function scaleWindows(expr) {
  const unit = { s: 1, m: 60, h: 3600 };
  return expr.replace(
    /\[(\d+)([smh])\]/g,
    (_m, n, u) => `[${Math.max(SCRAPE_SECONDS * 4, (Number(n) * unit[u]) / TIME_SCALE)}s]`,
  );
}

const finitePoints = (result) =>
  result.reduce((n, s) => n + s.values.filter(([, v]) => Number.isFinite(Number(v))).length, 0);

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'vap-monitoring-'));
  const sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
  const proxy = startProxy(sim.url, dir);
  const webhooks = [];
  let prometheus;
  const problems = [];
  try {
    const { ports, opsPort } = await proxy.ready;
    const webhookDir = (name) => {
      const d = join(dir, name);
      mkdirSync(d);
      return d;
    };
    const healthy = await startWebhook(root, webhookDir('healthy'), 90);
    webhooks.push(healthy);
    const troubled = await startWebhook(root, webhookDir('troubled'), 1);
    webhooks.push(troubled);
    const groups = ruleGroups(root);
    const deadPort = await freePort();
    const deadWebhookPort = await freePort();
    prometheus = await startPrometheus({
      files: { 'rules.yaml': stringify({ groups }) },
      config: {
        global: {
          scrape_interval: `${SCRAPE_SECONDS}s`,
          scrape_timeout: `${SCRAPE_SECONDS}s`,
          evaluation_interval: `${SCRAPE_SECONDS}s`,
        },
        rule_files: ['rules.yaml'],
        scrape_configs: [
          {
            job_name: 'vidispine-auth-proxy',
            static_configs: [
              { targets: [`127.0.0.1:${opsPort}`] },
              // A proxy that is gone: `up` 0, what VidispineAuthProxyDown watches.
              { targets: [`127.0.0.1:${deadPort}`], labels: { note: 'nothing-listens' } },
            ],
          },
          {
            // The job deploy/monitoring's PodMonitor and the chart's ServiceMonitor give it.
            job_name: 'vidispine-auth-proxy-injector',
            static_configs: [
              { targets: [`127.0.0.1:${healthy.opsPort}`], labels: { note: 'healthy' } },
              { targets: [`127.0.0.1:${troubled.opsPort}`], labels: { note: 'troubled' } },
              // A webhook that is gone: what VidispineAuthProxyWebhookDown watches.
              { targets: [`127.0.0.1:${deadWebhookPort}`], labels: { note: 'nothing-listens' } },
            ],
          },
        ],
      },
    });
    const start = Date.now();
    const end = start + PHASES.end * 1000;
    console.log(
      `monitoring-check: ${PHASES.end} s; Prometheus ${prometheus.url} scrapes the proxy (ops :${opsPort}) every ${SCRAPE_SECONDS} s; ` +
        `tokens revoked at ${PHASES.revocations.join(' s and ')} s, token endpoint down ${PHASES.outage.from}–${PHASES.outage.to} s`,
    );
    await Promise.all([
      clients(ports, end),
      chaos(sim, start, troubled),
      labelledPods(healthy, end),
    ]);
    await sleep(3 * SCRAPE_SECONDS * 1000);
    const [from, to] = [start / 1000, Date.now() / 1000];
    console.log(`monitoring-check: client answers ${JSON.stringify(Object.fromEntries(answers))}`);
    const status = await (await fetch(`http://127.0.0.1:${opsPort}/status`)).json();
    for (const u of status.users) {
      if (u.lifetimeSeconds !== USERS[u.user].seconds) {
        problems.push(`${u.user}: the run taught the proxy a ${u.lifetimeSeconds} s lifetime`);
      }
    }

    const results = { start: from, end: to, phases: PHASES, panels: [], alerts: [] };
    console.log('monitoring-check: Grafana panels (series / finite points)');
    for (const panel of dashboardPanels(root)) {
      const targets = [];
      for (const t of panel.targets) {
        const expr = substituteVariables(t.expr, { scrapeSeconds: SCRAPE_SECONDS });
        const result = await prometheus.queryRange(expr, from, to, SCRAPE_SECONDS);
        const points = finitePoints(result);
        console.log(
          `  ${points > 0 ? 'ok  ' : 'FAIL'} ${panel.title}: ${result.length} / ${points}   ${t.expr}`,
        );
        if (points === 0) problems.push(`panel "${panel.title}" returned no data: ${t.expr}`);
        targets.push({ ...t, result });
      }
      results.panels.push({ ...panel, targets });
    }

    console.log('monitoring-check: alert expressions (series over the run / while healthy)');
    const quiet = [from + PHASES.quietFrom, from + PHASES.revocations[0]];
    const proxyRules = groups
      .filter((g) => g.name === 'vidispine-auth-proxy')
      .flatMap((g) => g.rules);
    if (proxyRules.length === 0) problems.push('no rule group vidispine-auth-proxy');
    const onWebhooks = 'and on (instance) up{job="vidispine-auth-proxy-injector"}';
    for (const rule of proxyRules) {
      const expr = scaleWindows(rule.expr);
      const result = await prometheus.queryRange(expr, from, to, SCRAPE_SECONDS);
      // The unreachable target is down all along: only the live proxy must look healthy.
      const live = await prometheus.queryRange(
        `(${expr}) unless on (instance) up{instance="127.0.0.1:${deadPort}"}`,
        ...quiet,
        SCRAPE_SECONDS,
      );
      const ok = finitePoints(result) > 0 && live.length === 0;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${rule.alert}: ${result.length} / ${live.length}`);
      if (finitePoints(result) === 0) problems.push(`alert ${rule.alert} never had data: ${expr}`);
      if (live.length > 0) {
        problems.push(
          `alert ${rule.alert} had data while healthy: ${JSON.stringify(live[0].metric)}`,
        );
      }
      // The webhook's targets, the one gone included, are never the proxy's.
      const webhookSeries = await prometheus.queryRange(
        `(${expr}) ${onWebhooks}`,
        from,
        to,
        SCRAPE_SECONDS,
      );
      if (webhookSeries.length > 0) {
        problems.push(
          `alert ${rule.alert} took a webhook: ${JSON.stringify(webhookSeries[0].metric)}`,
        );
      }
      results.alerts.push({ alert: rule.alert, expr, result });
    }

    console.log(
      "monitoring-check: the webhook's alert expressions (series over the run / of the healthy webhook)",
    );
    const webhookRules = groups
      .filter((g) => g.name === 'vidispine-auth-proxy-injector')
      .flatMap((g) => g.rules);
    if (webhookRules.length === 0) problems.push('no rule group vidispine-auth-proxy-injector');
    for (const rule of webhookRules) {
      const expr = scaleWindows(rule.expr);
      const name = `${rule.alert} (${rule.labels?.severity})`;
      const result = await prometheus.queryRange(expr, from, to, SCRAPE_SECONDS);
      const ofHealthy = await prometheus.queryRange(
        `(${expr}) and on (instance) up{instance="127.0.0.1:${healthy.opsPort}"}`,
        from,
        to,
        SCRAPE_SECONDS,
      );
      const ok = finitePoints(result) > 0 && ofHealthy.length === 0;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name}: ${result.length} / ${ofHealthy.length}`);
      if (finitePoints(result) === 0) problems.push(`alert ${name} never had data: ${expr}`);
      if (ofHealthy.length > 0) problems.push(`alert ${name} had data for the healthy webhook`);
      // Only the webhook's targets: the proxy's, the one gone included, are not the webhook's.
      const ofOthers = await prometheus.queryRange(
        `(${expr}) unless on (instance) up{job="vidispine-auth-proxy-injector"}`,
        from,
        to,
        SCRAPE_SECONDS,
      );
      if (ofOthers.length > 0)
        problems.push(
          `alert ${name} took a target of the proxy: ${JSON.stringify(ofOthers[0].metric)}`,
        );
    }

    const rules = (await prometheus.api('rules')).groups.flatMap((g) => g.rules);
    for (const r of rules) {
      if (r.health !== 'ok')
        problems.push(`Prometheus evaluates ${r.name} with ${r.health}: ${r.lastError}`);
    }
    console.log(
      `monitoring-check: Prometheus evaluated ${rules.length} shipped rules, ${rules.filter((r) => r.health === 'ok').length} without error; ` +
        `firing now: ${
          rules
            .filter((r) => r.state === 'firing')
            .map((r) => r.name)
            .join(', ') || 'none'
        }`,
    );
    if (picture) {
      writeFileSync(picture, renderPicture(results));
      console.log(`monitoring-check: wrote ${picture}`);
    }
  } catch (err) {
    problems.push(err.stack ?? String(err));
  } finally {
    agent.destroy();
    await prometheus?.stop();
    for (const webhook of webhooks) await webhook.stop();
    await proxy.stop();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (problems.length > 0) {
    console.log(`monitoring-check: FAILED\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else console.log('monitoring-check: passed');
}

await main();
