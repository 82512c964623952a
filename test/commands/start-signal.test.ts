/**
 * A start that fails exits 1 whatever signals arrived meanwhile: a SIGTERM received while a
 * listener is still binding must not turn the failed bind into a clean exit 0. A signal that
 * comes while the configuration file is still being read ends the process at once, before
 * anything listens, as one during the read of a secret file does. One that comes while the
 * first mint still waits for Vidispine is the shutdown sequence's: the drain, exit 0.
 */
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execveOf } from '../../src/ops/signals';
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { tempFolder } from '../support/files';
import { closedPort } from '../support/net';

let sim: Simulator;
let busy: Server;
let busyPort: number;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => busy.close(resolve));
});

/** The proxy with its data listener on `port`, held until SIGTERM, which is sent then. */
async function signalledWhileBinding(port: number): Promise<ChildProxy> {
  const proxy = ChildProxy.start(
    ['run'],
    aliceEnv(sim.url, {
      PROXY_LISTEN: `127.0.0.1:${port}`,
      SHUTDOWN_DELAY_SECONDS: '0',
      HOLD_LISTEN_PORT: String(port),
      NODE_OPTIONS: `--require ${join(__dirname, '..', 'support', 'hold-listen.cjs')}`,
    }),
  );
  await proxy.waitForEvent('test_listen_held');
  proxy.kill('SIGTERM');
  return proxy;
}

it('a SIGTERM while the data listener binds, the bind then failing: exit 1, not 0', async () => {
  const proxy = await signalledWhileBinding(busyPort);
  try {
    expect(await proxy.exited).toEqual({ code: 1, signal: null });
    expect(proxy.stderr).toBe(
      `vidispine-auth-proxy: PROXY_LISTEN: cannot listen on 127.0.0.1:${busyPort}: the address is already in use (EADDRINUSE)\n`,
    );
    expect(proxy.lines.find((l) => l.event === 'fatal')).toMatchObject({ exitCode: 1 });
    expect(proxy.lines.some((l) => l.event === 'shutdown' && l.step === 'exit')).toBe(false);
  } finally {
    proxy.kill();
  }
});

it('a SIGTERM while the data listener binds, the bind then succeeding: drained, exit 0', async () => {
  const proxy = await signalledWhileBinding(await closedPort());
  try {
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    // Readiness failed at the signal; the listeners closed only once they had opened.
    const listening = proxy.lines.findIndex((l) => l.event === 'listening');
    expect(listening).toBeGreaterThan(-1);
    expect(listening).toBeLessThan(proxy.lines.findIndex((l) => l.step === 'close_listeners'));
  } finally {
    proxy.kill();
  }
});

it.each(['SIGTERM', 'SIGINT'] as const)(
  'a %s while the configuration file is still being read, and stays unread, ends the process by it: nothing listened',
  async (signal) => {
    // A FIFO holds the proxy in its configuration read, before any server is built, while
    // nothing is written to it: opening its writing end waits until the proxy opened it.
    const config = tempFolder('start-signal').path('config');
    execFileSync('mkfifo', [config]);
    const proxy = ChildProxy.start(['run', '--config', config], { LOG_LEVEL: 'info' });
    const writer = await open(config, 'w');
    try {
      proxy.kill(signal);
      // The read has not come back (its volume may be stuck, and Node.js's exit would wait
      // for it): the signal itself ends the process, before anything was built.
      expect(await proxy.exited).toEqual({ code: null, signal });
      expect(proxy.stderr).toBe('');
      expect(proxy.lines).toEqual([]);
    } finally {
      await writer.close();
      proxy.kill();
    }
  },
);

// SIGQUIT's own action writes a core dump: the process's memory, passwords and tokens in it, on
// the node's disk wherever core dumps are kept. It ends the process without one: exit 131.
it('a SIGQUIT while the configuration file stays unread ends the process without a core dump', async () => {
  const config = tempFolder('start-signal').path('config');
  execFileSync('mkfifo', [config]);
  const proxy = ChildProxy.start(['run', '--config', config], { LOG_LEVEL: 'info' });
  const writer = await open(config, 'w');
  try {
    proxy.kill('SIGQUIT');
    // Without process.execve (Node.js before 22.15) nothing but a signal ends it: SIGTERM's.
    expect(await proxy.exited).toEqual(
      execveOf() === undefined ? { code: null, signal: 'SIGTERM' } : { code: 131, signal: null },
    );
    expect(proxy.stderr).toBe('');
    expect(proxy.lines).toEqual([]);
  } finally {
    await writer.close();
    proxy.kill();
  }
});

it.each(['SIGTERM', 'SIGINT'] as const)(
  'a %s while the first mint hangs at Vidispine: not ready at once, the waiting request gets 503, exit 0',
  async (signal) => {
    sim.failTokenEndpoints({ kind: 'delay', ms: 600_000 });
    const proxy = ChildProxy.start(
      ['run'],
      aliceEnv(sim.url, { SHUTDOWN_DELAY_SECONDS: '1', SHUTDOWN_DRAIN_SECONDS: '0.3' }),
    );
    try {
      const listening = await proxy.waitForEvent('listening');
      const ops = `http://127.0.0.1:${(listening.ops as { port: number }).port}`;
      const data = (listening.listeners as { port: number }[])[0].port;
      expect((await fetch(`${ops}/startupz`)).status).toBe(503);
      // A request that waits for the token the mint has not brought (sent before the signal,
      // it arrives during the delay at the latest, while the listener still accepts).
      const waiting = fetch(`http://127.0.0.1:${data}/API/whoami`);
      proxy.kill(signal);
      await proxy.waitFor((l) => l.event === 'shutdown' && l.step === 'begin');
      expect((await fetch(`${ops}/readyz`)).status).toBe(503);
      const answer = await waiting;
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.headers.get('connection')).toBe('close');
      expect(await proxy.exited).toEqual({ code: 0, signal: null });
      expect(proxy.lines.filter((l) => l.event === 'shutdown').map((l) => l.step)).toEqual([
        'begin',
        'close_listeners',
        'drain_timeout',
        'exit',
      ]);
    } finally {
      sim.healTokenEndpoints();
      proxy.kill();
    }
  },
);
