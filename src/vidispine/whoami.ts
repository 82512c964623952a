import type { TokenCheck, TokenChecker } from './types';
import type { VidispineTransport } from './transport';

/**
 * Answers that say the server has no `GET /API/whoami` at all, whatever the token: no such
 * route (404), not for GET (405), not implemented (501) — a Vidispine-compatible server or
 * a front end without it. Not 5xx otherwise or 429: those are a server in trouble, which
 * says nothing about the route. Not 403: that is about the token or the user, not the route.
 */
const WHOAMI_ABSENT: ReadonlySet<number> = new Set([404, 405, 501]);

/** Whether `status` from `GET /API/whoami` means the server has no such check. */
export function whoamiAbsent(status: number): boolean {
  return WHOAMI_ABSENT.has(status);
}

/** `GET /API/whoami` answered something other than 200; the message names the status. */
export class WhoamiError extends Error {
  constructor(readonly status: number) {
    super(`GET /API/whoami answered ${status}`);
    this.name = 'WhoamiError';
  }
}

/**
 * The username Vidispine associates with a token (`GET /API/whoami`), to prove a freshly
 * minted token works. Throws with the HTTP status; the token never appears in the message.
 */
export async function whoami(
  transport: VidispineTransport,
  token: string,
  signal: AbortSignal,
): Promise<string> {
  const answer = await transport.get(
    '/API/whoami',
    { Accept: 'text/plain', Authorization: `token ${token}` },
    signal,
  );
  if (answer.status !== 200) throw new WhoamiError(answer.status);
  return answer.body.trim();
}

/**
 * Checks tokens with `GET /API/whoami`, the cheapest call that needs a valid token: 2xx is
 * alive, 401 dead, 404/405/501 unavailable (no such route: the 401 cannot be checked), anything
 * else (or no answer within `timeoutSeconds`) unknown.
 */
export function createTokenChecker(
  transport: VidispineTransport,
  timeoutSeconds: number,
): TokenChecker {
  return {
    async check(token: string, signal?: AbortSignal): Promise<TokenCheck> {
      const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
      try {
        const answer = await transport.get(
          '/API/whoami',
          { Accept: 'text/plain', Authorization: `token ${token}` },
          signal ? AbortSignal.any([signal, timeout]) : timeout,
        );
        if (answer.status === 401) return 'dead';
        if (whoamiAbsent(answer.status)) return 'unavailable';
        return answer.status >= 200 && answer.status < 300 ? 'alive' : 'unknown';
      } catch {
        return 'unknown';
      }
    },
  };
}
