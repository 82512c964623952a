/**
 * A step back of the proxy's wall clock (an NTP correction, `date -s`) moves no token's
 * expiry: lifetimes, renewals and the mint budget are counted on elapsed time. A jump forward
 * counts as time passed, as it may be a resume after a suspend. Vidispine's clock (the
 * simulator's) does not step.
 */
import { startApp } from '../support/app';
import { call } from '../support/http';

const HOUR = 3600_000;

afterEach(() => jest.restoreAllMocks());

it('replaces a token that died after the wall clock stepped back an hour at once, without a 503', async () => {
  const realNow = Date.now.bind(Date);
  let step = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + step);
  const r = await startApp({ simulator: { now: realNow } });
  try {
    expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
    step = -HOUR;
    r.sim.revokeAllTokens();

    const answer = await call(r.port(), { path: '/API/whoami' });
    expect([answer.status, answer.text]).toEqual([200, 'alice']);
    expect(
      await r.metric('vidispine_auth_proxy_upstream_unauthorized_total', {
        user: 'alice',
        retried: 'true',
      }),
    ).toBe(1);
    expect((await r.ops('/readyz')).status).toBe(200);
    // What is shown is read on the wall clock as it is now.
    const status = JSON.parse((await r.ops('/status')).text) as {
      users: { expiresInSeconds: number; expiresAt: string }[];
    };
    expect(status.users[0].expiresInSeconds).toBeGreaterThan(50);
    expect(status.users[0].expiresInSeconds).toBeLessThanOrEqual(60);
    expect(Date.parse(status.users[0].expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
  } finally {
    await r.close();
  }
});

it('counts the requests of the last minutes on elapsed time: a step back keeps none longer, a jump forward passes as time', async () => {
  const realNow = Date.now.bind(Date);
  let step = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + step);
  const r = await startApp({ simulator: { now: realNow } });
  try {
    for (let i = 0; i < 3; i++) {
      expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(200);
    }
    const counted = async () =>
      (JSON.parse((await r.ops('/status')).text) as { users: { requests: unknown }[] }).users[0]
        .requests;
    expect(await counted()).toEqual({ minutes: 5, requests: 3, errors: 0 });
    step = -HOUR;
    expect(await counted()).toEqual({ minutes: 5, requests: 3, errors: 0 });
    // Back where it was, and on an hour: as after a suspend of an hour, they are that old.
    step = HOUR;
    expect(await counted()).toEqual({ minutes: 5, requests: 0, errors: 0 });
  } finally {
    await r.close();
  }
});

it('uses no token that died while the machine was suspended: it is shown lapsed and replaced before any request, with no 401', async () => {
  const realNow = Date.now.bind(Date);
  let asleep = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + asleep);
  const r = await startApp({ simulator: { now: () => realNow() + asleep } });
  try {
    expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
    // An hour suspended: Vidispine's clock and the wall clock went on, the monotonic one did not.
    asleep = HOUR;
    expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(0);
    const answer = await call(r.port(), { path: '/API/whoami' });
    expect([answer.status, answer.text]).toEqual([200, 'alice']);
    expect(r.observer.unauthorized).toEqual([]);
    expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(1);
  } finally {
    await r.close();
  }
});
