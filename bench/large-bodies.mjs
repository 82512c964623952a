// Bodies past 32-bit lengths through a proxy child process (`npm run bench:large-bodies`, or
// `node bench/large-bodies.mjs [--gib N] [--cli path/to/cli.js]`): uploads with
// `Content-Length`, chunked and with `Expect: 100-continue`, downloads with `Content-Length`
// and chunked, and a `Range` from past 4 GiB, each of N GiB (default 5) against
// bench/hashing-upstream.mjs. The data is generated as it is sent and hashed on both sides
// (SHA-256), never held in memory or on disk. Each line: the scenario, seconds, MiB/s,
// whether the bytes and the lengths arrived exactly, and the proxy's peak RSS; at the end the
// proxy's open file descriptors before and after. Exits 1 on any mismatch.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { PROXY_CLI, startLoneProxy } from './lib/contenders.mjs';
import { OptionError, optionsOrExit, parseCommandLine, positiveNumber } from './lib/options.mjs';
import { patternChunks } from './lib/pattern.mjs';
import { installCleanup, lineReader, peakRssTracker, startProcess } from './lib/procs.mjs';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const options = optionsOrExit('bench:large-bodies', () => {
  const values = parseCommandLine(process.argv.slice(2), {
    gib: { type: 'string', default: '5' },
    cli: { type: 'string', default: PROXY_CLI },
  });
  const gib = positiveNumber(values.gib, 'gib');
  if (gib <= 4) throw new OptionError('--gib must be above 4: the point is lengths past 2^32');
  return { size: Math.round(gib * GiB), cli: values.cli };
});
installCleanup('bench:large-bodies');

async function startUpstream() {
  const script = fileURLToPath(new URL('./hashing-upstream.mjs', import.meta.url));
  const proc = startProcess('upstream', process.execPath, [script]);
  const { port } = JSON.parse(await lineReader(proc).next());
  return { url: `http://127.0.0.1:${port}`, proc };
}

function sha256Of(offset, length) {
  const hash = createHash('sha256');
  for (const chunk of patternChunks(offset, length)) hash.update(chunk);
  return hash.digest('hex');
}

/** Sends `size` pattern bytes, framed as `mode` says; resolves with Vidispine's account of them. */
function upload(port, size, mode) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (mode !== 'chunked') headers['content-length'] = String(size);
    if (mode === 'expect') headers.expect = '100-continue';
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/API/upload', headers });
    const hash = createHash('sha256');
    const chunks = patternChunks(0, size);
    const pump = () => {
      for (;;) {
        const next = chunks.next();
        if (next.done) return void req.end();
        hash.update(next.value);
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    if (mode === 'expect') req.once('continue', pump);
    else pump();
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        const got = JSON.parse(text);
        resolve({
          status: res.statusCode,
          exact:
            got.bytes === size &&
            got.sha256 === hash.digest('hex') &&
            got.contentLength === (mode === 'chunked' ? null : String(size)),
        });
      });
    });
  });
}

/** Reads a download whole, hashing it; `from` asks for a Range from that offset. */
function download(port, size, { chunked = false, from } = {}) {
  return new Promise((resolve, reject) => {
    const path = `/API/download?size=${size}${chunked ? '&chunked=1' : ''}`;
    const headers = from === undefined ? {} : { range: `bytes=${from}-` };
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const offset = from ?? 0;
        const length = size - offset;
        const framed = chunked
          ? res.headers['content-length'] === undefined
          : res.headers['content-length'] === String(length);
        const range =
          from === undefined ||
          res.headers['content-range'] === `bytes ${from}-${size - 1}/${size}`;
        resolve({
          status: res.statusCode,
          bytes,
          exact:
            bytes === length && framed && range && hash.digest('hex') === sha256Of(offset, length),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const openFds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

const upstream = await startUpstream();
const proxy = await startLoneProxy(options.cli, upstream.url);
const { size } = options;
const scenarios = [
  ['upload, Content-Length', () => upload(proxy.port, size, 'length')],
  ['upload, chunked', () => upload(proxy.port, size, 'chunked')],
  ['upload, Expect: 100-continue', () => upload(proxy.port, size, 'expect')],
  ['download, Content-Length', () => download(proxy.port, size)],
  ['download, chunked', () => download(proxy.port, size, { chunked: true })],
  ['download, Range from 2^32 + 100', () => download(proxy.port, size, { from: 2 ** 32 + 100 })],
];
const fdsBefore = openFds(proxy.proc.pid);
let failed = false;
for (const [name, run] of scenarios) {
  const peak = peakRssTracker(proxy.proc.pid);
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const moved = result.bytes ?? size;
  const line = {
    scenario: name,
    bytes: moved,
    seconds: Number(seconds.toFixed(1)),
    mibPerSecond: Math.round(moved / MiB / seconds),
    status: result.status,
    exact: result.exact,
    proxyPeakRssMiB: Math.round(peak.stop()),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  failed ||= !result.exact;
}
// Connections closed after each answer leave nothing open behind them.
await new Promise((resolve) => setTimeout(resolve, 500));
process.stdout.write(
  `${JSON.stringify({ proxyOpenFds: { before: fdsBefore, after: openFds(proxy.proc.pid) } })}\n`,
);
await proxy.proc.stop();
await upstream.proc.stop();
process.exit(failed ? 1 : 0);
