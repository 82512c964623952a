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
import { startHarness } from '../support/app';

/** A Vidispine that keeps every connection as long as the proxy wants it (at least a minute). */
async function startKeepingVidispine(keepAliveTimeout: number) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.keepAliveTimeout = keepAliveTimeout;
  const connections: Socket[] = [];
  server.on('connection', (socket: Socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Each case waits out the 4 s bound in real time, with a Vidispine and a proxy of its own:
// side by side, the four take one bound. Concurrent tests run no afterEach hooks, and a case
// that timed out never reaches its finally: what it left open is closed once all are done.
const leftOpen = new Set<() => Promise<void>>();
afterAll(async () => {
  const closes = [...leftOpen];
  leftOpen.clear();
  await Promise.all(closes.map((close) => close()));
});

const vidispines = [
  ['says nothing about how long', 0],
  ['announces `Keep-Alive: timeout=60`', 60_000],
] as const;
it.concurrent.each(
  vidispines.flatMap(([says, keepAliveTimeout]) =>
    ['POST', 'GET'].map((method) => [says, method, keepAliveTimeout] as const),
  ),
)(
  'to a Vidispine that %s, a %s leaves its connection open for the next request, and the proxy closes it once idle',
  async (_says, method, keepAliveTimeout) => {
    const vidispine = await startKeepingVidispine(keepAliveTimeout);
    const h = await startHarness({ forwardTo: vidispine.url });
    const close = async (): Promise<void> => {
      await h.close();
      await vidispine.close();
    };
    leftOpen.add(close);
    try {
      const send = (): ReturnType<typeof call> =>
        call(h.port, {
          method,
          path: '/API/item',
          headers: method === 'POST' ? { 'content-type': 'text/plain', 'content-length': '2' } : {},
          body: method === 'POST' ? 'hi' : undefined,
        });
      expect((await send()).status).toBe(200);
      expect((await send()).status).toBe(200);
      expect(vidispine.connections).toHaveLength(1);
      const [used] = vidispine.connections;
      expect(used.destroyed).toBe(false);
      // The proxy's end of it: Vidispine sees the connection close, with no request on it.
      await once(used, 'close');
    } finally {
      if (leftOpen.delete(close)) await close();
    }
  },
  10_000,
);
