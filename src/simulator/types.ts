/** The simulator's public contract: what tests, the demo and the benchmark rely on. */

export type AccessKeyStatus = 'ACTIVE' | 'INACTIVE';

/**
 * A user's access key (`/API/user/{u}/key`): Basic credentials `id:secret`, the key's ID in
 * place of the user name. Keys never expire; an `INACTIVE` one is refused.
 */
export interface SimAccessKey {
  /** `VSID` and 16 letters or digits, e.g. `VSID2C56CQTA7DWW7DLF`. */
  id: string;
  secret: string;
  /** Default `ACTIVE`. */
  status?: AccessKeyStatus;
}

export interface SimUser {
  name: string;
  password: string;
  accessKeys?: SimAccessKey[];
  /** `_administrator` or `_runas`, the roles the simulator models; another is refused. */
  roles?: string[];
  disabled?: boolean;
  /**
   * Whom a `_runas` user may run as. Default: every user without `_administrator` (the role
   * lends a user's rights, it does not raise them). An administrator may run as anyone.
   */
  runAsUsers?: string[];
}

/** What the simulator does where its options say nothing: Vidispine's own defaults. */
export const SIMULATOR_DEFAULTS = {
  defaultSeconds: 60,
  maxSeconds: 60,
  aboveMax: 'reject',
  refreshIntervalSeconds: 10,
  refusedRunAsStatus: 403,
  uploadPasskey: 'demo-upload-passkey',
} as const;

export interface SimulatorOptions {
  /** Default: `DEFAULT_USERS`. */
  users?: SimUser[];
  /** Injectable clock (epoch ms); default `Date.now`. */
  now?: () => number;
  /** `userTokenDefaultInterval`: lifetime when `seconds` is omitted. Default 60. */
  defaultSeconds?: number;
  /** `userTokenMaxInterval` for callers without `_administrator`. Default 60. */
  maxSeconds?: number;
  /** Above the maximum: answer 400, or silently issue a token of `maxSeconds`. Default 'reject'. */
  aboveMax?: 'reject' | 'cap';
  /** `userTokenRefreshInterval`: least time between two autoRefresh pushes. Default 10. */
  refreshIntervalSeconds?: number;
  /** Expose the HTTP control surface under `/__sim/`. Default false. */
  controlPath?: boolean;
  /**
   * Serve `GET /API/token`. Default true; false answers it 404, as VidiCore 4.11 does (only
   * `GET /API/user/{u}/token` exists there).
   */
  tokenEndpoint?: boolean;
  /** Status of a refused `RunAs` (Vidispine does not document it). Default 403. */
  refusedRunAsStatus?: 401 | 403;
  /**
   * The key of signed upload URLs: `POST|PUT /APInoauth/import/raw?passkey=KEY` (or
   * `hash=KEY`) takes an upload without credentials. Default `'demo-upload-passkey'`.
   */
  uploadPasskey?: string;
  /**
   * Add a `Reason:` header to refused credentials, as Shiro does on some failures. It names
   * what was presented — the token itself for a rejected token, the worst case for a proxy
   * that must never pass its token on. Default false.
   */
  reasonHeader?: boolean;
  /**
   * Answer `GET /API/whoami` with this status whatever the credentials, as a compatible
   * server or a front end without that route does (404, 405, 501). Default: served.
   */
  whoamiStatus?: number;
}

export type TokenEndpointFault =
  /** `retryAfter`: seconds for a `Retry-After` header. */
  | { kind: 'status'; status: number; retryAfter?: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'empty' }
  | { kind: 'drop' };

export interface FaultLimits {
  /** Heal by itself this long after being set, measured on the simulator's clock. */
  forMs?: number;
  /** Heal by itself after hitting this many token requests. */
  times?: number;
}

/**
 * `token`: GET /API/token; `user_token`: GET /API/user/{u}/token; `api`: every other /API call;
 * `noauth`: the roots without credentials (/APInoauth, /APIinit, /APIdoc); `ws`: WebSocket
 * upgrades under /APIWS.
 */
export type CallEndpoint = 'token' | 'user_token' | 'api' | 'noauth' | 'ws';

export interface CallFilter {
  endpoint?: CallEndpoint;
  /**
   * The user a call is about: the {username} of /API/user/{u}/token, otherwise the user the
   * credentials name (token owner or Basic username, the RunAs user when honoured), counted
   * even when the credentials are refused.
   */
  user?: string;
}

export interface TokenInfo {
  user: string;
  /** Epoch ms on the simulator's clock; may lie in the past (expired tokens are still known). */
  expiresAt: number;
  autoRefresh: boolean;
  seconds: number;
}

export interface Simulator {
  /** 'http://127.0.0.1:PORT' once listening; throws before. */
  readonly url: string;
  listen(port?: number, host?: string): Promise<string>;
  /** Closes the server and every open socket, WebSockets included. */
  close(): Promise<void>;
  calls(filter?: CallFilter): number;
  resetCalls(): void;
  /** As a restart that lost every token. */
  revokeAllTokens(): void;
  revokeToken(value: string): void;
  failTokenEndpoints(fault: TokenEndpointFault, opts?: FaultLimits): void;
  healTokenEndpoints(): void;
  setUserPassword(name: string, password: string): void;
  setUserDisabled(name: string, disabled: boolean): void;
  setAccessKeyStatus(id: string, status: AccessKeyStatus): void;
  /**
   * False: a front end with no backend behind it — every request on a path that starts
   * with `/API` (`/API/`, `/APInoauth/`, `/APIinit/`, `/APIdoc/`, `/APIWS/` upgrades) gets
   * `503 No server available`. Default true.
   */
  setBackendAvailable(available: boolean): void;
  /** `GET /API/whoami` answers `status` whatever the credentials; undefined serves it again. */
  setWhoamiStatus(status: number | undefined): void;
  /**
   * `userTokenMaxInterval` from now on, as an administrator changes it: tokens already issued
   * keep the lifetime they got. Throws where the options would (`maxSeconds`).
   */
  setMaxSeconds(seconds: number): void;
  tokenInfo(value: string): TokenInfo | undefined;
  openConnections(): number;
  inFlightRequests(): number;
  /** The simulator's current time: the injected clock plus every `advanceClock`. */
  now(): number;
  /** Moves the simulator's clock forward (or back, with a negative value). */
  advanceClock(ms: number): void;
  /** Number of tokens the simulator still knows, expired ones included. */
  tokenCount(): number;
}
