/** Short-lived tokens under continuous load: renewal and sliding expiry stay invisible. */
import * as http from 'node:http';
import { call } from '../support/http';
import { startHarness, type Harness } from '../support/app';

const LIFETIME_SECONDS = 3;
const TRAFFIC_MS = 8_000;

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

async function traffic(port: number, user: string, until: number): Promise<Map<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const statuses = new Map<number, number>();
  const loop = async (): Promise<void> => {
    while (Date.now() < until) {
      const reply = await call(port, { path: '/API/whoami', agent });
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status === 200) expect(reply.text).toBe(user);
    }
  };
  await Promise.all(Array.from({ length: 4 }, loop));
  agent.destroy();
  return statuses;
}

it(`keeps ${LIFETIME_SECONDS} s tokens (renewed and autoRefresh) invisible to clients`, async () => {
  const until = Date.now() + TRAFFIC_MS;
  const [alice, bob] = await Promise.all([
    traffic(h.portOf('alice'), 'alice', until),
    traffic(h.portOf('bob'), 'bob', until),
  ]);
  expect([...alice.keys()]).toEqual([200]);
  expect([...bob.keys()]).toEqual([200]);
  expect(alice.get(200)).toBeGreaterThan(100);
  // Renew mode needs a new token every lifetime; a sliding token may live on.
  expect(h.sim.calls({ endpoint: 'token', user: 'alice' })).toBeGreaterThanOrEqual(
    Math.floor(TRAFFIC_MS / (LIFETIME_SECONDS * 1000)),
  );
  expect(h.sim.calls({ endpoint: 'token', user: 'bob' })).toBeGreaterThanOrEqual(1);
}, 20_000);
