// Small-GET load from a separate process: wrk when installed, autocannon otherwise.
// Both resolve to { rps, requests, p50, p99, non2xx, errors } with latencies in milliseconds.
import { cpus } from 'node:os';
import { runClient, runToEnd, which } from './procs.mjs';

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latencyMs(text, percentile) {
  const m = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

/** Parses `wrk --latency` output. Exported for the harness's own test. */
function parseWrk(text) {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const requests = /^\s*(\d+) requests in /m.exec(text);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: rps ? Number(rps[1]) : NaN,
    requests: requests ? Number(requests[1]) : NaN,
    p50: latencyMs(text, 50),
    p99: latencyMs(text, 99),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: sock ? sock.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

export function pickLoadTool(forced) {
  if (forced === 'autocannon') return 'autocannon';
  const wrk = which('wrk');
  if (wrk) return 'wrk';
  if (forced === 'wrk') throw new Error('--load=wrk but wrk is not installed');
  return 'autocannon';
}

async function wrk({ url, connections, seconds, headers }) {
  // half the cores: the contender and the upstream need the rest
  const threads = String(Math.max(1, Math.min(connections, Math.floor(cpus().length / 2))));
  const headerArgs = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const args = ['-t', threads, '-c', String(connections), '-d', `${seconds}s`, '--latency'];
  const out = await runToEnd(
    'wrk',
    which('wrk'),
    [...args, '--timeout', '10s', ...headerArgs, url],
    {
      nofile: 65536,
    },
  );
  return parseWrk(out);
}

function autocannon({ url, connections, seconds, headers }) {
  return runClient('autocannon-runner.mjs', { url, connections, seconds, headers });
}

/** One run of `seconds` against `url` with the chosen tool. */
export function runLoad(tool, options) {
  return (tool === 'wrk' ? wrk : autocannon)(options);
}
