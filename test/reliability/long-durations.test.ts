/**
 * Durations far beyond Node's timer limit (2^31 − 1 ms, 24.8 days), through the whole app
 * as a real child process (Node writes TimeoutOverflowWarning to its stderr): a year-long
 * administrator token is renewed once a renewal is due, not in a 1 ms loop.
 */
import { createSimulator } from '../../src/simulator';
import { ChildProxy } from '../support/child-proxy';

const YEAR = 365 * 24 * 3600;

it('a year-long token: one mint, no timer warnings, /status and / answer', async () => {
  const sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
  const proxy = ChildProxy.start(['run'], {
    VIDISPINE_URL: sim.url,
    VIDISPINE_USER: 'alice',
    VIDISPINE_ADMIN_USER: 'admin',
    VIDISPINE_ADMIN_PASSWORD: 'admin',
    TOKEN_SECONDS: String(YEAR),
    PROXY_LISTEN: '127.0.0.1:0',
    OPS_LISTEN: '127.0.0.1:0',
    SHUTDOWN_DELAY_SECONDS: '0',
  });
  try {
    const listening = await proxy.waitForEvent('listening');
    await proxy.waitForEvent('token_minted');
    const ops = listening.ops as { port: number };
    // A renewal timer that overflowed fires every millisecond from here on.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const status = await fetch(`http://127.0.0.1:${ops.port}/status`);
    expect(status.status).toBe(200);
    const body = (await status.json()) as { users: { expiresAt: string }[] };
    expect(Date.parse(body.users[0].expiresAt) - Date.now()).toBeGreaterThan((YEAR - 60) * 1000);
    expect((await fetch(`http://127.0.0.1:${ops.port}/`)).status).toBe(200);
    expect(sim.calls({ endpoint: 'user_token', user: 'alice' })).toBe(1);
    proxy.kill('SIGTERM');
    expect((await proxy.exited).code).toBe(0);
    expect(proxy.stderr).not.toContain('TimeoutOverflowWarning');
  } finally {
    proxy.kill();
    await sim.close();
  }
});
