import { startSimulator, type SimulatorHandle } from '../support/simulator';
import { basic, call, tokenAuth } from '../support/http';

describe('HTTP control surface', () => {
  it('is absent unless enabled', async () => {
    const { sim, get } = await startSimulator();
    try {
      expect((await get('/__sim/stats')).status).toBe(404);
      expect((await get('/__sim/tokens/revoke-all', { method: 'POST' })).status).toBe(404);
    } finally {
      await sim.close();
    }
  });

  describe('when enabled', () => {
    const setup = async (): Promise<SimulatorHandle> => startSimulator({ controlPath: true });
    const post = (base: string, path: string, body?: unknown): ReturnType<typeof call> =>
      call(base, {
        path,
        method: 'POST',
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    it('counts calls, resets them, reports stats', async () => {
      const { sim, get, mint } = await setup();
      try {
        await mint('alice', 'alice-password');
        await mint('bob', 'bob-password');
        const count = await get('/__sim/calls?endpoint=token&user=alice');
        expect(JSON.parse(count.text)).toEqual({ count: 1 });
        expect(JSON.parse((await get('/__sim/calls')).text)).toEqual({ count: 2 });
        // The form the README shows: empty values filter nothing.
        expect(JSON.parse((await get('/__sim/calls?endpoint=&user=')).text)).toEqual({ count: 2 });
        expect(JSON.parse((await get('/__sim/calls?user=')).text)).toEqual({ count: 2 });
        expect((await get('/__sim/calls?endpoint=bogus')).status).toBe(400);
        expect((await post(sim.url, '/__sim/calls/reset')).status).toBe(204);
        expect(sim.calls()).toBe(0);
        const stats = JSON.parse((await get('/__sim/stats')).text) as Record<string, number>;
        expect(stats).toMatchObject({ tokens: 2, inFlightRequests: 1, openConnections: 1 });
      } finally {
        await sim.close();
      }
    });

    it('sets and heals faults, validating the body', async () => {
      const { sim, get, mint } = await setup();
      try {
        expect(
          (
            await post(sim.url, '/__sim/faults', {
              fault: { kind: 'status', status: 503 },
              times: 1,
            })
          ).status,
        ).toBe(204);
        expect(
          (
            await get('/API/token', {
              headers: { authorization: basic('alice', 'alice-password') },
            })
          ).status,
        ).toBe(503);
        await mint('alice', 'alice-password');
        await post(sim.url, '/__sim/faults', { fault: { kind: 'empty' } });
        expect(
          (
            await get('/API/token', {
              headers: { authorization: basic('alice', 'alice-password') },
            })
          ).text,
        ).toBe('');
        expect((await get('/__sim/faults', { method: 'DELETE' })).status).toBe(204);
        await mint('alice', 'alice-password');

        const bad = await post(sim.url, '/__sim/faults', {
          fault: { kind: 'status', status: 'x' },
        });
        expect(bad.status).toBe(400);
        expect(bad.text).toMatch(/^[^\n]+\n$/);
        expect((await post(sim.url, '/__sim/faults', { fault: { kind: 'explode' } })).status).toBe(
          400,
        );
        // Node would fire a longer timer after 1 ms.
        const tooLong = await post(sim.url, '/__sim/faults', {
          fault: { kind: 'delay', ms: 2 ** 31 },
        });
        expect(tooLong.status).toBe(400);
        expect(tooLong.text).toMatch(/^[^\n]*fault\.ms[^\n]*\n$/);
        expect(
          (await post(sim.url, '/__sim/faults', { fault: { kind: 'delay', ms: 2 ** 31 - 1 } }))
            .status,
        ).toBe(204);
        expect((await get('/__sim/faults', { method: 'DELETE' })).status).toBe(204);
        const notJson = await call(sim.url, { path: '/__sim/faults', method: 'POST', body: '{' });
        expect(notJson.status).toBe(400);
      } finally {
        await sim.close();
      }
    });

    it('advances the clock, revokes tokens, changes users', async () => {
      const { sim, get, mint, clock } = await setup();
      try {
        const t = await mint('alice', 'alice-password');
        const whoami = (authorization: string): ReturnType<typeof get> =>
          get('/API/whoami', { headers: { authorization } });
        expect(JSON.parse((await get('/__sim/clock')).text)).toEqual({ now: clock.now() });
        const moved = await post(sim.url, '/__sim/clock', { advanceMs: 60_000 });
        expect(JSON.parse(moved.text)).toEqual({ now: clock.now() + 60_000 });
        expect((await whoami(tokenAuth(t))).status).toBe(401);
        await post(sim.url, '/__sim/clock', { advanceMs: -60_000 });
        expect((await whoami(tokenAuth(t))).status).toBe(200);

        const info = await post(sim.url, '/__sim/tokens/info', { token: t });
        expect(JSON.parse(info.text)).toMatchObject({ user: 'alice', seconds: 60 });
        await post(sim.url, '/__sim/tokens/revoke', { token: t });
        expect((await whoami(tokenAuth(t))).status).toBe(401);
        const u = await mint('bob', 'bob-password');
        await post(sim.url, '/__sim/tokens/revoke-all');
        expect((await whoami(tokenAuth(u))).status).toBe(401);

        await post(sim.url, '/__sim/users/alice', { password: 'new-secret' });
        expect((await whoami(basic('alice', 'new-secret'))).status).toBe(200);
        await post(sim.url, '/__sim/users/alice', { disabled: true });
        expect(
          (await get('/API/token', { headers: { authorization: basic('alice', 'new-secret') } }))
            .status,
        ).toBe(409);
        expect((await post(sim.url, '/__sim/users/nobody', { disabled: true })).status).toBe(400);
      } finally {
        await sim.close();
      }
    });

    it('changes userTokenMaxInterval at run time, for tokens issued from then on', async () => {
      const { sim, mint } = await startSimulator({ controlPath: true, aboveMax: 'cap' });
      try {
        const info = async (token: string): Promise<unknown> =>
          JSON.parse((await post(sim.url, '/__sim/tokens/info', { token })).text);
        const capped = await mint('alice', 'alice-password', '?seconds=600');
        expect(await info(capped)).toMatchObject({ seconds: 60 });
        expect((await post(sim.url, '/__sim/lifetime', { maxSeconds: 600 })).status).toBe(204);
        const lifted = await mint('alice', 'alice-password', '?seconds=600');
        expect(await info(lifted)).toMatchObject({ seconds: 600 });
        expect(await info(capped)).toMatchObject({ seconds: 60 });
        expect((await post(sim.url, '/__sim/lifetime', { maxSeconds: 0 })).status).toBe(400);
        expect((await post(sim.url, '/__sim/lifetime', { maxSeconds: '60' })).status).toBe(400);
      } finally {
        await sim.close();
      }
    });

    it('switches access keys and the backend', async () => {
      const { sim, get } = await setup();
      try {
        const key = { headers: { authorization: basic('VSIDB0BACCESSKEY0001', 'bob-access-key') } };
        const off = await post(sim.url, '/__sim/keys/VSIDB0BACCESSKEY0001', { status: 'INACTIVE' });
        expect(off.status).toBe(204);
        expect((await get('/API/whoami', key)).status).toBe(401);
        await post(sim.url, '/__sim/keys/VSIDB0BACCESSKEY0001', { status: 'ACTIVE' });
        expect((await get('/API/whoami', key)).text).toBe('bob');
        expect((await post(sim.url, '/__sim/keys/VSIDB0B', { status: 'ACTIVE' })).status).toBe(400);

        expect((await post(sim.url, '/__sim/backend', { available: false })).status).toBe(204);
        expect((await get('/API/whoami', key)).status).toBe(503);
        await post(sim.url, '/__sim/backend', { available: true });
        expect((await get('/API/whoami', key)).status).toBe(200);
      } finally {
        await sim.close();
      }
    });
  });
});
