/**
 * The webhook's Prometheus metrics, in their own registry on its ops listener: every review
 * by outcome, how long answering took, and the serving certificate (its expiry and reloads),
 * so an alert can fire before cert rotation silently stops.
 */
import { METRIC_PREFIX } from '../ops/metrics';
import {
  collectDefaultMetrics,
  Counter,
  EVENT_LOOP_SAMPLE_MS,
  Gauge,
  Histogram,
  Registry,
} from '../ops/prom';
import { HANDSHAKE_FAILURE_REASONS, type HandshakeFailureReason } from './handshake-failures';
import { ADMISSION_RESULTS, type AdmissionResult } from './review';

/** Requests refused with a 4xx before any review: wrong path, method or media type, a body too large, not JSON, not an AdmissionReview. */
export const REFUSALS = [
  'not_found',
  'method',
  'media_type',
  'too_large',
  'bad_json',
  'not_a_review',
] as const;
export type Refusal = (typeof REFUSALS)[number];

/** From a fraction of a millisecond (a patch) to the API server's timeout. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export class WebhookMetrics {
  readonly registry = new Registry();
  /** `admission_reviews_total` children by result, built once: no label hashing per review. */
  private readonly reviews: ReadonlyMap<AdmissionResult, { inc(): void }>;
  private readonly refused: Counter<'reason'>;
  private readonly duration: Histogram<never>;
  private readonly certificateExpiry: Gauge;
  private readonly reloads: Counter<'result'>;
  private readonly reloadFailing: Gauge;
  private readonly handshakeFailures: Counter<'reason'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const reviews = new Counter({
      name: `${METRIC_PREFIX}admission_reviews_total`,
      help: 'AdmissionReviews answered, by result: injected, env_added, moved (the sidecar moved after a service mesh proxy added since), already_injected, ignored (not a pod CREATE), not_labelled (a pod without the opt-in label: the objectSelector is missing), denied.',
      labelNames: ['result'],
      registers,
    });
    this.refused = new Counter({
      name: `${METRIC_PREFIX}admission_requests_refused_total`,
      help: 'Requests to /mutate refused with a 4xx before any review, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.duration = new Histogram({
      name: `${METRIC_PREFIX}admission_duration_seconds`,
      help: 'Time from the request to the answered review, in seconds.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.certificateExpiry = new Gauge({
      name: `${METRIC_PREFIX}webhook_certificate_expiry_timestamp_seconds`,
      help: 'notAfter of the serving certificate in use, as a Unix timestamp in seconds.',
      registers,
    });
    this.reloads = new Counter({
      name: `${METRIC_PREFIX}webhook_certificate_reloads_total`,
      help: 'Serving certificate loads after a change on disk, by result (failure: the previous one stays in use).',
      labelNames: ['result'],
      registers,
    });
    // A state, not a count: an alert on it ends when the files are fixed, however that
    // happens, and is not hidden by a reload that succeeded earlier.
    this.reloadFailing = new Gauge({
      name: `${METRIC_PREFIX}webhook_certificate_reload_failing`,
      help: '1 while the serving certificate and key on disk did not load at the last attempt and the previous pair still serves; 0 otherwise (from the start, and once a good pair or the one in use is back on disk).',
      registers,
    });
    this.reloadFailing.set(0);
    // Where the API server does not trust the certificate, this is all that moves: no
    // review ever arrives to count.
    this.handshakeFailures = new Counter({
      name: `${METRIC_PREFIX}webhook_tls_handshake_failures_total`,
      help: 'TLS handshakes with the webhook listener that failed, by reason: unknown_ca or bad_certificate (the client does not trust the serving certificate: a stale caBundle), protocol (a TLS version, cipher or record refused, plain HTTP), closed (the client reset or closed mid-handshake: a TCP check, a scan), other.',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of HANDSHAKE_FAILURE_REASONS) this.handshakeFailures.inc({ reason }, 0);
    this.reviews = new Map(
      ADMISSION_RESULTS.map((result) => {
        reviews.inc({ result }, 0);
        return [result, reviews.labels({ result })];
      }),
    );
    for (const reason of REFUSALS) this.refused.inc({ reason }, 0);
    for (const result of ['success', 'failure']) this.reloads.inc({ result }, 0);
    if (options.defaultMetrics ?? true) collectDefaultMetrics(this.registry, EVENT_LOOP_SAMPLE_MS);
  }

  reviewed(result: AdmissionResult, seconds: number): void {
    this.reviews.get(result)?.inc();
    this.duration.observe(seconds);
  }

  refusedRequest(reason: Refusal): void {
    this.refused.inc({ reason });
  }

  handshakeFailed(reason: HandshakeFailureReason): void {
    this.handshakeFailures.inc({ reason });
  }

  certificateLoaded(notAfter: Date, reload: boolean): void {
    this.certificateExpiry.set(notAfter.getTime() / 1000);
    if (reload) this.reloads.inc({ result: 'success' });
    this.reloadFailing.set(0);
  }

  certificateReloadFailed(): void {
    this.reloads.inc({ result: 'failure' });
    this.reloadFailing.set(1);
  }

  /** The files are back to the pair in use: nothing loaded, nothing failing. */
  certificateRestored(): void {
    this.reloadFailing.set(0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
