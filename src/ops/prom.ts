/**
 * prom-client's metric types and its default process and Node.js metrics, loaded from its
 * own modules rather than its index. The index also loads what the proxy never uses — the
 * push gateway (http, https, zlib), the cluster aggregator, summaries (tdigest) — and its
 * CPU metric loads @opentelemetry/api for exemplars: about 2 MiB of every idle pod and a
 * tenth of the time to ready. The three CPU counters are the one default metric written
 * here, with the names, help and values prom-client gives them. Module paths are not a
 * package's promise, so prom-client is pinned to one version in package.json.
 */
import type * as Prom from 'prom-client';

/* eslint-disable @typescript-eslint/no-require-imports -- prom-client has no typed entry per module */
export const Registry = require('prom-client/lib/registry') as typeof Prom.Registry;
export const Counter = require('prom-client/lib/counter') as typeof Prom.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof Prom.Histogram;
export type Registry = Prom.Registry;
export type Counter<T extends string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Histogram<T extends string> = Prom.Histogram<T>;
export type HistogramChild<T extends string> = Prom.Histogram.Internal<T>;

type DefaultMetric = (
  registry: Prom.Registry,
  config: Prom.DefaultMetricsCollectorConfiguration<'text/plain; version=0.0.4; charset=utf-8'>,
) => void;

/** prom-client's default metrics after the CPU counters, in its order (processResources only where Node.js has it). */
const DEFAULT_METRICS: readonly DefaultMetric[] = [
  require('prom-client/lib/metrics/processStartTime'),
  require('prom-client/lib/metrics/osMemoryHeap'),
  require('prom-client/lib/metrics/processOpenFileDescriptors'),
  require('prom-client/lib/metrics/processMaxFileDescriptors'),
  require('prom-client/lib/metrics/eventLoopLag'),
  ...(typeof process.getActiveResourcesInfo === 'function'
    ? [require('prom-client/lib/metrics/processResources')]
    : []),
  require('prom-client/lib/metrics/processHandles'),
  require('prom-client/lib/metrics/processRequests'),
  require('prom-client/lib/metrics/heapSizeAndUsed'),
  require('prom-client/lib/metrics/heapSpacesSizeAndUsed'),
  require('prom-client/lib/metrics/version'),
  require('prom-client/lib/metrics/gc'),
] as DefaultMetric[];
/* eslint-enable @typescript-eslint/no-require-imports */

/** `process_cpu_{user,system}_seconds_total` and their sum, advanced at each scrape. */
function processCpu(registry: Prom.Registry): void {
  const registers = [registry];
  let last = process.cpuUsage();
  const user = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers,
    // one collect sets all three
    collect() {
      const now = process.cpuUsage();
      const userSeconds = (now.user - last.user) / 1e6;
      const systemSeconds = (now.system - last.system) / 1e6;
      last = now;
      user.inc(userSeconds);
      system.inc(systemSeconds);
      total.inc(userSeconds + systemSeconds);
    },
  });
  const system = new Counter({
    name: 'process_cpu_system_seconds_total',
    help: 'Total system CPU time spent in seconds.',
    registers,
  });
  const total = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers,
  });
}

/**
 * How often the event-loop lag histogram (nodejs_eventloop_lag_*) takes a sample, in the proxy
 * and the injection webhook. prom-client's default of 10 ms wakes an idle process 100 times a
 * second in every pod; at 100 ms a stall still shows in full, with ten wake-ups a second.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** prom-client's `collectDefaultMetrics({ register, eventLoopMonitoringPrecision })`. */
export function collectDefaultMetrics(
  registry: Prom.Registry,
  eventLoopMonitoringPrecision: number,
): void {
  processCpu(registry);
  for (const metric of DEFAULT_METRICS) metric(registry, { eventLoopMonitoringPrecision });
}
