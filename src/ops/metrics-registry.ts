/**
 * The Prometheus registry behind `OpsMetrics` (served on the ops listener only). Counters and
 * histograms are fed by the forwarder (as its observer) and the token store's events;
 * everything that describes "now" (validity, expiry) is read from the store at scrape time,
 * so a token that lapses silently or an autoRefresh expiry that slides is still reported
 * right.
 */
import {
  Counter,
  Gauge,
  Histogram,
  type HistogramChild,
  Registry,
  EVENT_LOOP_SAMPLE_MS,
  collectDefaultMetrics,
} from './prom';
import { holdsUnexpiredToken, type TokenStatusSource } from './views';
import { MINT_FAILURE_REASONS } from '../vidispine/failures';
import { TOKEN_CHECKS, type TokenCheck } from '../vidispine/types';

import {
  METRIC_PREFIX,
  SESSION_ENDS,
  SUCCESS_REASON,
  UNKNOWN_USER,
  UPSTREAM_ERROR_REASONS,
  boundedReason,
  normaliseMethod,
  statusLabel,
  type SessionEndLabel,
} from './metric-labels';

/**
 * Mints: a loopback mint takes a few ms, a struggling Vidispine seconds, and a mint cut by
 * `vidispine.mintTimeoutSeconds` (10 s by default, at most 300 s) its timeout and a little
 * more. Past the last bucket `histogram_quantile` answers that bucket's bound, so with 10 s a
 * p99 read "10 s" for mints abandoned after 300 s: the buckets above 10 s are the requests'
 * (a timed-out mint lands in the one above its timeout), and 600 s holds the largest timeout.
 */
const MINT_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];
/**
 * Requests: from a cached metadata GET (~1 ms) to long transcodes/uploads, up to the default
 * upstream timeout (300 s): past the last bucket, `histogram_quantile` answers that bucket's
 * bound, so with 60 s a dashboard's p99 read "60 s" while requests waited 5 minutes for a 504.
 */
const REQUEST_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

export interface OpsMetricsOptions {
  /** Configured user names: the only values the `user` label ever takes. */
  readonly users: readonly string[];
  readonly tokens: TokenStatusSource;
  /** Include prom-client's process and Node.js metrics (default true). */
  readonly defaultMetrics?: boolean;
  readonly now?: () => number;
}

/** Every metric of the proxy in its own prom-client registry. */
export class MetricsRegistry {
  readonly registry = new Registry();

  private readonly users: ReadonlySet<string>;
  private readonly refreshes: Counter<'user' | 'result' | 'reason'>;
  private readonly refreshDuration: Histogram<'user'>;
  private readonly unauthorized: Counter<'user' | 'retried'>;
  private readonly checks: Counter<'user' | 'result'>;
  /**
   * Requests by user → method as sent → status, as plain numbers: the data path pays three
   * map lookups instead of prom-client's label validation and hashing; `requests_total` is
   * filled from here at scrape time. Node only parses known methods, so the keys are bounded.
   */
  private readonly requestCounts = new Map<string, Map<string, Map<number, number>>>();
  private readonly requestDuration: Histogram<'user'>;
  /** `request_duration_seconds` children by user label, built once. */
  private readonly durationByUser = new Map<string, HistogramChild<'user'>>();
  private readonly inFlight: Gauge;
  private readonly upstreamErrors: Counter<'reason'>;
  private readonly sessionsOpen: Gauge<'user'>;
  private readonly sessionsEnded: Counter<'end'>;

  constructor(options: OpsMetricsOptions) {
    const { tokens } = options;
    const now = options.now ?? Date.now;
    const registers = [this.registry];
    this.users = new Set(options.users);

    // Exactly the contract's labels: which endpoint mints is in /status and the logs (a label
    // would also split a user's count in two when a server without GET /API/token moves it).
    this.refreshes = new Counter({
      name: `${METRIC_PREFIX}token_refreshes_total`,
      help: `Token mints by user and result; reason is the failure class, "${SUCCESS_REASON}" on success.`,
      labelNames: ['user', 'result', 'reason'],
      registers,
    });
    this.refreshDuration = new Histogram({
      name: `${METRIC_PREFIX}token_refresh_duration_seconds`,
      help: 'Time taken by a token mint (successful or failed), in seconds.',
      labelNames: ['user'],
      buckets: MINT_BUCKETS,
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}token_expiry_timestamp_seconds`,
      help: 'Modelled expiry of the token currently held, as a Unix timestamp in seconds; absent while none is held.',
      labelNames: ['user'],
      registers,
      collect() {
        this.reset();
        for (const view of tokens.status()) {
          if (view.expiresAt !== null) this.set({ user: view.user }, view.expiresAt / 1000);
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}token_last_success_timestamp_seconds`,
      help: 'Time of the last successful token mint, as a Unix timestamp in seconds; absent before the first.',
      labelNames: ['user'],
      registers,
      collect() {
        this.reset();
        for (const view of tokens.status()) {
          if (view.lastRefreshAt !== null) {
            this.set({ user: view.user }, view.lastRefreshAt / 1000);
          }
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}token_valid`,
      help: '1 when the user holds an unexpired token at scrape time, else 0.',
      labelNames: ['user'],
      registers,
      collect() {
        const at = now();
        for (const view of tokens.status()) {
          this.set({ user: view.user }, holdsUnexpiredToken(view, at) ? 1 : 0);
        }
      },
    });
    this.unauthorized = new Counter({
      name: `${METRIC_PREFIX}upstream_unauthorized_total`,
      help: 'Vidispine answered 401 to a request carrying our token; retried="true" when the request was replayed with a new token.',
      labelNames: ['user', 'retried'],
      registers,
    });
    this.checks = new Counter({
      name: `${METRIC_PREFIX}token_checks_total`,
      help: 'A 401 on our token, checked with GET /API/whoami on the same token: result="dead" dropped it (kept while the mint budget allows no replacement), "alive" means the 401 was the request\'s own (passed on), "unavailable" the server has no GET /API/whoami (404, 405, 501: dropped within the rejection backoff, else kept), "unknown" no clear answer.',
      labelNames: ['user', 'result'],
      registers,
    });
    const requestCounts = this.requestCounts;
    new Counter({
      name: `${METRIC_PREFIX}requests_total`,
      help: 'Requests answered on the data listeners, by user, method and HTTP status code.',
      labelNames: ['user', 'method', 'code'],
      registers,
      collect() {
        this.reset();
        for (const [user, byMethod] of requestCounts) {
          for (const [method, byStatus] of byMethod) {
            const labels = { user, method: normaliseMethod(method) };
            for (const [status, n] of byStatus)
              this.inc({ ...labels, code: statusLabel(status) }, n);
          }
        }
      },
    });
    this.requestDuration = new Histogram({
      name: `${METRIC_PREFIX}request_duration_seconds`,
      help: 'Time from receiving a request to finishing its response, in seconds.',
      labelNames: ['user'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: `${METRIC_PREFIX}requests_in_flight`,
      help: 'Requests received on the data listeners and not yet finished.',
      registers,
    });
    // Not in `requests_in_flight`, which a session leaves at its `101`: each holds two
    // sockets and their buffers for as long as it lasts, hours maybe.
    this.sessionsOpen = new Gauge({
      name: `${METRIC_PREFIX}websocket_sessions_open`,
      help: 'WebSocket sessions open on the data listeners: from the 101 passed on to their client to their end, whatever ends them.',
      labelNames: ['user'],
      registers,
    });
    // Why the gauge went down, where the access log is off: a client cut for the send
    // timeout, Vidispine's connections failing. By `end` alone: the gauge has the user.
    this.sessionsEnded = new Counter({
      name: `${METRIC_PREFIX}websocket_sessions_ended_total`,
      help: 'WebSocket sessions ended, by what ended them first: client_closed, upstream_closed, error, timeout (send timeout), shutdown.',
      labelNames: ['end'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: `${METRIC_PREFIX}upstream_errors_total`,
      help: 'Forwarded requests that got no answer from Vidispine, by reason.',
      labelNames: ['reason'],
      registers,
    });

    // Every series is there from the first scrape.
    for (const user of this.users) {
      this.refreshes.inc({ user, result: 'success', reason: SUCCESS_REASON }, 0);
      for (const reason of MINT_FAILURE_REASONS) {
        this.refreshes.inc({ user, result: 'failure', reason }, 0);
      }
      this.unauthorized.inc({ user, retried: 'true' }, 0);
      this.unauthorized.inc({ user, retried: 'false' }, 0);
      for (const result of TOKEN_CHECKS) this.checks.inc({ user, result }, 0);
      this.sessionsOpen.set({ user }, 0);
    }
    for (const reason of UPSTREAM_ERROR_REASONS) this.upstreamErrors.inc({ reason }, 0);
    for (const end of SESSION_ENDS) this.sessionsEnded.inc({ end }, 0);

    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics(this.registry, EVENT_LOOP_SAMPLE_MS);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for `/metrics`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  requestStarted(): void {
    this.inFlight.inc();
  }

  requestFinished(user: string, method: string, status: number, durationSeconds: number): void {
    const label = this.userLabel(user);
    this.inFlight.dec();
    countRequest(this.requestCounts, label, method, status);
    let duration = this.durationByUser.get(label);
    if (duration === undefined) {
      duration = this.requestDuration.labels({ user: label });
      this.durationByUser.set(label, duration);
    }
    duration.observe(durationSeconds);
  }

  sessionOpened(user: string): void {
    this.sessionsOpen.inc({ user: this.userLabel(user) });
  }

  sessionEnded(user: string, end: SessionEndLabel): void {
    this.sessionsOpen.dec({ user: this.userLabel(user) });
    this.sessionsEnded.inc({ end });
  }

  upstreamError(reason: string): void {
    this.upstreamErrors.inc({ reason: boundedReason(reason, UPSTREAM_ERROR_REASONS, 'other') });
  }

  upstreamUnauthorized(user: string, retried: boolean): void {
    this.unauthorized.inc({ user: this.userLabel(user), retried: String(retried) });
  }

  mintSucceeded(user: string, durationSeconds: number): void {
    const label = this.userLabel(user);
    this.refreshes.inc({ user: label, result: 'success', reason: SUCCESS_REASON });
    this.refreshDuration.observe({ user: label }, durationSeconds);
  }

  mintFailed(user: string, reason: string, durationSeconds: number): void {
    const label = this.userLabel(user);
    // An unexpected reason still counts, under a bounded value.
    const bounded = boundedReason(reason, MINT_FAILURE_REASONS, 'other');
    this.refreshes.inc({ user: label, result: 'failure', reason: bounded });
    this.refreshDuration.observe({ user: label }, durationSeconds);
  }

  tokenChecked(user: string, result: TokenCheck): void {
    this.checks.inc({ user: this.userLabel(user), result });
  }

  private userLabel(user: string): string {
    return this.users.has(user) ? user : UNKNOWN_USER;
  }
}

function countRequest(
  counts: Map<string, Map<string, Map<number, number>>>,
  user: string,
  method: string,
  status: number,
): void {
  let byMethod = counts.get(user);
  if (byMethod === undefined) counts.set(user, (byMethod = new Map()));
  let byStatus = byMethod.get(method);
  if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
}
