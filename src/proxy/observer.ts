/** What the forwarder reports; the ops metrics implement it, tests may record it. */
export type UpstreamErrorReason = 'refused' | 'reset' | 'timeout' | 'dns' | 'tls' | 'other';

export interface ForwardObserver {
  requestStarted(): void;
  requestFinished(user: string, method: string, status: number, durationSeconds: number): void;
  upstreamError(reason: UpstreamErrorReason): void;
  /** Vidispine answered 401 to our token; `retried` when the request was replayed. */
  upstreamUnauthorized(user: string, retried: boolean): void;
}
