/**
 * A request Node's agent queues behind `maxSockets` busy ones, failed when its wait times
 * out, is never sent and costs the agent no socket: the one it would have had goes on.
 */
import * as http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { UpstreamTimeoutError } from '../../src/proxy/errors';
import { limitQueueWait } from '../../src/proxy/upstream';
import { until } from '../support/wait';

describe('limitQueueWait', () => {
  let server: http.Server;
  let port: number;
  const received: { body: string; res: http.ServerResponse }[] = [];
  let connections = 0;
  beforeAll(async () => {
    // Answers each request only when told.
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => received.push({ body, res }));
    });
    server.on('connection', () => (connections += 1));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  const count = (sockets: NodeJS.ReadOnlyDict<unknown[]>): number =>
    Object.values(sockets).flat().length;

  it('fails a request that waited too long, never sends it, and passes its socket on', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const timedOut: UpstreamTimeoutError[] = [];
    let told: () => void = () => undefined;
    const failed = new Promise<void>((resolve) => (told = resolve));
    try {
      const send = (body: string): http.ClientRequest => {
        const req = http.request({ agent, port, host: '127.0.0.1', method: 'PUT' });
        req.on('error', () => undefined);
        limitQueueWait(req, 50, (err) => {
          timedOut.push(err);
          told();
        });
        req.end(body);
        return req;
      };
      const first = send('first');
      const firstAnswer = once(first, 'response');
      await until(() => received.length === 1);
      const queued = send('queued');
      await failed;
      expect(timedOut[0]).toBeInstanceOf(UpstreamTimeoutError);
      expect(timedOut[0].phase).toBe('queue');
      expect(queued.destroyed).toBe(true);
      // Queued behind the one that gave up: it gets the held socket once that comes free.
      const next = send('next');
      const nextAnswer = once(next, 'response');
      received[0].res.end('ok');
      const [firstRes] = (await firstAnswer) as [http.IncomingMessage];
      firstRes.resume();
      await until(() => received.length === 2);
      expect(received.map((r) => r.body)).toEqual(['first', 'next']);
      received[1].res.end('ok');
      const [nextRes] = (await nextAnswer) as [http.IncomingMessage];
      expect(nextRes.statusCode).toBe(200);
      nextRes.resume();
      await once(next, 'close');
      await until(() => count(agent.freeSockets) === 1);
      expect(count(agent.sockets)).toBe(0);
      expect(connections).toBe(1);
      // A timer cleared by a socket never fires: the first and last were not failed.
      expect(timedOut).toHaveLength(1);
    } finally {
      agent.destroy();
    }
  });
});
