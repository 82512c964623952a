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
