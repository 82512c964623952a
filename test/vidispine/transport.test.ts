/**
 * The token side's connections to Vidispine, on real sockets: how long an idle one is kept,
 * and what happens to a mint sent on one that Vidispine closed as it went out.
 */
import { errorCode } from '../../src/error-message';
import { MintError } from '../../src/tokens/types';
import { createTokenMinter } from '../../src/vidispine/minter';
import { CutAnswerError, createTransport } from '../../src/vidispine/transport';
import { createTestCa } from '../support/certificates';
import { password, userConfig } from '../support/config-fixtures';
import { startHttpsFront } from '../support/https-front';
import { ok, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { settle, until } from '../support/wait';

const where = (u: RawUpstream) => u.requests.map((r) => [r.connection, r.position]);

/** The GETs the transport said it sent again, and why. */
let resent: [string, string | undefined][];
beforeEach(() => (resent = []));
const resentTo = { resent: (path: string, err: unknown) => resent.push([path, errorCode(err)]) };

function aliceAt(u: RawUpstream, url = u.url, ca?: Buffer) {
  const transport = createTransport({ url: new URL(url), caFile: ca && 'ca.pem', ca }, resentTo);
  const minter = createTokenMinter({
    vidispine: { mintTimeoutSeconds: 5 },
    user: userConfig('alice', { credential: password('alice', 'alice-password') }),
    transport,
  });
  return { transport, minter };
}

describe('a mint on a kept-alive connection Vidispine closes as the mint arrives', () => {
  let upstream: RawUpstream;
  afterEach(async () => upstream.close());

  it('is sent again at once on a new connection, and the mint succeeds', async () => {
    // The first mint is answered; the second, on the same connection, meets its close.
    upstream = await startRawUpstream((request) =>
      request.connection === 0 && request.position === 1
        ? 'close'
        : ok(`VX-token-${request.sequence}`, 'Content-Type: text/plain\r\n'),
    );
    const { transport, minter } = aliceAt(upstream);
    try {
      expect((await minter.mint()).value).toBe('VX-token-0');
      await settle(); // the connection goes back to the pool
      expect((await minter.mint()).value).toBe('VX-token-2');
      // Sent twice: on the kept connection, then on a new one; never a third time.
      expect(where(upstream)).toEqual([
        [0, 0],
        [0, 1],
        [1, 0],
      ]);
      // Said once, with the path as sent (no credential: that goes in a header).
      expect(resent).toEqual([['/API/token?seconds=60&autoRefresh=false', 'ECONNRESET']]);
    } finally {
      transport.close();
    }
  });

  it('is sent again over TLS too, where the close comes as a close_notify first', async () => {
    upstream = await startRawUpstream((request) =>
      request.connection === 0 && request.position === 1
        ? 'close'
        : ok(`VX-token-${request.sequence}`, 'Content-Type: text/plain\r\n'),
    );
    const ca = await createTestCa();
    const front = await startHttpsFront(ca, upstream.port);
    const { transport, minter } = aliceAt(upstream, front.url, Buffer.from(ca.certPem));
    try {
      expect((await minter.mint()).value).toBe('VX-token-0');
      await settle();
      expect((await minter.mint()).value).toBe('VX-token-2');
      expect(where(upstream)).toEqual([
        [0, 0],
        [0, 1],
        [1, 0],
      ]);
    } finally {
      transport.close();
      front.close();
    }
  });

  it('is not sent again when a new connection fails: that failure is the answer', async () => {
    upstream = await startRawUpstream(() => 'close');
    const { transport, minter } = aliceAt(upstream);
    try {
      await expect(minter.mint()).rejects.toBeInstanceOf(MintError);
      expect(where(upstream)).toEqual([[0, 0]]);
      expect(resent).toEqual([]);
    } finally {
      transport.close();
    }
  });

  it('is not sent again once any byte of the answer arrived on the kept connection', async () => {
    upstream = await startRawUpstream((request, socket) => {
      if (request.position === 0) return ok('VX-token-0');
      // Part of a status line, then the connection ends: the request was read and answered.
      socket.end('HTTP/1.1 20');
      return 'hang';
    });
    const transport = createTransport({ url: new URL(upstream.url) }, resentTo);
    try {
      await transport.get('/API/whoami', {}, AbortSignal.timeout(5000));
      await settle();
      await expect(transport.get('/API/whoami', {}, AbortSignal.timeout(5000))).rejects.toThrow();
      expect(where(upstream)).toEqual([
        [0, 0],
        [0, 1],
      ]);
      expect(resent).toEqual([]);
    } finally {
      transport.close();
    }
  });

  it('is not sent again when the answer on the kept connection was cut after its head', async () => {
    upstream = await startRawUpstream((request, socket) => {
      if (request.position === 0) return ok('VX-token-0');
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nVX-');
      return 'hang';
    });
    const transport = createTransport({ url: new URL(upstream.url) });
    try {
      await transport.get('/API/whoami', {}, AbortSignal.timeout(5000));
      await settle();
      await expect(
        transport.get('/API/whoami', {}, AbortSignal.timeout(5000)),
      ).rejects.toBeInstanceOf(CutAnswerError);
      expect(upstream.requests).toHaveLength(2);
    } finally {
      transport.close();
    }
  });

  it('is not sent again when the transport’s close broke it', async () => {
    upstream = await startRawUpstream((request) =>
      request.position === 0 ? ok(`VX-token-${request.sequence}`) : 'hang',
    );
    const transport = createTransport({ url: new URL(upstream.url) });
    try {
      await transport.get('/API/whoami', {}, AbortSignal.timeout(5000));
      await settle();
      const broken = transport.get('/API/whoami', {}, AbortSignal.timeout(5000));
      await upstream.received(2);
      transport.close();
      // Sent again, it would open a connection after the close and be answered there.
      await expect(broken).rejects.toThrow();
      expect(upstream.connections()).toBe(1);
    } finally {
      transport.close();
    }
  });
});

// Both wait out the 4 s bound in real time, each with its own Vidispine: side by side, the
// two take one bound instead of two.
describe('an idle connection of the token side', () => {
  test.concurrent('is closed by the proxy after 4 s, as the forwarded requests’ are', async () => {
    const upstream = await startRawUpstream((request) => ok(`VX-token-${request.sequence}`));
    const transport = createTransport({ url: new URL(upstream.url) });
    try {
      await transport.get('/API/whoami', {}, AbortSignal.timeout(5000));
      expect(upstream.open()).toBe(1);
      // Kept until Vidispine closed it, it could meet the next mint as it closes.
      await until(() => upstream.open() === 0, 8000, 'the idle connection closed');
    } finally {
      transport.close();
      await upstream.close();
    }
  });

  test.concurrent(
    'does not bound a request under way: answers 4.5 s late arrive, on a new and a kept one',
    async () => {
      // Past the idle bound, well within the mint timeout (10 s by default). Node's agent turns
      // its `timeout` into the socket's, in use too, and destroys only a socket in its pool.
      const upstream = await startRawUpstream((request, socket) => {
        if (request.sequence === 0) return ok('VX-token-0');
        setTimeout(() => socket.write(ok(`VX-token-${request.sequence}`)), 4500);
        return 'hang';
      });
      const transport = createTransport({ url: new URL(upstream.url) });
      try {
        await transport.get('/API/whoami', {}, AbortSignal.timeout(10_000));
        await settle();
        const [kept, fresh] = await Promise.all([
          transport.get('/API/whoami', {}, AbortSignal.timeout(10_000)),
          transport.get('/API/whoami', {}, AbortSignal.timeout(10_000)),
        ]);
        expect([kept.status, fresh.status]).toEqual([200, 200]);
        // Each sent once: none was cut at 4 s and sent again on a new connection.
        expect(where(upstream).sort()).toEqual([
          [0, 0],
          [0, 1],
          [1, 0],
        ]);
      } finally {
        transport.close();
        await upstream.close();
      }
    },
  );
});
