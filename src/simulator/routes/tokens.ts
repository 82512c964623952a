import { authenticate, parseAuthorization } from '../auth';
import type { Exchange } from '../context';
import { methodServed, refuseCredentials, reject, sendBody, sendText } from '../http';
import { grantSeconds, negotiate, parseAutoRefresh, parseSeconds } from '../token-request';
import type { TokenEndpointFault } from '../types';
import { ADMIN_ROLE, hasRole } from '../users';

const OWN_TOKEN_TYPES = ['text/plain', 'application/json', 'application/xml'] as const;
const USER_TOKEN_TYPES = ['text/plain'] as const;

/**
 * GET /API/token (`forUser` undefined) and GET /API/user/{forUser}/token. Injected faults
 * apply here and only here, before anything else the server would check.
 */
export function handleTokenRequest(ex: Exchange, forUser: string | undefined): void {
  const { ctx } = ex;
  ctx.counters.count(forUser === undefined ? 'token' : 'user_token', forUser ?? claimedUser(ex));
  const fault = ctx.faults.take();
  if (fault) applyFault(ex, fault, () => mint(ex, forUser));
  else mint(ex, forUser);
}

function applyFault(ex: Exchange, fault: TokenEndpointFault, proceed: () => void): void {
  const { res } = ex;
  switch (fault.kind) {
    case 'status':
      return reject(
        res,
        fault.status,
        'simulated token endpoint failure',
        fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) },
      );
    case 'empty':
      return sendText(res, 200, '');
    case 'drop':
      res.socket?.destroy();
      return;
    case 'delay': {
      const timer = setTimeout(proceed, fault.ms);
      res.once('close', () => clearTimeout(timer));
      return;
    }
  }
}

/** Who the request says it is, before anything is verified: for call counting only. */
function claimedUser({ req, ctx }: Exchange): string | undefined {
  const runAs = req.headers.runas;
  if (typeof runAs === 'string') return runAs.trim();
  const creds = parseAuthorization(req.headers.authorization);
  if (creds.kind === 'basic') return ctx.users.nameBehind(creds.user);
  if (creds.kind === 'token') return ctx.tokens.peek(creds.value)?.user;
  return undefined;
}

function mint(ex: Exchange, forUser: string | undefined): void {
  const { ctx, req, res, target } = ex;
  const auth = authenticate(req.headers, ctx);
  if (!auth.ok) return refuseCredentials(res, auth, ctx.reasonHeader);
  if (!methodServed(res, ['GET'])) return;
  const offered = forUser === undefined ? OWN_TOKEN_TYPES : USER_TOKEN_TYPES;
  const type = negotiate(req.headers.accept, offered);
  if (!type) return reject(res, 406, `no acceptable media type (offered: ${offered.join(', ')})`);

  const query = new URLSearchParams(target.query);
  const seconds = parseSeconds(query.get('seconds'), ctx.lifetime.defaultSeconds);
  if (!seconds.ok) return reject(res, seconds.status, seconds.reason);
  const autoRefresh = parseAutoRefresh(query.get('autoRefresh'));

  const { caller, effective } = auth.identity;
  const isAdmin = hasRole(effective, ADMIN_ROLE);
  const owner = forUser ?? effective.name;
  if (owner !== effective.name && !isAdmin) {
    return reject(res, 403, 'only an administrator may create tokens for another user');
  }
  const user = ctx.users.get(owner);
  if (!user) return reject(res, 404, 'no such user');
  if (user.disabled || caller.disabled || effective.disabled) {
    return reject(res, 409, 'user is disabled');
  }
  const granted = grantSeconds(seconds.value, isAdmin, ctx.lifetime);
  if (!granted.ok) return reject(res, granted.status, granted.reason);

  const token = ctx.tokens.issue(owner, granted.value, autoRefresh);
  if (type === 'application/json') {
    return sendBody(res, 200, type, JSON.stringify({ token, user: owner }));
  }
  if (type === 'application/xml') {
    return sendBody(res, 200, type, tokenXml(token, owner));
  }
  return sendBody(res, 200, 'text/plain', token);
}

function tokenXml(token: string, user: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<AuthenticationTokenDocument xmlns="http://xml.vidispine.com/schema/vidispine">' +
    `<token>${escapeXml(token)}</token><user>${escapeXml(user)}</user>` +
    '</AuthenticationTokenDocument>'
  );
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
