// The measurements. Each takes the run context and a running contender instance and
// resolves to plain figures; the harness decides order, process lifetimes and reporting.
import { runLoad } from './load.mjs';
import {
  cpuSeconds,
  httpGet,
  lineReader,
  peakRssTracker,
  rssMiB,
  runClient,
  startProcess,
} from './procs.mjs';
import { PROBE_PATH } from './contenders.mjs';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** CPU seconds a contender spends from now until `stop()`; null for "direct" (no process). */
function cpuMeter(pid) {
  if (pid === null) return { stop: () => null };
  const before = cpuSeconds(pid);
  return { stop: () => cpuSeconds(pid) - before };
}

export async function smallGet(ctx, instance, connections) {
  const load = { url: instance.base + PROBE_PATH, connections, headers: instance.headers };
  if (ctx.opts.warmup > 0) await runLoad(ctx.loadTool, { ...load, seconds: ctx.opts.warmup });
  const cpu = cpuMeter(instance.pid);
  const r = await runLoad(ctx.loadTool, { ...load, seconds: ctx.opts.duration });
  const cpuUsed = cpu.stop();
  return {
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    errors: r.non2xx + r.errors,
    cpuUs: cpuUsed === null ? null : (cpuUsed * 1e6) / r.requests,
    rss: instance.pid === null ? null : rssMiB(instance.pid),
  };
}

const TRANSFER_RUNS = 2;

/**
 * 1 GiB (by default) through the contender, after a warm-up of an eighth of that: the best
 * of two runs for MiB/s (a shared 2-core machine is noisy), CPU over both, and the
 * contender's peak RSS over all.
 */
export async function transfer(ctx, instance, mode) {
  const bytes = ctx.opts.sizeMiB * MIB;
  const path = mode === 'download' ? `/API/bench/download?bytes=${bytes}` : '/API/bench/upload';
  const run = (size) =>
    runClient('transfer.mjs', {
      mode,
      url: instance.base + path.replace(String(bytes), String(size)),
      bytes: size,
      headers: instance.headers,
    });
  await run(Math.ceil(bytes / 8));
  const peak = instance.pid === null ? null : peakRssTracker(instance.pid);
  try {
    const cpu = cpuMeter(instance.pid);
    let best;
    for (let i = 0; i < TRANSFER_RUNS; i++) {
      const r = await run(bytes);
      if (best === undefined || r.mibps > best.mibps) best = r;
    }
    const cpuUsed = cpu.stop();
    return {
      mibps: best.mibps,
      seconds: best.seconds,
      cpuMsPerGiB: cpuUsed === null ? null : (cpuUsed * 1000 * GIB) / (bytes * TRANSFER_RUNS),
      rss: peak?.stop() ?? null,
    };
  } finally {
    peak?.stop();
  }
}

/** A client that talks over stdin/stdout; `next()` resolves with its next JSON line. */
function interactiveClient(script, params) {
  const proc = startProcess(
    script,
    process.execPath,
    [new URL(`../clients/${script}`, import.meta.url).pathname, JSON.stringify(params)],
    { nofile: 65536 },
  );
  const lines = lineReader(proc);
  return {
    next: async () => JSON.parse(await lines.next(60_000)),
    send: (line) => proc.child.stdin.write(`${line}\n`),
    async stop() {
      proc.child.stdin.end();
      await proc.stop();
    },
  };
}

/**
 * N idle keep-alive connections held open against a freshly started contender: its RSS 1 s
 * after they opened and how many are still open then; with `--settle`, its RSS that long
 * after they opened and how many are open by then. Node.js servers (this proxy among them)
 * close a keep-alive connection after 5 s idle, so the settled figure is what the burst of
 * connections left behind once at rest; V8's memory reducer waits for a quiet spell of 8 s
 * and longer after such a burst, so it may or may not have run by then.
 */
export async function idle(ctx, instance) {
  const rssStart = rssMiB(instance.pid);
  const client = interactiveClient('idle.mjs', {
    url: instance.base + PROBE_PATH,
    connections: ctx.opts.idle,
    headers: instance.headers,
  });
  const openNow = async () => {
    client.send('check');
    return (await client.next()).open;
  };
  try {
    const opened = await client.next();
    const openedAt = Date.now();
    await sleepUntil(openedAt + 1000); // let the contender settle
    const rss = rssMiB(instance.pid);
    const stillOpen = await openNow();
    const figures = { rssStart, rss, opened: opened.open, stillOpen, failed: opened.failed };
    const settle = (ctx.opts.settle ?? 0) * 1000;
    if (settle > 0) {
      await sleepUntil(openedAt + settle);
      figures.settledRss = rssMiB(instance.pid);
      figures.settledOpen = await openNow();
    }
    return figures;
  } finally {
    await client.stop();
  }
}

const sleepUntil = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

/**
 * Cold start: a fresh contender process and N concurrent first requests fired as soon as its
 * port accepts connections. Counts the mint calls the upstream saw meanwhile.
 */
export async function coldStart(ctx, contender) {
  await httpGet(`${ctx.upstream.base}/__bench/reset`, {}, 'POST');
  const client = interactiveClient('cold.mjs', { path: PROBE_PATH, requests: ctx.opts.cold });
  let instance;
  try {
    await client.next(); // ready
    instance = await contender.start(ctx, { wait: false });
    client.send(`go ${instance.spawnedAt} ${instance.base}`);
    const r = await client.next();
    const stats = JSON.parse((await httpGet(`${ctx.upstream.base}/__bench/stats`)).body);
    return { ...r, mints: stats.mints };
  } finally {
    await client.stop();
    await instance?.stop();
  }
}
