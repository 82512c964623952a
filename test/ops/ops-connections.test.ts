/**
 * The ops listener's hold on its connections (`boundConnections`): what it keeps of a
 * connection must go with it, however the connection ends.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import { createProbeServer, type OpsServer } from '../../src/ops/server';
import { captureLogs } from '../support/ops';
import { collectGarbage } from '../support/reliability-clients';

let server: OpsServer | undefined;
let restore: (() => void) | undefined;

afterEach(async () => {
  restore?.();
  restore = undefined;
  await server?.close();
  server = undefined;
});

const REQUEST = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';

it('keeps nothing of a connection gone with pipelined requests still queued', async () => {
  // The server side of each connection, held weakly: it must be collectable once closed.
  const accepted: WeakRef<net.Socket>[] = [];
  const closed: Promise<unknown>[] = [];
  // Patched by hand: a jest spy would keep every socket in its record of calls.
  const emit = http.Server.prototype.emit;
  restore = () => {
    http.Server.prototype.emit = emit;
  };
  http.Server.prototype.emit = function (
    this: http.Server,
    event: string | symbol,
    ...args: unknown[]
  ) {
    if (event === 'connection') {
      const socket = args[0] as net.Socket;
      accepted.push(new WeakRef(socket));
      closed.push(once(socket, 'close'));
    }
    return Reflect.apply(emit, this, [event, ...args]) as boolean;
  };
  const renders: (() => void)[] = [];
  server = createProbeServer({
    probes: { ready: () => ({ ok: true }) },
    metrics: {
      contentType: 'text/plain',
      render: () => new Promise<string>((resolve) => renders.push(() => resolve('up 1\n'))),
    },
    logger: captureLogs().logger,
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = server.address()?.port ?? 0;

  const CONNECTIONS = 20;
  for (let i = 0; i < CONNECTIONS; i++) {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    // Three requests at once: the first is being answered, two wait behind it.
    client.write(REQUEST.repeat(3));
    while (renders.length <= i) await new Promise((resolve) => setImmediate(resolve));
    client.destroy();
  }
  await Promise.all(closed);
  for (const render of renders) render();
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();

  expect(accepted).toHaveLength(CONNECTIONS);
  expect(accepted.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
});
