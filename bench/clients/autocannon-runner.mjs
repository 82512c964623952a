// Small-GET load with autocannon, in its own process. autocannon's own histogram has 1 ms
// resolution, too coarse for sub-millisecond latencies, so every 2xx response time is also
// recorded here in 1 µs buckets. Prints one JSON line: { rps, requests, p50, p99, non2xx, errors }.
import autocannon from 'autocannon';

const { url, connections, seconds, headers } = JSON.parse(process.argv[2]);

const BUCKETS = 1_000_000; // 1 µs each, up to 1 s
const hist = new Uint32Array(BUCKETS);
let over = 0;
let count = 0;

function percentile(p) {
  const target = Math.ceil(count * p);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += hist[i];
    if (seen >= target) return i / 1000;
  }
  return over > 0 ? Infinity : 0;
}

const instance = autocannon({ url, connections, duration: seconds, headers, timeout: 10 });
instance.on('response', (_client, status, _bytes, ms) => {
  if (status < 200 || status >= 300) return;
  count++;
  const us = Math.round(ms * 1000);
  if (us < BUCKETS) hist[us]++;
  else over++;
});
const result = await instance;
const total = result.requests.total;
process.stdout.write(
  `${JSON.stringify({
    rps: total / (result.duration || seconds),
    requests: total,
    p50: percentile(0.5),
    p99: percentile(0.99),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  })}\n`,
);
