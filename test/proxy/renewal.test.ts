/** Short-lived tokens under continuous load: renewal and sliding expiry stay invisible. */
import * as http from 'node:http';
import { call } from '../support/http';
import { startHarness, type Harness } from '../support/app';

const LIFETIME_SECONDS = 3;
/** Traffic runs until alice's token has been renewed this often (about 2 s apart). */
const RENEWALS = 3;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    simulator: { refreshIntervalSeconds: 1 },
    users: [
      { name: 'alice', token: { seconds: LIFETIME_SECONDS, safetyMarginSeconds: 0.5 } },
      {
        name: 'bob',
        token: {
          seconds: LIFETIME_SECONDS,
          autoRefresh: true,
          serverRefreshIntervalSeconds: 1,
          safetyMarginSeconds: 0.5,
        },
      },
    ],
  });
});
afterAll(() => h.close());

async function traffic(
  port: number,
  user: string,
  running: () => boolean,
): Promise<Map<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const statuses = new Map<number, number>();
  const loop = async (): Promise<void> => {
    while (running()) {
      const reply = await call(port, { path: '/API/whoami', agent });
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status === 200) expect(reply.text).toBe(user);
    }
  };
  await Promise.all(Array.from({ length: 4 }, loop));
  agent.destroy();
  return statuses;
}

/** Resolves once Vidispine has minted `count` tokens for `user`. */
function minted(user: string, count: number): Promise<void> {
  const enough = (): boolean => h.sim.calls({ endpoint: 'token', user }) >= count;
  return new Promise((resolve) => {
    if (enough()) resolve();
    h.store.on('minted', (e) => {
      if (e.user === user && enough()) resolve();
    });
  });
}

it(`keeps ${LIFETIME_SECONDS} s tokens (renewed and autoRefresh) invisible to clients`, async () => {
  // Several lifetimes of traffic: bob's sliding token must live on through it alone.
  let running = true;
  const renewed = minted('alice', 1 + RENEWALS).then(() => (running = false));
  const [alice, bob] = await Promise.all([
    traffic(h.portOf('alice'), 'alice', () => running),
    traffic(h.portOf('bob'), 'bob', () => running),
    renewed,
  ]);
  expect([...alice.keys()]).toEqual([200]);
  expect([...bob.keys()]).toEqual([200]);
  // Renew mode needs a new token every lifetime; a sliding token may live on.
  expect(h.sim.calls({ endpoint: 'token', user: 'alice' })).toBeGreaterThanOrEqual(1 + RENEWALS);
  expect(h.sim.calls({ endpoint: 'token', user: 'bob' })).toBeGreaterThanOrEqual(1);
}, 20_000);
