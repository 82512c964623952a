/**
 * Why a client's TLS handshake with the webhook failed, as a small set of reasons for a
 * metric, and how often that is said in the log. A client that does not trust the serving
 * certificate (a caBundle left stale: the most common webhook install failure) fails every
 * handshake, so every labelled pod is refused while the webhook itself sees no review at
 * all; a count and a warning say so. Scanners and broken clients fail handshakes too, as
 * fast as they like: one line a minute per reason, with the count since the last, keeps them
 * from flooding the log.
 */

export const HANDSHAKE_FAILURE_REASONS = [
  'unknown_ca',
  'bad_certificate',
  'protocol',
  'closed',
  'other',
] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

/**
 * The reason for Node's error code. The client's alerts: `unknown_ca` (OpenSSL-based clients
 * that do not trust the CA), `bad_certificate` (the alerts about the certificate itself,
 * which Go's client, the API server's, sends for any failed verification, and OpenSSL's
 * "decrypt error" for a signature it cannot verify: a caBundle of a CA renewed under the
 * same name). Any other TLS
 * error is `protocol` (a version, cipher or record the webhook does not take, plain HTTP on
 * the HTTPS port). `closed`: the connection reset or closed mid-handshake, which a TCP
 * health check or a port scan does, and a Node client that rejects the certificate without
 * an alert. `other` is anything else (a handshake timeout).
 */
export function handshakeFailureReason(code: string | undefined): HandshakeFailureReason {
  if (code === undefined) return 'other';
  // OpenSSL 3.0 (Node 20) names an alert SSLV3_… or TLSV1_…, later versions SSL/TLS_….
  if (/_ALERT_UNKNOWN_CA$/.test(code)) return 'unknown_ca';
  if (
    /_ALERT_(BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_[A-Z_]+|DECRYPT_ERROR)$/.test(code)
  )
    return 'bad_certificate';
  if (code.startsWith('ERR_SSL_')) return 'protocol';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'closed';
  return 'other';
}

/** The least time between two log lines of one reason. */
export const HANDSHAKE_LOG_INTERVAL_MS = 60_000;

/**
 * Which failures are said: the first of a reason, then the first one a minute or more after
 * the last line of that reason, each with how many failed since that line (itself included).
 */
export class HandshakeFailureLog {
  private readonly last = new Map<HandshakeFailureReason, { at: number; since: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** How many failures of `reason` the line to write now counts, or undefined: none is due. */
  failed(reason: HandshakeFailureReason): number | undefined {
    const at = this.now();
    const seen = this.last.get(reason);
    if (seen !== undefined && at - seen.at < HANDSHAKE_LOG_INTERVAL_MS) {
      seen.since += 1;
      return undefined;
    }
    const count = (seen?.since ?? 0) + 1;
    this.last.set(reason, { at, since: 0 });
    return count;
  }
}
