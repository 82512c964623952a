/**
 * The Vidispine endpoints that mint tokens, and which one a user's tokens come from: its own
 * password or access key → `GET /API/token`; otherwise the admin credential →
 * `GET /API/user/{name}/token`. A new way of minting is one entry here.
 */
import type { UserConfig } from '../config/types';

interface MintEndpointKind {
  /** The API path of the token request for `user` (before `?seconds=…`). */
  path(user: string): string;
}

export const MINT_ENDPOINTS = {
  token: { path: () => '/API/token' },
  user_token: { path: (user) => `/API/user/${encodeURIComponent(user)}/token` },
} as const satisfies Readonly<Record<string, MintEndpointKind>>;

/** Which endpoint mints a user's tokens; also the `endpoint` field of logs and `/status`. */
export type MintEndpoint = keyof typeof MINT_ENDPOINTS;

export function mintEndpointFor(user: Pick<UserConfig, 'secret'>): MintEndpoint {
  return user.secret !== undefined ? 'token' : 'user_token';
}

/** `GET /API/user/bob/token`: the request line, for messages and tables. */
export function mintRequestLine(endpoint: MintEndpoint, user: string): string {
  return `GET ${MINT_ENDPOINTS[endpoint].path(user)}`;
}
