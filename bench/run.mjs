// `npm run bench`: this proxy side by side with no proxy, nginx, Go's ReverseProxy, two
// 20-line Node.js forwarders and Express + http-proxy-middleware, every process separate.
// See `node bench/run.mjs --help`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CONTENDERS, PROXY_CLI, proxyVariant, startUpstream } from './lib/contenders.mjs';
import { coldStart, idle, smallGet, transfer } from './lib/scenarios.mjs';
import { SIMULATOR_PROBE, startSimulator, startToReady } from './lib/startup.mjs';
import { pickLoadTool } from './lib/load.mjs';
import { httpGet, installCleanup, killAll, which } from './lib/procs.mjs';
import { mergeRounds, rotated } from './lib/rounds.mjs';
import {
  namesFrom,
  nonNegativeNumber,
  oneOf,
  optionsOrExit,
  parseCommandLine,
  wholeNumber,
  wholeNumbers,
} from './lib/options.mjs';
import {
  checkTargets,
  formatBreakdown,
  formatNotes,
  formatRatios,
  formatRoundsNote,
  formatTable,
  formatTargets,
} from './lib/report.mjs';

const HELP = `Usage: npm run bench -- [options]

  --quick               2 s per load point, 256 MiB transfers, 3 starts, 2,000 cold requests
  --only=LIST           scenarios: small,download,upload,start,idle,cold (default: all)
  --contenders=LIST     direct,nginx,go,nodehttp,undici,express,proxy (default: all available)
  --connections=LIST    small-GET connection counts (default: 1,32,256)
  --duration=S          whole seconds per load point (default 5)
  --warmup=S            whole warm-up seconds before each load point (default 1; 0: none)
  --size=MIB            transfer size in whole MiB (default 1024)
  --rounds=N            run small GET, download and upload N times, round after round, each
                        contender first in turn; report medians, ranges and per-round ratios
                        (default 1)
  --starts=N            fresh starts per contender for start to ready (default 5)
  --idle=N              idle keep-alive connections (default 1000)
  --settle=S            in start and idle, weigh each process again after S s at rest, when
                        V8's memory reducer has run (default 30; 0: only 1 s after)
  --cold=N              concurrent first requests at cold start (default 10000)
  --load=TOOL           wrk or autocannon (default: wrk when installed)
  --variant="NAME WORD..."
                        one more column of this proxy (repeatable); each WORD is a Node.js
                        flag, VAR=value, another build's cli.js, or a Node.js binary
  --cpu-prof            run the proxy under --cpu-prof; profiles go to bench/results/profiles
  --out=FILE            JSON results file (default bench/results/bench-<time>.json)
`;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');
const SCENARIOS = ['small', 'download', 'upload', 'start', 'idle', 'cold'];
const USER = { name: 'alice', password: 'alice-password' };
/**
 * Long enough at rest for V8's memory reducer: its first check comes about 8 s into a quiet
 * spell, a second 8 s later when the first found the heap still busy (1,000 connections just
 * opened); measured on Node.js 20, RSS is flat from about 17 s on.
 */
const SETTLE_S = 30;

/** Every option checked before any work starts (./lib/options.mjs). */
function parseOptions(argv) {
  const values = parseCommandLine(argv, {
    help: { type: 'boolean', short: 'h' },
    quick: { type: 'boolean' },
    only: { type: 'string' },
    contenders: { type: 'string' },
    connections: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    size: { type: 'string' },
    rounds: { type: 'string' },
    starts: { type: 'string' },
    idle: { type: 'string' },
    settle: { type: 'string' },
    cold: { type: 'string' },
    load: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    variant: { type: 'string', multiple: true },
    out: { type: 'string' },
  });
  const quick = values.quick === true;
  const names = CONTENDERS.map((c) => c.name);
  const variants = values.variant ?? [];
  variants.forEach(proxyVariant); // refused here, not once the other contenders have run
  const or = (value, fallback) => (value === undefined ? String(fallback) : value);
  return {
    help: values.help === true,
    only: values.only === undefined ? SCENARIOS : namesFrom(values.only, SCENARIOS, 'only'),
    contenders:
      values.contenders === undefined ? names : namesFrom(values.contenders, names, 'contenders'),
    connections:
      values.connections === undefined
        ? [1, 32, 256]
        : wholeNumbers(values.connections, 'connections'),
    // wrk takes whole seconds
    duration: wholeNumber(or(values.duration, quick ? 2 : 5), 'duration'),
    warmup: wholeNumber(or(values.warmup, 1), 'warmup', 0),
    sizeMiB: wholeNumber(or(values.size, quick ? 256 : 1024), 'size'),
    rounds: wholeNumber(or(values.rounds, 1), 'rounds'),
    starts: wholeNumber(or(values.starts, quick ? 3 : 5), 'starts'),
    idle: wholeNumber(or(values.idle, 1000), 'idle'),
    settle: nonNegativeNumber(or(values.settle, SETTLE_S), 'settle'),
    cold: wholeNumber(or(values.cold, quick ? 2000 : 10000), 'cold'),
    load: values.load === undefined ? undefined : oneOf(values.load, ['wrk', 'autocannon'], 'load'),
    cpuProf: values['cpu-prof'] === true,
    variants,
    out: values.out,
  };
}

/** First line a tool prints about its version (nginx and wrk print it to stderr or exit 1). */
function versionOf(cmd, args) {
  const bin = which(cmd);
  if (!bin) return null;
  let out;
  try {
    const r = spawnSync(bin, args, { encoding: 'utf8' });
    out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  } catch {
    out = '';
  }
  return out.trim().split('\n')[0] || 'unknown';
}

async function mintToken(upstream) {
  const basic = Buffer.from(`${USER.name}:${USER.password}`).toString('base64');
  const { status, body } = await httpGet(`${upstream.base}/API/token?seconds=86400`, {
    authorization: `Basic ${basic}`,
  });
  if (status !== 200) throw new Error(`upstream refused the benchmark's own mint (${status})`);
  return body.trim();
}

const say = (text) => process.stderr.write(`${text}\n`);

async function attempt(results, key, name, fn) {
  try {
    (results[key] ??= {})[name] = await fn();
  } catch (err) {
    (results[key] ??= {})[name] = { error: err.message.split('\n')[0].slice(0, 300) };
    say(`  ${key} / ${name}: ${err.message.split('\n')[0]}`);
  }
}

const startOptions = (ctx, contender) => (contender.name.startsWith('proxy') ? ctx.proxyStart : {});

/** Starts every contender; one that cannot start is reported as skipped, the rest still run. */
async function startAll(ctx, entries) {
  const running = [];
  for (const entry of entries) {
    try {
      running.push({
        entry,
        instance: await entry.contender.start(ctx, startOptions(ctx, entry.contender)),
      });
    } catch (err) {
      entry.available = `failed to start: ${err.message.split('\n')[0].slice(0, 200)}`;
      say(`${entry.label}: ${entry.available}`);
    }
  }
  return running;
}

/**
 * Small GET and transfers: all contenders run at once and each load point visits them back
 * to back, so a change in background load touches every column alike; with `--rounds` every
 * round visits every point, and who goes first turns round by round. Start, idle connections
 * and cold start then get a fresh process per contender, once (start takes the median of its
 * own `--starts` processes). Resolves to each round's figures and the fresh scenarios'.
 */
async function benchAll(ctx, entries) {
  const { opts } = ctx;
  const wants = (s) => opts.only.includes(s);
  const rounds = [];
  const fresh = {};
  if (['small', 'download', 'upload'].some(wants)) {
    rounds.push(...Array.from({ length: opts.rounds }, () => ({})));
    const running = await startAll(ctx, entries);
    try {
      const points = [
        ...(wants('small') ? opts.connections : []).map((c) => ({
          key: `small@${c}`,
          label: `small GET, ${c} conn`,
          run: (instance) => smallGet(ctx, instance, c),
        })),
        ...['download', 'upload'].filter(wants).map((mode) => ({
          key: mode,
          label: `${mode} ${opts.sizeMiB} MiB`,
          run: (instance) => transfer(ctx, instance, mode),
        })),
      ];
      for (const [i, round] of rounds.entries()) {
        const ofRounds = rounds.length > 1 ? `, round ${i + 1} of ${rounds.length}` : '';
        for (const point of points) {
          for (const { entry, instance } of rotated(running, i)) {
            say(`${point.label}: ${entry.label}${ofRounds}`);
            await attempt(round, point.key, entry.name, () => point.run(instance));
          }
        }
      }
    } finally {
      await Promise.all(running.map(({ instance }) => instance.stop()));
    }
  }
  const simulator = wants('start') ? await startSimulator(PROXY_CLI, ctx.user) : undefined;
  try {
    for (const entry of entries.filter((e) => e.available === true && e.name !== 'direct')) {
      await benchFresh(ctx, entry, fresh, simulator);
    }
  } finally {
    await simulator?.proc.stop();
  }
  return { rounds, fresh };
}

/** The scenarios that need a fresh process of one contender each time. */
async function benchFresh(ctx, entry, results, simulator) {
  const { opts } = ctx;
  const wants = (s) => opts.only.includes(s);
  const { contender } = entry;
  if (simulator !== undefined) {
    say(`start to ready and idle RSS, ${opts.starts} starts: ${entry.label}`);
    const simCtx = {
      ...ctx,
      upstream: simulator,
      token: simulator.token,
      probePath: SIMULATOR_PROBE,
    };
    await attempt(results, 'start', entry.name, () => startToReady(simCtx, contender));
  }
  if (wants('idle')) {
    say(`${opts.idle} idle connections: ${entry.label}`);
    await attempt(results, 'idle', entry.name, async () => {
      const instance = await contender.start(ctx, startOptions(ctx, contender));
      try {
        return await idle(ctx, instance);
      } finally {
        await instance.stop();
      }
    });
  }
  if (wants('cold')) {
    say(`cold start, ${opts.cold} concurrent first requests: ${entry.label}`);
    await attempt(results, 'cold', entry.name, () => coldStart(ctx, contender));
  }
}

async function main() {
  const opts = optionsOrExit('bench', () => parseOptions(process.argv.slice(2)));
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  installCleanup();
  mkdirSync(RESULTS, { recursive: true });
  const profileDir = join(RESULTS, 'profiles');
  const loadTool = pickLoadTool(opts.load);
  const upstream = await startUpstream();
  const token = await mintToken(upstream);
  const ctx = {
    opts,
    loadTool,
    upstream,
    token,
    user: USER,
    workDir: ROOT,
    startTimeoutMs: 20_000,
    proxyStart: opts.cpuProf ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {},
  };

  const chosen = CONTENDERS.filter((c) => opts.contenders.includes(c.name));
  const contenders = [...chosen, ...opts.variants.map(proxyVariant)].map((c) => ({
    contender: c,
    name: c.name,
    label: c.label,
    available: c.available(),
  }));
  const started = Date.now();
  const loadBefore = loadavg()[0];
  if (loadBefore > cpus().length / 2) {
    say(`bench: warning, load average ${loadBefore.toFixed(1)} — other work will skew the figures`);
  }
  say(`bench: load=${loadTool}, upstream=${upstream.base}, ${cpus().length} CPUs`);
  for (const entry of contenders) {
    if (entry.available !== true) say(`${entry.label}: skipped (${entry.available})`);
  }
  const { rounds, fresh } = await benchAll(
    ctx,
    contenders.filter((e) => e.available === true),
  );
  const results = { ...mergeRounds(rounds), ...fresh };

  const report = {
    date: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memoryMiB: Math.round(totalmem() / 1048576),
      node: process.version,
      nginx: versionOf('nginx', ['-v']),
      wrk: versionOf('wrk', ['-v']),
      go: versionOf('go', ['version']),
      loadAverage: { before: loadBefore, after: loadavg()[0] },
    },
    loadTool,
    upstream: 'bench/upstream.mjs (node:http)',
    options: opts,
    contenders: contenders.map(({ name, label, available }) => ({ name, label, available })),
    results,
    rounds,
  };
  report.targets = checkTargets(results, rounds, {
    settle: opts.settle,
    idle: opts.idle,
    sizeMiB: opts.sizeMiB,
    cold: opts.cold,
  });

  const roundsNote = formatRoundsNote(report);
  if (roundsNote !== undefined) process.stdout.write(`\n${roundsNote}\n`);
  process.stdout.write(`\n${formatTable(report)}\n`);
  process.stdout.write(`\n${formatRatios(report)}\n`);
  process.stdout.write(
    '(req/s and MiB/s: higher is better; times, CPU and RSS: lower is better)\n',
  );
  const breakdown = formatBreakdown(report);
  if (breakdown !== undefined) process.stdout.write(`\n${breakdown}\n`);
  for (const note of formatNotes(report)) process.stdout.write(`note: ${note}\n`);
  process.stdout.write(`\nTargets for this proxy:\n${formatTargets(report.targets)}\n`);
  const out = opts.out ?? join(RESULTS, `bench-${report.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.out === undefined) {
    writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  }
  const { before, after } = report.machine.loadAverage;
  process.stdout.write(
    `\n${report.seconds.toFixed(0)} s, load average ${before.toFixed(1)} → ${after.toFixed(1)}; JSON: ${out}\n`,
  );
  await upstream.proc.stop();
}

main().then(
  () => killAll(),
  (err) => {
    process.stderr.write(`bench: ${err.message}\n`);
    killAll();
    process.exitCode = 1;
  },
);
