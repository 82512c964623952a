import { authenticate } from '../auth';
import type { Exchange } from '../context';
import { methodServed, refuseCredentials, reject, segmentsOf } from '../http';
import { handleTokenRequest } from './tokens';
import { API_ROUTES } from './api';
import type { ApiRoute } from './types';

/** Everything under /API/: the token endpoints, then the authenticated resources. */
export function dispatchApi(ex: Exchange): void {
  const { ctx, req, res } = ex;
  const segments = segmentsOf(ex.target.path).slice(1);
  const names = segments.map((s) => s.name);
  if (names.length === 1 && names[0] === 'token' && ctx.tokenEndpoint) {
    return handleTokenRequest(ex, undefined);
  }
  if (names.length === 3 && names[0] === 'user' && names[2] === 'token') {
    const user = decode(names[1]);
    if (user === undefined) return reject(res, 400, 'malformed user name in path');
    return handleTokenRequest(ex, user);
  }

  // A server without the route answers before authenticating, as a front end would.
  if (ctx.whoamiStatus !== undefined && names.length === 1 && names[0] === 'whoami') {
    return reject(res, ctx.whoamiStatus, 'no such resource');
  }
  const auth = authenticate(req.headers, ctx);
  ctx.counters.count('api', auth.ok ? auth.identity.effective.name : auth.claimed);
  if (!auth.ok) return refuseCredentials(res, auth, ctx.reasonHeader);
  if (auth.identity.caller.disabled || auth.identity.effective.disabled) {
    return reject(res, 401, 'user is disabled');
  }

  const found = match(names);
  if (!found) return reject(res, 404, 'no such resource');
  if (found.params === undefined) return reject(res, 400, 'malformed percent-encoding in path');
  if (!methodServed(res, found.route.methods)) return;
  found.route.handle({ ...ex, identity: auth.identity, segments, params: found.params });
}

function match(
  names: readonly string[],
): { route: ApiRoute; params: Record<string, string> | undefined } | undefined {
  for (const route of API_ROUTES) {
    if (route.pattern.length !== names.length) continue;
    if (!route.pattern.every((p, i) => p.startsWith(':') || p === names[i])) continue;
    const params: Record<string, string> = {};
    for (const [i, p] of route.pattern.entries()) {
      if (!p.startsWith(':')) continue;
      const value = decode(names[i]);
      if (value === undefined) return { route, params: undefined };
      params[p.slice(1)] = value;
    }
    return { route, params };
  }
  return undefined;
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
