/**
 * A start that fails exits 1 whatever signals arrived meanwhile: a SIGTERM received while a
 * listener is still binding must not turn the failed bind into a clean exit 0.
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
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
