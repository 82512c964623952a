import { evaluateIn } from './evaluate';

// The load generator's latency percentiles, autocannon's side (bench/lib/percentile.mjs).

const percentiles = (buckets: number, latenciesMs: number[], ps: number[]) =>
  evaluateIn(
    ['percentile'],
    `(() => {
      const h = percentile.latencyHistogram(${buckets});
      for (const ms of ${JSON.stringify(latenciesMs)}) h.record(ms);
      return ${JSON.stringify(ps)}.map((p) => h.percentile(p));
    })()`,
  )[0] as number[];

describe('latency percentiles', () => {
  it('reads a percentile to the microsecond', () => {
    expect(percentiles(1000, [0.25, 0.5, 0.1, 0.75], [0.5, 1])).toEqual([0.25, 0.75]);
  });

  it('reports a tail beyond the histogram as the largest latency seen, a number JSON keeps', () => {
    // 1 ms of buckets; a hundredth of the latencies far beyond it.
    const latencies = [...Array.from({ length: 99 }, () => 0.5), 1500.25];
    expect(percentiles(1000, latencies, [0.5, 0.99, 1])).toEqual([0.5, 0.5, 1500.25]);
    const over = [...Array.from({ length: 98 }, () => 0.5), 2, 1500.25];
    expect(percentiles(1000, over, [0.99])).toEqual([1500.25]);
  });

  it('is 0 with nothing recorded', () => {
    expect(percentiles(1000, [], [0.5, 0.99])).toEqual([0, 0]);
  });
});
