// Memory of request bodies, measured on a proxy child process (`npm run bench:bodies`, or
// `node bench/body-memory.mjs [--cli path/to/cli.js ...] [--stalled N] [--ordinary N]
// [--rounds N] [--env KEY=VALUE ...]`):
//   stalled   N clients each declare 1 MiB, send 1 MiB − 1 byte and stop, then go away
//             (before the body timeout, so none is cut by it)
//   ordinary  N concurrent complete 1 MiB uploads, each on its own connection
// Each scenario runs `rounds` times on one fresh proxy; per round it records the proxy's RSS
// before, its peak (kernel high-water mark and polling) and 5 s after the clients left.
// Later rounds show whether memory is reused or keeps growing. Each `--cli` (default: this
// build) is measured the same way in the same run, so another build (an older one, say) can
// be compared side by side. Prints one JSON line per round, then a table.
import { connect } from 'node:net';
import { request } from 'node:http';
import { PROXY_CLI, startLoneProxy, startUpstream } from './lib/contenders.mjs';
import { OptionError, optionsOrExit, parseCommandLine, wholeNumber } from './lib/options.mjs';
import { installCleanup, peakRssTracker, rssMiB } from './lib/procs.mjs';

const MiB = 1024 * 1024;
const SETTLE_MS = 5000;
/** Every option checked before any work starts (./lib/options.mjs). */
function parseOptions(argv) {
  const values = parseCommandLine(argv, {
    cli: { type: 'string', multiple: true, default: [PROXY_CLI] },
    stalled: { type: 'string', default: '500' },
    ordinary: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '3' },
    env: { type: 'string', multiple: true, default: [] },
  });
  const env = values.env.map((kv) => {
    const m = /^([A-Za-z_]\w*)=(.*)$/s.exec(kv);
    if (m === null) throw new OptionError(`--env ${kv}: give KEY=VALUE`);
    return [m[1], m[2]];
  });
  const stalled = wholeNumber(values.stalled, 'stalled', 0);
  const ordinary = wholeNumber(values.ordinary, 'ordinary', 0);
  if (stalled + ordinary === 0) throw new OptionError('--stalled and --ordinary are both 0');
  return { cli: values.cli, stalled, ordinary, rounds: wholeNumber(values.rounds, 'rounds'), env };
}
const options = optionsOrExit('bench:bodies', () => parseOptions(process.argv.slice(2)));

installCleanup('bench:bodies');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const startProxy = (cli, upstream) =>
  startLoneProxy(cli, upstream.base, {
    nofile: 65536,
    env: { SHUTDOWN_DRAIN_SECONDS: '0', ...Object.fromEntries(options.env) },
  });

/** `count` clients that send all but the last byte of a 1 MiB body, then leave. */
async function stalledClients(port, count) {
  const head = `PUT /API/bench/upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${MiB}\r\n\r\n`;
  const body = Buffer.alloc(MiB - 1, 's');
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', () => undefined);
          socket.write(head);
          socket.write(body, () => resolve(socket));
        }),
    ),
  );
  // Let the proxy take in what was sent before the clients give up.
  await sleep(2000);
  for (const socket of sockets) socket.destroy();
  return {};
}

/** `count` complete 1 MiB uploads at once. */
async function ordinaryUploads(port, count) {
  const body = Buffer.alloc(MiB, 'o');
  const oks = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve) => {
          const req = request(
            { host: '127.0.0.1', port, method: 'PUT', path: '/API/bench/upload', agent: false },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode === 200 ? 1 : 0));
            },
          );
          req.on('error', () => resolve(0));
          req.setHeader('content-length', MiB);
          req.end(body);
        }),
    ),
  );
  return { ok: oks.reduce((a, b) => a + b, 0) };
}

async function scenario(cli, name, upstream, run) {
  const proxy = await startProxy(cli, upstream);
  const rounds = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const beforeMiB = rssMiB(proxy.proc.pid);
      const peak = peakRssTracker(proxy.proc.pid);
      const detail = await run(proxy.port);
      const peakMiB = peak.stop();
      await sleep(SETTLE_MS);
      const result = {
        cli,
        scenario: name,
        round,
        beforeMiB,
        peakMiB,
        afterMiB: rssMiB(proxy.proc.pid),
        ...detail,
      };
      console.log(JSON.stringify(result));
      rounds.push(result);
    }
  } finally {
    await proxy.proc.stop();
  }
  return rounds;
}

const upstream = await startUpstream();
const results = [];
try {
  const { stalled, ordinary } = options;
  for (const cli of options.cli) {
    if (stalled > 0) {
      const name = `${stalled} stalled 1 MiB - 1 byte`;
      const run = (port) => stalledClients(port, stalled);
      results.push(...(await scenario(cli, name, upstream, run)));
    }
    if (ordinary > 0) {
      const name = `${ordinary} concurrent 1 MiB uploads`;
      const run = (port) => ordinaryUploads(port, ordinary);
      results.push(...(await scenario(cli, name, upstream, run)));
    }
  }
} finally {
  await upstream.proc.stop();
}

if (options.env.length > 0)
  console.log(`\nwith ${options.env.map((kv) => kv.join('=')).join(' ')}`);
for (const cli of options.cli) {
  console.log(`\n${cli}`);
  console.log(`${'scenario'.padEnd(34)} round  before MiB  peak MiB  after MiB`);
  for (const r of results.filter((x) => x.cli === cli)) {
    const cells = [r.beforeMiB, r.peakMiB, r.afterMiB].map((v) => v.toFixed(1).padStart(9));
    const ok = r.ok === undefined ? '' : `  (${r.ok} answered 200)`;
    console.log(`${r.scenario.padEnd(34)} ${String(r.round).padStart(5)}  ${cells.join(' ')}${ok}`);
  }
}
