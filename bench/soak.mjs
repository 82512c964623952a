#!/usr/bin/env node
/**
 * Soak: the built proxy (`node dist/cli.js run`) as a child process in front of the bundled
 * simulator, with 5 s tokens, mixed traffic (small GETs, uploads checked by SHA-256, whole and
 * ranged downloads checked byte for byte) and, all along, Vidispine forgetting every token
 * and short token endpoint outages. Prints requests, errors by kind, mints, replays and the
 * proxy's RSS at start, middle and end; exits 1 on any client-visible error, any checksum
 * mismatch, or RSS growth beyond a sane bound.
 *
 *   npm run soak -- --minutes=N     (default 10; fractions allowed, e.g. 0.5)
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { optionsOrExit, parseCommandLine, positiveNumber } from './lib/options.mjs';
import { installCleanup, makeTempDir, removeTempDir, startProcess } from './lib/procs.mjs';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { createSimulator, PATTERN_PERIOD } = require('../dist/simulator');

const MiB = 1024 * 1024;
const TOKEN_SECONDS = 5;
const WORKERS = 6;
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * An outage fails the next token request, or heals after this long (shorter than the token
 * lifetime). One failed renewal is retried 0.5–1 s later, before the token's last usable
 * instant, so clients must not notice.
 */
const OUTAGE_MS = 4000;
/** Token ages at which the simulated restarts strike: below what the next renewal outlives by 25 %. */
const REVOKE_AGE_MS = [200, 2500];
/** Allowed RSS growth from the start sample (taken after warm-up) to the end. */
const RSS_GROWTH_LIMIT = (startRss) => Math.max(64 * MiB, startRss * 0.5);

/** `--minutes N` or `--minutes=N`; anything else is refused before the soak starts. */
function parseMinutes(argv) {
  const values = parseCommandLine(argv, { minutes: { type: 'string' } });
  return values.minutes === undefined ? 10 : positiveNumber(values.minutes, 'minutes');
}

const durationMs = optionsOrExit('soak', () => parseMinutes(process.argv.slice(2))) * 60_000;
const stats = {
  requests: 0,
  byKind: { get: 0, upload: 0, download: 0, ranged: 0 },
  bytesUp: 0,
  bytesDown: 0,
  errors: new Map(),
  chaos: { revocations: 0, outages: 0 },
};

function fail(kind, detail) {
  const entry = stats.errors.get(kind) ?? { count: 0, example: detail };
  entry.count += 1;
  stats.errors.set(kind, entry);
}

// ---------------------------------------------------------------- the proxy as a child

function startProxy(simUrl, dir) {
  const configFile = join(dir, 'proxy.yaml');
  writeFileSync(
    configFile,
    [
      'vidispine:',
      `  url: ${simUrl}`,
      '  mintTimeoutSeconds: 2',
      '  upstreamTimeoutSeconds: 30',
      'token:',
      `  seconds: ${TOKEN_SECONDS}`,
      'users:',
      '  - name: alice',
      '    password: alice-password',
      '    listen: 127.0.0.1:0',
      'ops:',
      '  listen: 127.0.0.1:0',
      'log:',
      '  level: info',
      'shutdown:',
      '  delaySeconds: 0',
      '  drainSeconds: 5',
      '',
    ].join('\n'),
  );
  // Tracked: killed, with the directory of its config (a password in it), if the soak is.
  const proc = startProcess('proxy', process.execPath, [
    join(root, 'dist/cli.js'),
    'run',
    '--config',
    configFile,
  ]);
  const { child } = proc;
  const logLevels = new Map();
  /** The last warnings and errors, shown when the soak fails. */
  const notable = [];
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start:\n${stderr}`)), 20_000);
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        logLevels.set(entry.level, (logLevels.get(entry.level) ?? 0) + 1);
        if (entry.level !== 'info' && entry.level !== 'debug') {
          notable.push(line);
          if (notable.length > 40) notable.shift();
        }
        if (entry.event === 'listening') {
          clearTimeout(timer);
          resolve({ dataPort: entry.listeners[0].port, opsPort: entry.ops.port });
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited (${code}) before listening:\n${stderr}`));
    });
  });
  return { child, stop: proc.stop, ready, logLevels, notable, stderr: () => stderr };
}

// ---------------------------------------------------------------- HTTP helpers

const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS });

function request(port, { method = 'GET', path, headers = {}, body, chunked = false }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers, agent, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    if (body === undefined) return req.end();
    if (!chunked) return req.end(body);
    // No Content-Length: the proxy streams it upstream chunked.
    for (let off = 0; off < body.length; off += 256 * 1024)
      req.write(body.subarray(off, off + 256 * 1024));
    req.end();
  });
}

async function scrape(opsPort) {
  const res = await request(opsPort, { path: '/metrics' });
  const samples = [];
  for (const line of res.body.toString().split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const sum = (name, where = {}) =>
    samples
      .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
      .reduce((a, s) => a + s.value, 0);
  return { samples, sum };
}

// ---------------------------------------------------------------- traffic

const UPLOAD_SOURCE = randomBytes(4 * MiB);
const rand = (n) => Math.floor(Math.random() * n);

function patternMismatch(body, offset) {
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== (offset + i) % PATTERN_PERIOD) return i;
  }
  return -1;
}

async function oneRequest(port) {
  const pick = Math.random();
  if (pick < 0.55) {
    stats.byKind.get += 1;
    const res = await request(port, { path: '/API/whoami' });
    if (res.status !== 200) return fail(`GET ${res.status}`, res.body.toString().trim());
    if (res.body.toString() !== 'alice') fail('GET wrong identity', res.body.toString());
    return;
  }
  if (pick < 0.75) {
    stats.byKind.upload += 1;
    // Up to 3 MiB: some within the 1 MiB replay buffer, some beyond it (100-continue path).
    const size = 1 + rand(3 * MiB);
    const start = rand(UPLOAD_SOURCE.length - size);
    const body = UPLOAD_SOURCE.subarray(start, start + size);
    const chunked = Math.random() < 0.25;
    const res = await request(port, {
      method: 'POST',
      path: `/API/import/raw?filename=soak-${size}`,
      headers: chunked ? {} : { 'content-length': String(size) },
      body,
      chunked,
    });
    if (res.status !== 200) return fail(`upload ${res.status}`, res.body.toString().trim());
    stats.bytesUp += size;
    const answer = JSON.parse(res.body.toString());
    const expected = createHash('sha256').update(body).digest('hex');
    if (answer.sha256 !== expected || answer.bytes !== size) {
      fail('upload checksum mismatch', `${answer.bytes} bytes, ${answer.sha256} ≠ ${expected}`);
    }
    return;
  }
  const size = 1 + rand(8 * MiB);
  const ranged = Math.random() < 0.5;
  const first = ranged ? rand(size) : 0;
  const last = ranged ? first + rand(size - first) : size - 1;
  stats.byKind[ranged ? 'ranged' : 'download'] += 1;
  const res = await request(port, {
    path: `/API/storage/file/VX-SOAK/data?size=${size}`,
    headers: ranged ? { range: `bytes=${first}-${last}` } : {},
  });
  if (res.status !== (ranged ? 206 : 200))
    return fail(`download ${res.status}`, res.body.toString().slice(0, 200));
  stats.bytesDown += res.body.length;
  if (res.body.length !== last - first + 1) {
    return fail('download length mismatch', `${res.body.length} ≠ ${last - first + 1}`);
  }
  const at = patternMismatch(res.body, first);
  if (at >= 0) fail('download checksum mismatch', `byte ${first + at} of ${size}`);
}

async function worker(port, until) {
  while (Date.now() < until) {
    stats.requests += 1;
    try {
      await oneRequest(port);
    } catch (err) {
      fail(`network ${err.code ?? err.message}`, err.message);
    }
  }
}

// ---------------------------------------------------------------- chaos

const OUTAGES = [
  { kind: 'status', status: 503 },
  { kind: 'empty' },
  { kind: 'drop' },
  { kind: 'status', status: 500 },
];

/**
 * Each cycle: Vidispine forgets every token when the current one is a random age between
 * `REVOKE_AGE_MS` (a restart strikes at any age), then the token endpoints fail the next
 * token request (normally the replacement token's renewal) or heal after `OUTAGE_MS`.
 * The next revocation waits until a token was minted again after the outage: with no token
 * held and the endpoint failing, a 503 is the right answer, not a defect. In between, the
 * replacement token lives to its renewal, which shows Vidispine keeps tokens longer than the
 * age the restart struck at, so the proxy does not mistake restarts for a capped lifetime.
 */
async function chaos(sim, opsPort, until) {
  let step = 0;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const between = (lo, hi) => lo + Math.random() * (hi - lo);
  const tokenAge = async () => {
    const res = await request(opsPort, { path: '/status' });
    const at = JSON.parse(res.body.toString()).users[0].lastRefreshAt;
    return at === null ? 0 : Date.now() - Date.parse(at);
  };
  const mints = async () => {
    const m = await scrape(opsPort);
    return {
      ok: m.sum('vidispine_auth_proxy_token_refreshes_total', { result: 'success' }),
      failed: m.sum('vidispine_auth_proxy_token_refreshes_total', { result: 'failure' }),
    };
  };
  while (Date.now() + OUTAGE_MS + 2 * TOKEN_SECONDS * 1000 < until) {
    const target = between(...REVOKE_AGE_MS);
    for (let age = await tokenAge(); age < target || age > target + 300; age = await tokenAge()) {
      await sleep(age < target ? Math.min(target - age, 500) : 50);
    }
    const beforeRevoke = await mints();
    sim.revokeAllTokens();
    stats.chaos.revocations += 1;
    // The outage must not strike the replacement token's mint (clients would rightly get 503).
    const remintBy = Date.now() + 5000;
    while ((await mints()).ok === beforeRevoke.ok && Date.now() < remintBy) await sleep(50);
    await sleep(between(0, 1000));
    const before = await mints();
    sim.failTokenEndpoints(OUTAGES[step++ % OUTAGES.length], { times: 1, forMs: OUTAGE_MS });
    stats.chaos.outages += 1;
    const outageEnd = Date.now() + OUTAGE_MS;
    for (;;) {
      await sleep(100);
      const now = await mints();
      if (now.failed > before.failed && now.ok > before.ok) break;
      if (now.failed === before.failed && Date.now() > outageEnd) break;
      if (Date.now() > outageEnd + 5000) break;
    }
    sim.healTokenEndpoints();
  }
}

// ---------------------------------------------------------------- main

async function main() {
  installCleanup('soak');
  const dir = makeTempDir('vap-soak-');
  const sim = createSimulator({ maxSeconds: 60 });
  await sim.listen(0, '127.0.0.1');
  const proxy = startProxy(sim.url, dir);
  let exitCode = 0;
  try {
    const { dataPort, opsPort } = await proxy.ready;
    const started = Date.now();
    const end = started + durationMs;
    console.log(
      `soak: ${(durationMs / 60_000).toFixed(2)} min, proxy pid ${proxy.child.pid}, data :${dataPort}, ops :${opsPort}, ` +
        `${TOKEN_SECONDS} s tokens, ${WORKERS} clients, revocations at token ages ` +
        `${REVOKE_AGE_MS[0] / 1000}–${REVOKE_AGE_MS[1] / 1000} s, each followed by a token endpoint outage ` +
        `(the next token request fails, or ${OUTAGE_MS / 1000} s)`,
    );
    const rss = [];
    const sampleRss = async (label) => {
      const value = (await scrape(opsPort)).sum('process_resident_memory_bytes');
      rss.push({ label, value });
      console.log(
        `soak: ${label.padEnd(6)} proxy RSS ${(value / MiB).toFixed(1)} MiB after ${((Date.now() - started) / 1000).toFixed(0)} s, ${stats.requests} requests`,
      );
    };
    const warmUp = Math.min(10_000, durationMs * 0.1);
    const samples = [
      sleepUntil(started + warmUp).then(() => sampleRss('start')),
      sleepUntil(started + durationMs / 2).then(() => sampleRss('middle')),
    ];
    await Promise.all([
      ...Array.from({ length: WORKERS }, () => worker(dataPort, end)),
      chaos(sim, opsPort, end),
      ...samples,
    ]);
    await sampleRss('end');
    const m = await scrape(opsPort);
    const mints = m.sum('vidispine_auth_proxy_token_refreshes_total', { result: 'success' });
    const mintFailures = m.sum('vidispine_auth_proxy_token_refreshes_total', { result: 'failure' });
    const replays = m.sum('vidispine_auth_proxy_upstream_unauthorized_total', { retried: 'true' });
    const passed401 = m.sum('vidispine_auth_proxy_upstream_unauthorized_total', {
      retried: 'false',
    });
    const upstreamErrors = m.sum('vidispine_auth_proxy_upstream_errors_total');
    const proxied = m.sum('vidispine_auth_proxy_requests_total');

    const status = JSON.parse((await request(opsPort, { path: '/status' })).body.toString());
    const lifetime = status.users[0].lifetimeSeconds;
    const errorCount = [...stats.errors.values()].reduce((a, e) => a + e.count, 0);
    console.log('soak: results');
    console.log(
      `  requests        ${stats.requests} (${JSON.stringify(stats.byKind)}), proxy counted ${proxied}`,
    );
    console.log(
      `  bytes           up ${(stats.bytesUp / MiB).toFixed(0)} MiB, down ${(stats.bytesDown / MiB).toFixed(0)} MiB`,
    );
    console.log(`  errors          ${errorCount}`);
    for (const [kind, e] of stats.errors)
      console.log(`    ${kind}: ${e.count} (e.g. ${e.example})`);
    console.log(
      `  chaos           ${stats.chaos.revocations} revocations, ${stats.chaos.outages} outages`,
    );
    console.log(`  mints           ${mints} ok, ${mintFailures} failed`);
    console.log(
      `  replays         ${replays} (401s passed on: ${passed401}), upstream errors ${upstreamErrors}`,
    );
    console.log(
      `  proxy RSS       ${rss.map((s) => `${s.label} ${(s.value / MiB).toFixed(1)} MiB`).join(', ')}`,
    );
    console.log(`  token lifetime  ${lifetime} s in use (${TOKEN_SECONDS} s requested)`);
    console.log(`  proxy log       ${JSON.stringify(Object.fromEntries(proxy.logLevels))}`);

    const startRss = rss.find((s) => s.label === 'start')?.value ?? rss[0].value;
    const endRss = rss[rss.length - 1].value;
    const problems = [];
    if (errorCount > 0) problems.push(`${errorCount} client-visible errors`);
    if (passed401 > 0) problems.push(`${passed401} 401s reached clients`);
    if (endRss - startRss > RSS_GROWTH_LIMIT(startRss)) {
      problems.push(
        `RSS grew ${((endRss - startRss) / MiB).toFixed(1)} MiB (limit ${(RSS_GROWTH_LIMIT(startRss) / MiB).toFixed(0)} MiB)`,
      );
    }
    if (lifetime < TOKEN_SECONDS) problems.push(`restarts were taken for a ${lifetime} s lifetime`);
    if (stats.chaos.revocations > 0 && replays === 0) {
      problems.push('no replay seen: the revocations did not bite');
    }
    if (stats.chaos.outages >= 3 && mintFailures === 0) {
      problems.push('no failed mint: the outages did not bite');
    }
    if (problems.length > 0) {
      console.log(`soak: the proxy's last warnings and errors:\n${proxy.notable.join('\n')}`);
      console.log(`soak: FAILED: ${problems.join('; ')}`);
      exitCode = 1;
    } else console.log('soak: passed');
  } catch (err) {
    console.error(`soak: ${err.stack ?? err}`);
    exitCode = 1;
  } finally {
    agent.destroy();
    // Its exit code, the signal that ended it (the OOM killer, say) or 'timeout'.
    const code = await proxy.stop(15_000);
    if (code !== 0) {
      console.log(`soak: proxy exit after SIGTERM: ${code}\n${proxy.stderr()}`);
      exitCode = 1;
    }
    await sim.close();
    removeTempDir(dir);
  }
  process.exit(exitCode);
}

function sleepUntil(at) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
}

main();
