/**
 * Idle connections to Vidispine are let go after 4 s (undici's keep-alive timeout), on the
 * pool for requests with a body as on the one without: kept for ever, one that Vidispine or a
 * balancer closed without a word takes the next POST down with it as a 502, and a GET sent
 * on one whose peer vanished (a NAT or firewall that forgot it) waits the whole response
 * timeout for a 504. A Vidispine that announces a longer `Keep-Alive: timeout=` does not
 * lengthen that.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { call } from '../support/http';
import { startHarness, type Harness } from '../support/app';

describe.each([
  ['says nothing about how long', 0],
  ['announces `Keep-Alive: timeout=60`', 60_000],
])('idle connections to Vidispine that %s', (_says, keepAliveTimeout) => {
  let vidispine: http.Server;
  let h: Harness;
  const connections: Socket[] = [];
  beforeAll(async () => {
    // Keeps every connection as long as the proxy wants it (at least a minute).
    vidispine = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    vidispine.keepAliveTimeout = keepAliveTimeout;
    vidispine.on('connection', (socket: Socket) => connections.push(socket));
    await new Promise<void>((resolve) => vidispine.listen(0, '127.0.0.1', resolve));
    const { port } = vidispine.address() as { port: number };
    h = await startHarness({ forwardTo: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await h.close();
    vidispine.closeAllConnections();
    await new Promise((resolve) => vidispine.close(resolve));
  });

  it.each(['POST', 'GET'])(
    'a %s leaves its connection open for the next request, and the proxy closes it once idle',
    async (method) => {
      const before = connections.length;
      const send = (): ReturnType<typeof call> =>
        call(h.port, {
          method,
          path: '/API/item',
          headers: method === 'POST' ? { 'content-type': 'text/plain', 'content-length': '2' } : {},
          body: method === 'POST' ? 'hi' : undefined,
        });
      expect((await send()).status).toBe(200);
      expect((await send()).status).toBe(200);
      expect(connections.length).toBe(before + 1);
      const used = connections[before];
      expect(used.destroyed).toBe(false);
      // The proxy's end of it: Vidispine sees the connection close, with no request on it.
      await once(used, 'close');
    },
    10_000,
  );
});
