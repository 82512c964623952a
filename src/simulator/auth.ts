import type { IncomingHttpHeaders } from 'node:http';
import type { TokenRegistry } from './token-registry';
import type { SimUser } from './types';
import { ADMIN_ROLE, RUNAS_ROLE, hasRole, type UserDirectory } from './users';

export type Credentials =
  | { kind: 'none' }
  | { kind: 'token'; value: string }
  | { kind: 'basic'; user: string; secret: string }
  | { kind: 'invalid'; reason: string };

/**
 * Exactly the form Vidispine documents: the word `token` in lower case, one space, the token
 * (Node has already trimmed the value). Anything else is refused, so a client that sends
 * another spelling is caught here rather than by a real server.
 */
const TOKEN_RE = /^token (\S+)$/;
const TOKEN_SCHEME_RE = /^token(?:\s|$)/i;
const BASIC_RE = /^basic +(\S+) *$/i;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Reads an Authorization header; never throws, whatever the client sent. */
export function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const token = TOKEN_RE.exec(header);
  if (token) return { kind: 'token', value: token[1] };
  if (TOKEN_SCHEME_RE.test(header)) {
    return { kind: 'invalid', reason: 'malformed token credentials: expected "token <token>"' };
  }
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
  | {
      ok: false;
      status: 401 | 403;
      /** One line for the body; never a credential. */
      reason: string;
      /** For a `Reason:` header: what was presented, the credential's name or the token. */
      detail: string;
      claimed?: string;
    };

export interface AuthDeps {
  readonly users: UserDirectory;
  readonly tokens: TokenRegistry;
  /** The status of a refused RunAs; Vidispine does not document it. */
  readonly refusedRunAsStatus: 401 | 403;
}

/** Checks the credentials of one call and applies RunAs. Disabled users are the caller's rule. */
export function authenticate(headers: IncomingHttpHeaders, deps: AuthDeps): AuthResult {
  const creds = parseAuthorization(headers.authorization);
  let caller: SimUser | undefined;
  switch (creds.kind) {
    case 'none':
      return refuse(401, 'authentication required', 'No credentials');
    case 'invalid':
      return refuse(401, creds.reason, creds.reason);
    case 'token': {
      const found = deps.tokens.use(creds.value);
      if (!found.ok) {
        const detail = `Token ${found.reason === 'expired' ? 'has expired' : 'was not found'}: ${creds.value}`;
        return refuse(401, `token ${found.reason}`, detail, found.user);
      }
      caller = deps.users.get(found.state.user);
      if (!caller) return refuse(401, 'token user no longer exists', 'User was not found');
      break;
    }
    case 'basic': {
      const verified = deps.users.verify(creds.user, creds.secret);
      if (!verified.ok) return refuse(401, 'bad credentials', verified.reason, verified.user);
      caller = verified.user;
      break;
    }
  }
  return applyRunAs(caller, headers.runas, deps);
}

function refuse(status: 401 | 403, reason: string, detail: string, claimed?: string): AuthResult {
  return { ok: false, status, reason, detail, claimed };
}

function applyRunAs(
  caller: SimUser,
  runAs: string | string[] | undefined,
  deps: AuthDeps,
): AuthResult {
  if (runAs === undefined) return { ok: true, identity: { caller, effective: caller } };
  const name = (Array.isArray(runAs) ? runAs[0] : runAs).trim();
  const status = deps.refusedRunAsStatus;
  if (!hasRole(caller, ADMIN_ROLE) && !hasRole(caller, RUNAS_ROLE)) {
    const reason = 'RunAs needs the _administrator or _runas role';
    return refuse(status, reason, `${reason}: ${caller.name}`, caller.name);
  }
  const effective = deps.users.get(name);
  if (!effective) return refuse(status, 'RunAs user unknown', `User was not found: ${name}`, name);
  if (!deps.users.mayRunAs(caller, effective)) {
    const reason = 'RunAs not permitted for this user';
    return refuse(status, reason, `${caller.name} may not run as ${name}`, name);
  }
  return { ok: true, identity: { caller, effective } };
}
