/**
 * Signals other than SIGTERM/SIGINT, sent to the real CLI: SIGUSR1 opens no debugger (the
 * Node.js inspector would listen on 127.0.0.1:9229, which every container of the pod
 * reaches), SIGHUP and SIGUSR2 end nothing; each is logged, and the proxy serves on and
 * still drains on SIGTERM.
 */
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { until } from '../support/wait';

let sim: Simulator;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

it('SIGUSR1, SIGHUP and SIGUSR2 are logged and ignored; SIGTERM still drains', async () => {
  const proxy = ChildProxy.start(['run'], aliceEnv(sim.url, { SHUTDOWN_DELAY_SECONDS: '0' }));
  try {
    const listening = await proxy.waitForEvent('listening');
    const data = (listening.listeners as { port: number }[])[0].port;
    const ops = (listening.ops as { port: number }).port;
    for (const signal of ['SIGUSR1', 'SIGHUP', 'SIGUSR2'] as const) {
      const logged = proxy.waitFor((l) => l.event === 'signal_ignored' && l.signal === signal);
      proxy.kill(signal);
      await logged;
      expect((await fetch(`http://127.0.0.1:${ops}/livez`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${data}/API/whoami`)).text()).toBe('alice');
    }
    // Node announces an inspector on stderr ("Debugger listening on ws://…").
    expect(proxy.stderr).not.toMatch(/Debugger listening/);
    proxy.kill('SIGTERM');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    expect(proxy.lines.some((l) => l.event === 'shutdown' && l.step === 'exit')).toBe(true);
  } finally {
    proxy.kill();
  }
});

// nginx's QUIT is its graceful stop: a request in flight is answered, then exit 0, as SIGTERM.
it('SIGQUIT drains like SIGTERM: a request in flight is answered, then exit 0', async () => {
  const proxy = ChildProxy.start(['run'], aliceEnv(sim.url, { SHUTDOWN_DELAY_SECONDS: '0' }));
  try {
    const listening = await proxy.waitForEvent('listening');
    const data = (listening.listeners as { port: number }[])[0].port;
    await proxy.waitForEvent('token_minted');
    const before = sim.calls({ endpoint: 'api' });
    const answer = fetch(`http://127.0.0.1:${data}/API/slow?ms=1500`);
    await until(() => sim.calls({ endpoint: 'api' }) > before);
    proxy.kill('SIGQUIT');
    await proxy.waitFor(
      (l) => l.event === 'shutdown' && l.step === 'begin' && l.signal === 'SIGQUIT',
    );
    const response = await answer;
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    const steps = proxy.lines.filter((l) => l.event === 'shutdown').map((l) => l.step);
    expect(steps).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
  } finally {
    proxy.kill();
  }
});
