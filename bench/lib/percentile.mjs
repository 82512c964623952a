// Latencies recorded in 1 µs buckets up to a limit, and the largest seen beyond it: a tail
// past the limit is reported as the largest latency measured (a lower bound of the true
// percentile), never as "infinite", which JSON would turn into a missing figure.

/** A histogram of `buckets` buckets of 1 µs each. */
export function latencyHistogram(buckets = 1_000_000) {
  const hist = new Uint32Array(buckets);
  let over = 0;
  let maxUs = 0;
  let count = 0;
  return {
    /** One latency, in milliseconds. */
    record(ms) {
      const us = Math.round(ms * 1000);
      count++;
      maxUs = Math.max(maxUs, us);
      if (us < buckets) hist[us]++;
      else over++;
    },
    /** The `p` (0–1) percentile in milliseconds; 0 when nothing was recorded. */
    percentile(p) {
      const target = Math.ceil(count * p);
      let seen = 0;
      for (let i = 0; i < buckets && seen < target; i++) {
        seen += hist[i];
        if (seen >= target) return i / 1000;
      }
      return over > 0 ? maxUs / 1000 : 0;
    },
  };
}
