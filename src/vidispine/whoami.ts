import type { TokenCheck, TokenChecker } from './types';
import type { VidispineTransport } from './transport';

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
  if (answer.status !== 200) throw new Error(`GET /API/whoami answered ${answer.status}`);
  return answer.body.trim();
}

/**
 * Checks tokens with `GET /API/whoami`, the cheapest call that needs a valid token: 2xx is
 * alive, 401 dead, anything else (or no answer within `timeoutSeconds`) unknown.
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
        return answer.status >= 200 && answer.status < 300 ? 'alive' : 'unknown';
      } catch {
        return 'unknown';
      }
    },
  };
}
