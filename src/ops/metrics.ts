/**
 * Prometheus metrics, served on the ops listener only. The registry behind them (prom-client,
 * `metrics-registry.ts`) is built off the path to ready: at the first scrape, or once
 * `PENDING_LIMIT` reports wait for it, whichever comes first. Loading prom-client and starting
 * its default metrics is about a third of the CPU from spawn to ready and 2–4 MiB of a pod that
 * is never scraped; what is reported before the registry exists is kept, in order, and handed
 * to it when it is built, so no count is lost.
 */
import type { SessionEndLabel } from './metric-labels';
import type { MetricsRegistry, OpsMetricsOptions } from './metrics-registry';
import type { TokenEventSource } from './views';
import type { TokenCheck } from '../vidispine/types';

export {
  METRIC_PREFIX,
  SESSION_ENDS,
  UPSTREAM_ERROR_REASONS,
  normaliseMethod,
  statusLabel,
} from './metric-labels';
export type { OpsMetricsOptions } from './metrics-registry';

/** Reports kept for a registry not built yet: a few hundred requests, or mints of many hours. */
const PENDING_LIMIT = 1000;

type Report = (registry: MetricsRegistry) => void;

/** The metrics; also the forwarder's observer (its request and upstream reports). */
export class OpsMetrics {
  private built: MetricsRegistry | undefined;
  /** Reports made before the registry was built, oldest first. */
  private pending: Report[] = [];

  constructor(private readonly options: OpsMetricsOptions) {}

  get contentType(): string {
    return this.registry().contentType;
  }

  /** The exposition text for `/metrics`. */
  render(): Promise<string> {
    return this.registry().render();
  }

  requestStarted(): void {
    if (this.built) this.built.requestStarted();
    else this.keep((r) => r.requestStarted());
  }

  requestFinished(user: string, method: string, status: number, durationSeconds: number): void {
    if (this.built) this.built.requestFinished(user, method, status, durationSeconds);
    else this.keep((r) => r.requestFinished(user, method, status, durationSeconds));
  }

  upstreamError(reason: string): void {
    this.report((r) => r.upstreamError(reason));
  }

  upstreamUnauthorized(user: string, retried: boolean): void {
    this.report((r) => r.upstreamUnauthorized(user, retried));
  }

  mintSucceeded(user: string, durationSeconds: number): void {
    this.report((r) => r.mintSucceeded(user, durationSeconds));
  }

  mintFailed(user: string, reason: string, durationSeconds: number): void {
    this.report((r) => r.mintFailed(user, reason, durationSeconds));
  }

  tokenChecked(user: string, result: TokenCheck): void {
    this.report((r) => r.tokenChecked(user, result));
  }

  sessionOpened(user: string): void {
    this.report((r) => r.sessionOpened(user));
  }

  sessionEnded(user: string, end: SessionEndLabel): void {
    this.report((r) => r.sessionEnded(user, end));
  }

  /** For the reports off the per-request path: one closure each is nothing there. */
  private report(report: Report): void {
    if (this.built) report(this.built);
    else this.keep(report);
  }

  private keep(report: Report): void {
    this.pending.push(report);
    if (this.pending.length >= PENDING_LIMIT) this.registry();
  }

  /** The registry, built now if it was not yet. */
  private registry(): MetricsRegistry {
    if (this.built === undefined) {
      // Required here, not at the top (see the file's comment).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const registry = require('./metrics-registry') as typeof import('./metrics-registry');
      const built = new registry.MetricsRegistry(this.options);
      for (const report of this.pending) report(built);
      this.pending = [];
      this.built = built;
    }
    return this.built;
  }
}

/** Feed the mint counters and the mint-duration histogram from the token store's events. */
export function recordTokenEvents(events: TokenEventSource, metrics: OpsMetrics): void {
  events.on('minted', (e) => metrics.mintSucceeded(e.user, e.durationSeconds));
  events.on('mintFailed', (e) => metrics.mintFailed(e.user, e.reason, e.durationSeconds));
  events.on('checked', (e) => metrics.tokenChecked(e.user, e.result));
}
