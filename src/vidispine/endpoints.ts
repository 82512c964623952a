/**
 * The ways a user's tokens are minted, and the Vidispine endpoints each one uses:
 * - `own`: the user's own password or access key → `GET /API/token`;
 * - `admin`: the `vidispine.admin` account → `GET /API/user/{name}/token`;
 * - `runAs`: a `vidispine.runAs` account with the `_runas` role → `GET /API/token` with
 *   `RunAs: {name}`.
 * `GET /API/token` is absent from some servers (VidiCore 4.11 has only the per-user
 * endpoint), so `own` and `runAs` ask `GET /API/user/{name}/token` when it answers 404 — the
 * endpoint any user may call for itself (and, with `RunAs`, as the user it acts for) — and
 * move there for good once that endpoint has shown it exists (`showsEndpoint`).
 * A new way of minting is one entry in each table here.
 */
import type { UserConfig, VidispineConfig } from '../config/types';

interface MintEndpointKind {
  /** The API path of the token request for `user` (before `?seconds=…`). */
  path(user: string): string;
  /** The request carries `RunAs: {user}`. */
  readonly runAs: boolean;
}

/**
 * A user name as one path segment: percent-encoded, dots included where the segment is all
 * dots, so that no name can move the request elsewhere (`..` would turn
 * `/API/user/../token` into `/API/token`, the admin's own token).
 */
export function pathSegment(name: string): string {
  const encoded = encodeURIComponent(name);
  return /^\.+$/.test(encoded) ? encoded.replace(/\./g, '%2E') : encoded;
}

export const MINT_ENDPOINTS = {
  token: { path: () => '/API/token', runAs: false },
  user_token: { path: (user) => `/API/user/${pathSegment(user)}/token`, runAs: false },
  token_runas: { path: () => '/API/token', runAs: true },
  user_token_runas: { path: (user) => `/API/user/${pathSegment(user)}/token`, runAs: true },
} as const satisfies Readonly<Record<string, MintEndpointKind>>;

/** Which endpoint mints a user's tokens; also the `endpoint` field of logs, `/status` and metrics. */
export type MintEndpoint = keyof typeof MINT_ENDPOINTS;

export type MintMode = 'own' | 'admin' | 'runAs';

/** Each mode's endpoint, and the one it uses on a server without `GET /API/token`. */
export const MODE_ENDPOINTS = {
  own: { first: 'token', withoutToken: 'user_token' },
  admin: { first: 'user_token', withoutToken: 'user_token' },
  runAs: { first: 'token_runas', withoutToken: 'user_token_runas' },
} as const satisfies Readonly<
  Record<MintMode, { first: MintEndpoint; withoutToken: MintEndpoint }>
>;

/** A credential of its own wins; then the RunAs account; then the administrator. */
export function mintModeFor(
  user: Pick<UserConfig, 'credential'>,
  vidispine: Pick<VidispineConfig, 'runAs'>,
): MintMode {
  if (user.credential !== undefined) return 'own';
  return vidispine.runAs !== undefined ? 'runAs' : 'admin';
}

/** The endpoint a user's tokens come from at start. */
export function mintEndpointFor(
  user: Pick<UserConfig, 'credential'>,
  vidispine: Pick<VidispineConfig, 'runAs'>,
): MintEndpoint {
  return MODE_ENDPOINTS[mintModeFor(user, vidispine)].first;
}

/** `GET /API/user/bob/token`, `GET /API/token (RunAs: bob)`: for messages and tables. */
export function mintRequestLine(endpoint: MintEndpoint, user: string): string {
  const kind = MINT_ENDPOINTS[endpoint];
  return `GET ${kind.path(user)}${kind.runAs ? ` (RunAs: ${user})` : ''}`;
}

/**
 * What the proxy has learned of the server, shared by every minter of a process: whether
 * `GET /API/token` exists. A 404 there, then an answer of the per-user endpoint that shows
 * it exists, moves every user to the per-user endpoint.
 */
export interface ServerFacts {
  tokenEndpoint: 'unknown' | 'present' | 'absent';
}

export function createServerFacts(): ServerFacts {
  return { tokenEndpoint: 'unknown' };
}

/**
 * What `GET /API/user/{name}/token` itself answers: 400 (`seconds` above the cap), 401 (a
 * credential refused), 403 (another user's token without `_administrator`, a refused RunAs),
 * 409 (a disabled user).
 */
const ENDPOINT_REFUSALS: ReadonlySet<number> = new Set([400, 401, 403, 409]);

/**
 * Whether an answer shows that the endpoint asked exists: a 2xx, or a refusal only Vidispine's
 * token endpoint gives. A server still starting, or a front end before it, answers others to
 * every path (a 404, a 5xx, a redirect to its login page, a rate limiter's 429, its own 407),
 * so moving on one of those would keep a user whose name there is not the account's (an access
 * key, an LDAP alias) on an endpoint that refuses it long after the server is up.
 */
export function showsEndpoint(status: number): boolean {
  return (status >= 200 && status < 300) || ENDPOINT_REFUSALS.has(status);
}
