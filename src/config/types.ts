/**
 * The validated, fully defaulted configuration every part of the proxy receives.
 * Loading (YAML file or environment) and validation live beside this file; nothing
 * outside `config/` ever sees raw input.
 */

/** Where a secret comes from. Files and env are read again before every mint. */
export type SecretSource =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env'; readonly name: string };

/** A username plus its password or access key (Vidispine accepts either as Basic). */
export interface Credential {
  readonly username: string;
  readonly secret: SecretSource;
}

/** `host:port`; host may be an IPv4/IPv6 literal or a name. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface TokenSettings {
  /** Lifetime requested with `seconds=`; Vidispine's default is 60. */
  readonly seconds: number;
  /** Ask Vidispine to slide the expiry on use (`autoRefresh=true`). */
  readonly autoRefresh: boolean;
  /** The server's `userTokenRefreshInterval`: the least time between two expiry pushes. */
  readonly serverRefreshIntervalSeconds: number;
  /** Stop using a token this long before its modelled expiry; default min(5, 10 % of seconds). */
  readonly safetyMarginSeconds: number;
}

export interface UserConfig {
  readonly name: string;
  /** Own password or access key → `GET /API/token`. Absent → minted by the admin credential. */
  readonly secret?: SecretSource;
  /** Data listener that acts as this user by default. Absent → reachable only by selection. */
  readonly listen?: ListenAddress;
  /** On this user's listener, a request header that may name another configured user. */
  readonly selectUserHeader?: string;
  /** Let a client `RunAs` header through on this user's listener (stripped by default). */
  readonly allowRunAs: boolean;
  readonly token: TokenSettings;
}

export interface VidispineConfig {
  /** Base URL without `/API`, e.g. `http://vidispine:8080`. Origin only plus optional path prefix. */
  readonly url: URL;
  /** Extra CA bundle (PEM) for an https Vidispine. */
  readonly caFile?: string;
  /** Administrator credential used for `GET /API/user/{name}/token`. */
  readonly admin?: Credential;
  /** Abort a token request after this long. */
  readonly mintTimeoutSeconds: number;
  /** Abort a TCP/TLS connect to Vidispine after this long (→ 502/504). */
  readonly connectTimeoutSeconds: number;
  /** Abort a forwarded request when Vidispine sends nothing for this long (→ 504). */
  readonly upstreamTimeoutSeconds: number;
  /** Keep-alive pool size per listener's agent. */
  readonly maxSockets: number;
}

export interface ProxySettings {
  /** A request body up to this size is kept so the request can be replayed after a 401. */
  readonly replayBufferBytes: number;
  /** Larger bodies go with `Expect: 100-continue`; wait this long for `100` before sending anyway. */
  readonly expectContinueTimeoutMs: number;
  /** One access-log line per request (off by default). */
  readonly accessLog: boolean;
}

export interface OpsConfig {
  /** Health + metrics listener; `null` disables it. */
  readonly listen: ListenAddress | null;
}

export interface ShutdownConfig {
  /** After SIGTERM, keep serving (readiness already failing) this long. */
  readonly delaySeconds: number;
  /** Then let in-flight requests finish for at most this long. */
  readonly drainSeconds: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ProxyConfig {
  readonly vidispine: VidispineConfig;
  readonly users: readonly UserConfig[];
  readonly proxy: ProxySettings;
  readonly ops: OpsConfig;
  readonly log: { readonly level: LogLevel };
  readonly shutdown: ShutdownConfig;
}
