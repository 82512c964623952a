/**
 * The ops listener listens on every address for Prometheus, so anyone in the cluster can
 * open connections to it: however many they hold, the data listeners and the probes must
 * go on being served. The built CLI as a child process, against the real simulator.
 */
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { OPS_MAX_CONNECTIONS } from '../../src/ops/server';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { call } from '../support/http';
import { rawExchange } from '../support/net';
import { startSimulator } from '../support/simulator';

/** The child's open files: few enough for a test to exhaust, many more than the ops cap. */
const FILE_LIMIT = OPS_MAX_CONNECTIONS + 200;

it('connections held open on the ops port never starve the data listener or the probes', async () => {
  const { sim } = await startSimulator();
  const proxy = ChildProxy.start(['run'], aliceEnv(sim.url, { SHUTDOWN_DELAY_SECONDS: '0' }));
  const held: net.Socket[] = [];
  try {
    const listening = await proxy.waitForEvent('listening');
    const dataPort = (listening.listeners as { port: number }[])[0].port;
    const opsPort = (listening.ops as { port: number }).port;
    await proxy.waitForEvent('token_minted');
    execFileSync('prlimit', [`--pid=${proxy.child.pid}`, `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`]);

    // More clients than the process has files, each stuck in the middle of its headers.
    const connected = Array.from({ length: FILE_LIMIT + 100 }, () => {
      const socket = net.connect(opsPort, '127.0.0.1');
      held.push(socket);
      socket.on('error', () => undefined);
      return new Promise<void>((resolve) => {
        socket.once('connect', () => {
          socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ');
          resolve();
        });
        socket.once('close', () => resolve());
      });
    });
    await Promise.all(connected);

    // Taken after every one of them, from the same accept queue: the kubelet's probe.
    const live = await rawExchange(
      opsPort,
      'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(live.status).toBe(200);
    const data = await call(dataPort, { path: '/API/whoami' }).then(
      (reply) => reply.text,
      (err: Error) => err.message,
    );
    expect(data).toBe('alice');
  } finally {
    for (const socket of held) socket.destroy();
    proxy.kill();
    await proxy.exited;
    await sim.close();
  }
}, 60_000);
