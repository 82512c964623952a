/**
 * A token request sent again because the kept connection it went out on closed before any
 * answer (Node's keep-alive reuse race) is one mint or one check, counted and logged once by
 * its outcome; the second send is said at debug, where it can be looked for.
 */
import { createTokenStoreFor } from '../../src/app';
import { tokenSideLogs } from '../../src/ops/token-log';
import { createLogger } from '../../src/ops/logger';
import { configWith } from '../support/config-fixtures';
import { ok, startRawUpstream } from '../support/raw-upstream';
import { settle } from '../support/wait';

it('says at debug, with the path and why, that a token request went again on a new connection', async () => {
  // The second request on the first connection meets its close.
  const upstream = await startRawUpstream((request) =>
    request.connection === 0 && request.position === 1 ? 'close' : ok('alice'),
  );
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void logs.push(line) },
  });
  const tokens = createTokenStoreFor(configWith({ url: upstream.url }), tokenSideLogs(logger));
  const whoami = () =>
    tokens.transport.get(
      '/API/whoami',
      { Authorization: 'token VX-secret' },
      AbortSignal.timeout(5000),
    );
  try {
    await whoami();
    await settle(); // the connection goes back to the pool
    expect((await whoami()).body).toBe('alice');
    const lines = logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === 'vidispine_request_resent');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'debug',
        path: '/API/whoami',
        code: 'ECONNRESET',
        msg: expect.stringMatching(
          /^GET \/API\/whoami failed on a kept connection before any answer \(ECONNRESET\); sent again on a new connection$/,
        ) as unknown,
      }),
    ]);
    expect(logs.join('')).not.toContain('VX-secret');
  } finally {
    tokens.stop();
    await upstream.close();
  }
});
