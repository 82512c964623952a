import type { IncomingHttpHeaders } from 'node:http';
import type { TokenRegistry } from './token-registry';
import type { SimUser } from './types';
import { ADMIN_ROLE, RUNAS_ROLE, hasRole, type UserDirectory } from './users';

export type Credentials =
  | { kind: 'none' }
  | { kind: 'token'; value: string }
  | { kind: 'basic'; user: string; secret: string }
  | { kind: 'invalid'; reason: string };

const TOKEN_RE = /^token +(\S+) *$/i;
const BASIC_RE = /^basic +(\S+) *$/i;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Reads an Authorization header; never throws, whatever the client sent. */
export function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const token = TOKEN_RE.exec(header);
  if (token) return { kind: 'token', value: token[1] };
  const basic = BASIC_RE.exec(header);
  if (!basic) {
    const scheme = header.trim().split(/\s+/, 1)[0];
    return /^basic$/i.test(scheme)
      ? { kind: 'invalid', reason: 'malformed Basic credentials: nothing after "Basic"' }
      : { kind: 'invalid', reason: `unsupported authorization scheme "${scheme.slice(0, 20)}"` };
  }
  const encoded = basic[1];
  if (!BASE64_RE.test(encoded) || encoded.length % 4 === 1) {
    return { kind: 'invalid', reason: 'malformed Basic credentials: not base64' };
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'invalid', reason: 'malformed Basic credentials: no colon' };
  return { kind: 'basic', user: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

export interface Identity {
  /** Who authenticated. */
  readonly caller: SimUser;
  /** Whose rights the call runs with: the RunAs user when honoured, else the caller. */
  readonly effective: SimUser;
}

export type AuthResult =
  | { ok: true; identity: Identity }
  | { ok: false; status: 401 | 403; reason: string; claimed?: string };

export interface AuthDeps {
  readonly users: UserDirectory;
  readonly tokens: TokenRegistry;
}

/** Checks the credentials of one call and applies RunAs. Disabled users are the caller's rule. */
export function authenticate(headers: IncomingHttpHeaders, deps: AuthDeps): AuthResult {
  const creds = parseAuthorization(headers.authorization);
  let caller: SimUser | undefined;
  switch (creds.kind) {
    case 'none':
      return { ok: false, status: 401, reason: 'authentication required' };
    case 'invalid':
      return { ok: false, status: 401, reason: creds.reason };
    case 'token': {
      const found = deps.tokens.use(creds.value);
      if (!found.ok) {
        return { ok: false, status: 401, reason: `token ${found.reason}`, claimed: found.user };
      }
      caller = deps.users.get(found.state.user);
      if (!caller) return { ok: false, status: 401, reason: 'token user no longer exists' };
      break;
    }
    case 'basic':
      caller = deps.users.verify(creds.user, creds.secret);
      if (!caller)
        return { ok: false, status: 401, reason: 'bad credentials', claimed: creds.user };
      break;
  }
  return applyRunAs(caller, headers.runas, deps.users);
}

function applyRunAs(
  caller: SimUser,
  runAs: string | string[] | undefined,
  users: UserDirectory,
): AuthResult {
  if (runAs === undefined) return { ok: true, identity: { caller, effective: caller } };
  const name = (Array.isArray(runAs) ? runAs[0] : runAs).trim();
  if (!hasRole(caller, ADMIN_ROLE) && !hasRole(caller, RUNAS_ROLE)) {
    return {
      ok: false,
      status: 403,
      reason: 'RunAs needs the _administrator or _runas role',
      claimed: caller.name,
    };
  }
  const effective = users.get(name);
  if (!effective) return { ok: false, status: 403, reason: 'RunAs user unknown', claimed: name };
  return { ok: true, identity: { caller, effective } };
}
