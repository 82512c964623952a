import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { betweenRequests } from '../../src/idle-close';
import { ConnectionDrain } from '../../src/proxy/drain';
import { Pipelines } from '../../src/proxy/pipeline';
import { collectGarbage } from '../support/reliability-clients';
import { until } from '../support/wait';

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
  const connections = new Set<Socket>();
  const drain = new ConnectionDrain(pipelines, () => betweenRequests(server, connections));
  const server: http.Server = http.createServer(
    { ServerResponse: drain.responseClass() },
    (_req, res) => {
      drain.received(res);
      answers.push(new WeakRef(res));
      res.end('ok');
    },
  );
  server.on('connection', (socket: Socket) => connections.add(socket));
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

it('tells the connections on which no request has begun, and closes none of them', async () => {
  const connections = new Set<Socket>();
  const server = http.createServer((_req, res) => res.end('ok'));
  server.on('connection', (socket: Socket) => connections.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const answered = net.connect(port, '127.0.0.1');
  const begun = net.connect(port, '127.0.0.1');
  try {
    answered.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(answered, 'data');
    // Half a request head: the proxy has read its first bytes, and waits for the rest.
    begun.write('GET / HTTP/1.1\r\nHo');
    await until(() => connections.size === 2);
    const [answeredHere] = await untilIdle(server, connections, 1);
    expect(answeredHere.remotePort).toBe(answered.localPort);
    expect([...connections].filter((s) => s.destroyed)).toEqual([]);
    expect([...connections].filter((s) => Object.hasOwn(s, 'destroy'))).toEqual([]);
    // The prototype's own destroy is back: Node still closes them.
    server.closeIdleConnections();
    expect(answeredHere.destroyed).toBe(true);
  } finally {
    answered.destroy();
    begun.destroy();
    server.closeAllConnections();
    server.close();
  }
});

/** `betweenRequests`, once the half head has been read and it lists `count` connections. */
async function untilIdle(
  server: http.Server,
  connections: Set<Socket>,
  count: number,
): Promise<Socket[]> {
  let idle: Socket[] = [];
  await until(() => (idle = betweenRequests(server, connections)).length === count);
  return idle;
}

it('asks which connections are idle once for all the answers that end in one turn, once the listener has closed', async () => {
  const held: http.ServerResponse[] = [];
  const connections = new Set<Socket>();
  let passes = 0;
  const drain = new ConnectionDrain(new Pipelines(), () => {
    passes += 1;
    return betweenRequests(server, connections);
  });
  const server: http.Server = http.createServer(
    { ServerResponse: drain.responseClass() },
    (_req, res) => {
      drain.received(res);
      held.push(res);
    },
  );
  server.closeIdleConnections = (): void => drain.closeIdle();
  server.on('connection', (socket: Socket) => connections.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const clients = Array.from({ length: CONNECTIONS }, () => {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    client.resume();
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    return client;
  });
  try {
    const gone = clients.map((client) => once(client, 'close'));
    await until(() => held.length === CONNECTIONS);
    server.close();
    drain.listenerClosed();
    passes = 0;
    for (const res of held) res.end('ok');
    // Every connection still closes once its answer is out, and its client has it whole.
    await Promise.all(gone);
    expect(held.map((res) => res.writableFinished)).toEqual(Array(CONNECTIONS).fill(true));
    // Before: one pass over every connection per answer, 20.
    expect(passes).toBe(1);
  } finally {
    for (const client of clients) client.destroy();
    server.closeAllConnections();
    server.close();
  }
});
