/** What the forwarder reports; the ops metrics implement it, tests may record it. */
export type UpstreamErrorReason =
  'refused' | 'reset' | 'timeout' | 'dns' | 'tls' | 'protocol' | 'other';

export interface ForwardObserver {
  requestStarted(): void;
  requestFinished(user: string, method: string, status: number, durationSeconds: number): void;
  upstreamError(reason: UpstreamErrorReason): void;
  /** Vidispine answered 401 to our token; `retried` when the request was replayed. */
  upstreamUnauthorized(user: string, retried: boolean): void;
}

/** One access-log record per request; produced only when `proxy.accessLog` is on. */
export interface AccessRecord {
  /** The client's `x-request-id`, or one the proxy made (and sent on to Vidispine). */
  readonly requestId: string;
  readonly user: string;
  readonly method: string;
  /** The request target as received. */
  readonly path: string;
  /** 499 when the client went away before the answer. */
  readonly status: number;
  readonly durationSeconds: number;
  readonly remoteAddress?: string;
  /** The request was replayed after a 401. */
  readonly replayed: boolean;
}

export type AccessLogger = (record: AccessRecord) => void;
