// Start to ready and idle memory: fresh processes against the bundled Vidispine simulator,
// each timed from its spawn to its first 200 (this proxy: /readyz, which needs its first
// token; the others hold a token minted up front), then left idle and weighed. For this
// proxy, extra starts under bench/lib/startup-trace.cjs say where the time went. Each start
// is weighed twice: 1 s after its first request, and once it has been at rest for
// `--settle` seconds (V8's memory reducer runs about 8 s into a quiet spell, so the second
// figure is what a pod that serves now and then costs most of the time).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  httpGet,
  lineReader,
  makeTempDir,
  removeTempDir,
  rssMiB,
  schedCounters,
  startProcess,
  waitForOk,
} from './procs.mjs';
import { median } from './rounds.mjs';

const TRACE = fileURLToPath(new URL('./startup-trace.cjs', import.meta.url));
/** Fine enough to time a start of a few hundred ms, cheap enough not to slow it. */
const POLL_MS = 5;
/** After the first request: long enough for start-up garbage to be collected. */
const SETTLE_MS = 1000;
/** Then CPU and wake-ups at rest: timers and monitors a sidecar runs in every pod. */
const IDLE_WINDOW_MS = 2000;
/** Any authenticated GET of the simulator's answers 200 to a good token. */
export const SIMULATOR_PROBE = '/API/whoami';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The simulator on a free port, with tokens long enough to outlast the whole scenario. */
export async function startSimulator(proxyCli, user) {
  const proc = startProcess('simulator', process.execPath, [
    proxyCli,
    'simulate',
    '--listen',
    '127.0.0.1:0',
    '--max-seconds',
    '86400',
  ]);
  const lines = lineReader(proc);
  const base = /listening on (\S+)/.exec(await lines.next())?.[1];
  if (base === undefined) throw new Error('simulator: no listening line');
  proc.child.stdout.resume();
  const basic = Buffer.from(`${user.name}:${user.password}`).toString('base64');
  const minted = await httpGet(`${base}/API/token?seconds=86400`, {
    authorization: `Basic ${basic}`,
  });
  if (minted.status !== 200) throw new Error(`simulator refused the mint (${minted.status})`);
  return { base, port: Number(new URL(base).port), proc, token: minted.body.trim() };
}

/**
 * One start: spawn → ready, one request through the data port (and a scrape), settle, weigh.
 * With `settleMs`, resolves to its figures and `settled`, a promise of the RSS `settleMs`
 * after the scrape, which stops the process once read: the next start need not wait for it.
 */
async function startOnce(ctx, contender, options = {}, settleMs = 0) {
  const instance = await contender.start(ctx, { ...options, wait: false });
  let handedOver = false;
  try {
    await waitForOk(instance.readyUrl, {}, instance.proc, ctx.startTimeoutMs, POLL_MS);
    const readyAt = now();
    const cpuMs = schedCounters(instance.pid).cpuNs / 1e6;
    const probe = await httpGet(instance.base + SIMULATOR_PROBE);
    if (probe.status !== 200) throw new Error(`first request answered ${probe.status}`);
    // As in a pod Prometheus scrapes: this proxy builds its metrics registry at the first scrape.
    if (instance.metricsUrl !== undefined) await httpGet(instance.metricsUrl);
    const restingFrom = now();
    await sleep(SETTLE_MS);
    // Weighed now, 1 s after the first request as reported, not after the window at rest.
    const rss = rssMiB(instance.pid);
    const before = schedCounters(instance.pid);
    await sleep(IDLE_WINDOW_MS);
    const after = schedCounters(instance.pid);
    const perSecond = 1000 / IDLE_WINDOW_MS;
    const figures = {
      readyMs: readyAt - instance.spawnedAt,
      readyAt,
      cpuMs,
      rss,
      idleCpuUs: ((after.cpuNs - before.cpuNs) / 1000) * perSecond,
      idleWakeups: (after.wakeups - before.wakeups) * perSecond,
    };
    if (settleMs > 0) {
      handedOver = true;
      figures.settled = settledRss(instance, restingFrom, settleMs);
    }
    return figures;
  } finally {
    if (!handedOver) await instance.stop();
  }
}

/**
 * The RSS of `instance` once it has been at rest `settleMs` since `restingFrom`; stops it
 * after reading (or failing to).
 */
async function settledRss(instance, restingFrom, settleMs) {
  try {
    await sleep(restingFrom + settleMs - now());
    return rssMiB(instance.pid);
  } finally {
    await instance.stop();
  }
}

/**
 * `ctx.opts.starts` fresh starts; medians of time and CPU to ready, and of RSS, CPU and
 * wake-ups at rest, and with `ctx.opts.settle` seconds the median settled RSS. A started
 * process waits out its settling beside the next starts (idle, it takes no CPU to speak of),
 * so the settling adds its time once per contender, not once per start.
 */
export async function startToReady(ctx, contender) {
  const settleMs = (ctx.opts.settle ?? 0) * 1000;
  const runs = [];
  const settling = [];
  try {
    for (let i = 0; i < ctx.opts.starts; i++) {
      const run = await startOnce(ctx, contender, {}, settleMs);
      if (run.settled !== undefined) {
        const settled = run.settled.then((rss) => (run.settledRss = rss));
        settled.catch(() => undefined); // reported by the Promise.all below
        settling.push(settled);
      }
      runs.push(run);
    }
  } finally {
    await Promise.allSettled(settling);
  }
  await Promise.all(settling);
  const figures = ['readyMs', 'cpuMs', 'rss', 'idleCpuUs', 'idleWakeups'];
  if (settleMs > 0) figures.push('settledRss');
  const result = Object.fromEntries(figures.map((f) => [f, median(runs.map((r) => r[f]))]));
  result.runs = runs.map((r) => Object.fromEntries(figures.map((f) => [f, r[f]])));
  if (contender.name.startsWith('proxy')) result.breakdown = await tracedStarts(ctx, contender);
  return result;
}

async function tracedStarts(ctx, contender) {
  const dir = makeTempDir('bench-trace-');
  try {
    const phases = [];
    for (let i = 0; i < ctx.opts.starts; i++) {
      const file = join(dir, `trace-${i}.json`);
      const run = await startOnce(ctx, contender, {
        nodeArgs: ['-r', TRACE],
        env: { BENCH_STARTUP_TRACE: file },
      });
      phases.push(startPhases(JSON.parse(readFileSync(file, 'utf8')), run));
    }
    return medianPhases(phases);
  } finally {
    removeTempDir(dir);
  }
}

/**
 * Where one start's time went, in milliseconds, from the spawn to /readyz answering 200.
 * The phases add up to the traced start's time to ready.
 */
function startPhases(trace, { readyAt, readyMs }) {
  const spawnedAt = readyAt - readyMs;
  const listen = trace.firstListen ?? readyAt;
  const mint = trace.mint ?? {};
  const outermost = trace.modules.filter((m) => m.outermost);
  const loadedBy = (t) => outermost.filter((m) => m.start < t).reduce((s, m) => s + m.ms, 0);
  const connected = mint.secured ?? mint.connected ?? mint.start;
  // Packages are judged by the child's own clock (loaded before its token came back), never
  // against readyAt: the two processes' epoch origins can disagree by more than a start takes.
  const loadedBeforeReady = mint.end ?? listen;
  const packages = {};
  for (const m of trace.modules.filter((m) => m.name !== 'own')) {
    if (m.start < loadedBeforeReady) packages[m.name] = (packages[m.name] ?? 0) + m.ms;
  }
  return {
    readyMs,
    phases: {
      'exec and Node.js bootstrap': trace.bootstrapComplete - spawnedAt,
      'module loading': loadedBy(listen),
      'config and wiring (JS outside module loading)':
        listen - (trace.mainStart ?? trace.bootstrapComplete) - loadedBy(listen),
      'listen to mint request': (mint.start ?? listen) - listen,
      'mint: connect': mint.connected === undefined ? 0 : mint.connected - mint.start,
      'mint: TLS handshake': mint.secured === undefined ? 0 : mint.secured - mint.connected,
      'mint: request to answer': (mint.end ?? connected) - connected,
      'answer to /readyz 200 (poll)': readyAt - (mint.end ?? listen),
      'before the main module (incl. this trace)': (trace.mainStart ?? 0) - trace.bootstrapComplete,
    },
    modulesAfterListen: loadedBy(readyAt) - loadedBy(listen),
    packages,
  };
}

function medianPhases(list) {
  const pick = (get) => median(list.map(get));
  const keys = (get) => [...new Set(list.flatMap((p) => Object.keys(get(p))))];
  const byKey = (get) => Object.fromEntries(keys(get).map((k) => [k, pick((p) => get(p)[k] ?? 0)]));
  return {
    readyMs: pick((p) => p.readyMs),
    phases: byKey((p) => p.phases),
    modulesAfterListen: pick((p) => p.modulesAfterListen),
    packages: byKey((p) => p.packages),
  };
}
