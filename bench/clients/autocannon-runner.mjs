// Small-GET load with autocannon, in its own process. autocannon's own histogram has 1 ms
// resolution, too coarse for sub-millisecond latencies, so every 2xx response time is also
// recorded here in 1 µs buckets up to 1 s, beyond that as the largest seen
// (../lib/percentile.mjs). Prints one JSON line: { rps, requests, p50, p99, non2xx, errors }.
import autocannon from 'autocannon';
import { latencyHistogram } from '../lib/percentile.mjs';

const { url, connections, seconds, headers } = JSON.parse(process.argv[2]);

const latencies = latencyHistogram();

const instance = autocannon({ url, connections, duration: seconds, headers, timeout: 10 });
instance.on('response', (_client, status, _bytes, ms) => {
  if (status < 200 || status >= 300) return;
  latencies.record(ms);
});
const result = await instance;
const total = result.requests.total;
process.stdout.write(
  `${JSON.stringify({
    rps: total / (result.duration || seconds),
    requests: total,
    p50: latencies.percentile(0.5),
    p99: latencies.percentile(0.99),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  })}\n`,
);
