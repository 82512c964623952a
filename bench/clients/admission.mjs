// Admission load as the API server sends it: AdmissionReviews on kept-alive HTTPS
// connections (HTTP/1.1, only the CA trusted), at most `connections` at once. Three shapes:
//   rate    open loop: `rate` reviews/s, each timed from when it was due, so a slow answer
//           delays the measure of the ones queued behind it (no coordinated omission);
//   burst   `connections` reviews at the same instant (a rollout creating that many pods),
//           then a pause, repeated; each timed from the burst's start;
//   closed  `connections` in flight, each sent as soon as the last is answered: capacity.
// Runs `warmupSeconds` unmeasured, then `seconds`. Prints one JSON line:
// { reviews, errors, seconds, perSecond, p50Ms, p90Ms, p99Ms, maxMs }.
import { Agent, request } from 'node:https';

const { port, ca, body, mode, connections, rate, seconds, warmupSeconds } = JSON.parse(
  process.argv[2],
);
const agent = new Agent({ keepAlive: true, ca, maxSockets: connections });
const payload = Buffer.from(body);
const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const BURST_PAUSE_MS = 50;

/** Sends one review; resolves with the time its answer was complete. */
function review() {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate?timeout=5s',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
      },
      (res) => {
        let size = 0;
        res.on('data', (chunk) => (size += chunk.length));
        res.on('end', () => {
          if (res.statusCode !== 200 || size === 0) reject(new Error(`status ${res.statusCode}`));
          else resolve(now());
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `mode` until `until`; latencies (ms) go to `out` when given. */
async function load(until, out, errors) {
  const timed = (from) =>
    review().then(
      (end) => out?.push(end - from),
      () => (errors.count += 1),
    );
  if (mode === 'closed') {
    const worker = async () => {
      while (now() < until) await timed(now());
    };
    await Promise.all(Array.from({ length: connections }, worker));
  } else if (mode === 'burst') {
    while (now() < until) {
      const start = now();
      await Promise.all(Array.from({ length: connections }, () => timed(start)));
      await sleep(BURST_PAUSE_MS);
    }
  } else {
    const interval = 1000 / rate;
    const pending = [];
    let due = now();
    while (due < until) {
      while (due <= now()) {
        pending.push(timed(due));
        due += interval;
      }
      await sleep(Math.max(0, due - now()));
    }
    await Promise.all(pending);
  }
}

const errors = { count: 0 };
await load(now() + warmupSeconds * 1000, undefined, errors);
errors.count = 0;
const latencies = [];
const started = now();
await load(started + seconds * 1000, latencies, errors);
const elapsed = (now() - started) / 1000;
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
const round = (ms) => Math.round(ms * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    reviews: latencies.length,
    errors: errors.count,
    seconds: round(elapsed),
    perSecond: Math.round(latencies.length / elapsed),
    p50Ms: round(at(0.5)),
    p90Ms: round(at(0.9)),
    p99Ms: round(at(0.99)),
    maxMs: round(at(1)),
  })}\n`,
);
