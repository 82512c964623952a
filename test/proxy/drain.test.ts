import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionDrain } from '../../src/proxy/drain';
import { Pipelines } from '../../src/proxy/pipeline';
import { collectGarbage } from '../support/reliability-clients';

// What a keep-alive connection holds between requests, wired as the data listener wires it.

const CONNECTIONS = 20;

function get(agent: http.Agent, port: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      })
      .on('error', reject);
  });
}

it('keeps nothing of an answered request on an idle keep-alive connection', async () => {
  const answers: WeakRef<http.ServerResponse>[] = [];
  const pipelines = new Pipelines();
  const drain = new ConnectionDrain(pipelines, () => server.closeIdleConnections());
  const server = http.createServer({ ServerResponse: drain.responseClass() }, (_req, res) => {
    drain.received(res);
    answers.push(new WeakRef(res));
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    const answered = await Promise.all(Array.from({ length: CONNECTIONS }, () => get(agent, port)));
    expect(answered.map((res) => res.headers.connection)).toEqual(
      Array(CONNECTIONS).fill('keep-alive'),
    );
    // Let the connections go idle on both sides; the WeakRefs were made in earlier turns.
    await new Promise((resolve) => setImmediate(resolve));
    const idle = Object.values(agent.freeSockets).flat().length;
    expect(idle).toBe(CONNECTIONS);
    collectGarbage();
    expect(answers.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    // Still open, and still served after that.
    expect((await get(agent, port)).statusCode).toBe(200);
    expect(server.listenerCount('request')).toBe(1);
  } finally {
    agent.destroy();
    server.closeAllConnections();
    server.close();
  }
});
