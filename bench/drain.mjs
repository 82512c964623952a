// The cost of closing idle connections while the data listener drains (`npm run
// bench:drain`, or `node bench/drain.mjs [--connections 1000,4000] [--spread]` after `npm run
// build`). N keep-alive connections each have a request being answered when the listener
// closes; then every answer ends, all in one turn of the event loop (with --spread, one per
// turn). Each connection closes once its answer is out. Measured in one process, wired as
// the data listener wires it:
//   drain   the proxy's `ConnectionDrain` (dist/proxy/drain.js): its passes over the
//           connections, how many, the time they took, and the time until the last
//           connection closed
//   node    Node's own `server.closeIdleConnections()` at every answer's end (which may cut
//           an answer's tail: see src/idle-close.ts): the same figures
// Prints one JSON line per run.
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import { optionsOrExit, parseCommandLine, wholeNumbers } from './lib/options.mjs';

const options = optionsOrExit('bench:drain', () => {
  const values = parseCommandLine(process.argv.slice(2), {
    connections: { type: 'string', default: '1000,4000' },
    spread: { type: 'boolean', default: false },
  });
  return { connections: wholeNumbers(values.connections, 'connections'), spread: values.spread };
});
// Once the options hold: dist/ is built by `npm run bench:drain`.
const { betweenRequests } = await import('../dist/idle-close.js');
const { ConnectionDrain } = await import('../dist/proxy/drain.js');
const { Pipelines } = await import('../dist/proxy/pipeline.js');

/** A server whose answers wait to be ended, closing idle connections the `way` given. */
function serverFor(way, passes) {
  const held = [];
  const connections = new Set();
  const timed = (pass) => () => {
    const started = process.hrtime.bigint();
    pass();
    passes.push(Number(process.hrtime.bigint() - started) / 1e6);
  };
  let server;
  if (way === 'drain') {
    const drain = new ConnectionDrain(new Pipelines(), () => betweenRequests(server, connections));
    const closeIdle = drain.closeIdle.bind(drain);
    drain.closeIdle = timed(closeIdle);
    server = http.createServer({ ServerResponse: drain.responseClass() }, (_req, res) => {
      drain.received(res);
      held.push(res);
    });
    server.closeIdleConnections = () => drain.closeIdle();
    server.listenerClosed = () => drain.listenerClosed();
  } else {
    server = http.createServer((_req, res) => {
      res.once('finish', () => {
        if (!server.listening) server.closeIdleConnections();
      });
      held.push(res);
    });
    const own = server.closeIdleConnections.bind(server);
    server.closeIdleConnections = timed(own);
    server.listenerClosed = () => undefined;
  }
  server.on('connection', (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  return { server, held };
}

async function run(way, count, spread) {
  const passes = [];
  const { server, held } = serverFor(way, passes);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const clients = [];
  for (let i = 0; i < count; i++) {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    client.resume();
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    clients.push(once(client, 'close'));
  }
  while (held.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
  const closed = new Promise((resolve) => server.close(resolve));
  server.listenerClosed();
  passes.length = 0;
  const started = process.hrtime.bigint();
  if (spread) {
    for (const res of held) {
      res.end('ok');
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    for (const res of held) res.end('ok');
  }
  await Promise.all(clients);
  await closed;
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const passMs = passes.reduce((a, b) => a + b, 0);
  return {
    way,
    connections: count,
    endings: spread ? 'one per turn' : 'one turn',
    passes: passes.length,
    passMs: Math.round(passMs * 10) / 10,
    wallMs: Math.round(wallMs),
  };
}

for (const count of options.connections) {
  for (const way of ['drain', 'node']) {
    console.log(JSON.stringify(await run(way, count, options.spread)));
  }
}
