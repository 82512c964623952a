import type { Simulator } from '../../src/simulator';
import { startSimulator, type SimulatorHandle } from '../support/simulator';
import type { ManualClock } from '../support/clock';
import { basic, tokenAuth, type Reply } from '../support/http';
import { rawExchange } from '../support/net';

describe('authentication of /API calls', () => {
  let sim: Simulator;
  let clock: ManualClock;
  let get: SimulatorHandle['get'];
  let mint: SimulatorHandle['mint'];

  beforeEach(async () => {
    ({ sim, clock, get, mint } = await startSimulator());
  });
  afterEach(() => sim.close());

  const whoami = (authorization?: string, extra: Record<string, string> = {}): Promise<Reply> =>
    get('/API/whoami', { headers: { ...(authorization ? { authorization } : {}), ...extra } });

  it('accepts a token and answers the user', async () => {
    const t = await mint('alice', 'alice-password');
    const r = await whoami(tokenAuth(t));
    expect(r.status).toBe(200);
    expect(r.text).toBe('alice');
  });

  it('accepts Basic with a password, or an access key sent with its ID', async () => {
    expect((await whoami(basic('bob', 'bob-password'))).text).toBe('bob');
    expect((await whoami(basic('VSIDB0BACCESSKEY0001', 'bob-access-key'))).text).toBe('bob');
    // The key's secret under the user's name is not how Vidispine takes a key.
    expect((await whoami(basic('bob', 'bob-access-key'))).status).toBe(401);
  });

  it('refuses an inactive access key and takes it again once it is active', async () => {
    const key = basic('VSIDB0BACCESSKEY0001', 'bob-access-key');
    sim.setAccessKeyStatus('VSIDB0BACCESSKEY0001', 'INACTIVE');
    expect((await whoami(key)).status).toBe(401);
    expect((await whoami(basic('bob', 'bob-password'))).status).toBe(200);
    sim.setAccessKeyStatus('VSIDB0BACCESSKEY0001', 'ACTIVE');
    expect((await whoami(key)).text).toBe('bob');
    expect(() => sim.setAccessKeyStatus('VSIDNOSUCHKEY0000000', 'ACTIVE')).toThrow(/VSIDNOSUCH/);
  });

  it('401 + Basic challenge for no credentials, unknown and malformed tokens', async () => {
    for (const auth of [undefined, tokenAuth('not-a-token'), 'token', 'Basic ???']) {
      const r = await whoami(auth);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Basic realm="[^"]+"$/);
      expect(r.text).toMatch(/^[^\n]+\n$/);
    }
  });

  it('takes a token only as Vidispine documents it: "token", one space, the token', async () => {
    const t = await mint('alice', 'alice-password');
    for (const auth of [`Token ${t}`, `TOKEN ${t}`, `token  ${t}`, `token\t${t}`]) {
      const r = await whoami(auth);
      expect(r.status).toBe(401);
      expect(r.text).toBe('malformed token credentials: expected "token <token>"\n');
    }
    expect((await whoami(tokenAuth(t))).text).toBe('alice');
  });

  it('answers a request head too large with 431, an unparseable one with 400', async () => {
    const port = Number(new URL(sim.url).port);
    const big = await rawExchange(
      port,
      `GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(big.status).toBe(431);
    expect(big.closed).toBe(true);
    expect((await rawExchange(port, 'GET /API/whoami HTTP/9\r\n\r\n')).status).toBe(400);
  });

  it('a plain token dies exactly seconds after creation, however much it is used', async () => {
    const t = await mint('alice', 'alice-password', '?seconds=60');
    const start = clock.now();
    for (const at of [8_000, 16_000, 40_000, 59_999]) {
      await clock.advanceTo(start + at);
      expect((await whoami(tokenAuth(t))).status).toBe(200);
    }
    await clock.advanceTo(start + 60_000);
    expect((await whoami(tokenAuth(t))).status).toBe(401);
  });

  it('autoRefresh: used at 8 s it still dies at 60 s', async () => {
    const t = await mint('alice', 'alice-password', '?seconds=60&autoRefresh=true');
    const start = clock.now();
    await clock.advanceTo(start + 8_000);
    expect((await whoami(tokenAuth(t))).status).toBe(200);
    expect(sim.tokenInfo(t)?.expiresAt).toBe(start + 60_000);
    await clock.advanceTo(start + 60_000);
    expect((await whoami(tokenAuth(t))).status).toBe(401);
  });

  it('autoRefresh: used at 16 s it dies at 76 s', async () => {
    const t = await mint('alice', 'alice-password', '?seconds=60&autoRefresh=true');
    const start = clock.now();
    await clock.advanceTo(start + 16_000);
    expect((await whoami(tokenAuth(t))).status).toBe(200);
    expect(sim.tokenInfo(t)?.expiresAt).toBe(start + 76_000);
    await clock.advanceTo(start + 75_999);
    expect(sim.tokenInfo(t)?.expiresAt).toBe(start + 76_000);
    await clock.advanceTo(start + 76_000);
    expect((await whoami(tokenAuth(t))).status).toBe(401);
  });

  it('autoRefresh honours a configured refresh interval', async () => {
    await sim.close();
    ({ sim, clock, get, mint } = await startSimulator({ refreshIntervalSeconds: 30 }));
    const t = await mint('alice', 'alice-password', '?seconds=60&autoRefresh=true');
    const start = clock.now();
    await clock.advanceTo(start + 20_000);
    await whoami(tokenAuth(t));
    expect(sim.tokenInfo(t)?.expiresAt).toBe(start + 60_000);
    await clock.advanceTo(start + 30_000);
    await whoami(tokenAuth(t));
    expect(sim.tokenInfo(t)?.expiresAt).toBe(start + 90_000);
  });

  it('a failed call does not push an autoRefresh token', async () => {
    const t = await mint('alice', 'alice-password', '?autoRefresh=true');
    const start = clock.now();
    await clock.advanceTo(start + 60_000);
    expect((await whoami(tokenAuth(t))).status).toBe(401);
    expect(sim.tokenInfo(t)?.expiresAt).toBe(start + 60_000);
  });

  it('advanceClock moves the simulator clock on top of the injected one', async () => {
    const t = await mint('alice', 'alice-password');
    sim.advanceClock(59_999);
    expect((await whoami(tokenAuth(t))).status).toBe(200);
    sim.advanceClock(1);
    expect(sim.now()).toBe(clock.now() + 60_000);
    expect((await whoami(tokenAuth(t))).status).toBe(401);
  });

  it('revokeAllTokens and revokeToken make tokens unknown', async () => {
    const a = await mint('alice', 'alice-password');
    const b = await mint('bob', 'bob-password');
    sim.revokeToken(a);
    expect((await whoami(tokenAuth(a))).status).toBe(401);
    expect((await whoami(tokenAuth(b))).status).toBe(200);
    sim.revokeAllTokens();
    expect(sim.tokenCount()).toBe(0);
    expect((await whoami(tokenAuth(b))).status).toBe(401);
  });

  it('a disabled user can no longer use its token or Basic credentials', async () => {
    const t = await mint('alice', 'alice-password');
    sim.setUserDisabled('alice', true);
    expect((await whoami(tokenAuth(t))).status).toBe(401);
    expect((await whoami(basic('alice', 'alice-password'))).status).toBe(401);
    expect(
      (await get('/API/token', { headers: { authorization: basic('alice', 'alice-password') } }))
        .status,
    ).toBe(409);
    sim.setUserDisabled('alice', false);
    expect((await whoami(tokenAuth(t))).status).toBe(200);
  });

  it('password rotation: the old password fails, the new one works, tokens stay valid', async () => {
    const t = await mint('alice', 'alice-password');
    sim.setUserPassword('alice', 'rotated');
    expect((await whoami(basic('alice', 'alice-password'))).status).toBe(401);
    expect((await whoami(basic('alice', 'rotated'))).status).toBe(200);
    expect((await whoami(tokenAuth(t))).status).toBe(200);
    expect(() => sim.setUserPassword('nobody', 'x')).toThrow(/nobody/);
  });

  it('RunAs: admin and _runas callers act as the named user; others get 403', async () => {
    expect((await whoami(basic('admin', 'admin'), { runas: 'alice' })).text).toBe('alice');
    const runas = await mint('runas', 'runas-password');
    expect((await whoami(tokenAuth(runas), { runas: 'bob' })).text).toBe('bob');
    const denied = await whoami(basic('alice', 'alice-password'), { runas: 'bob' });
    expect(denied.status).toBe(403);
    expect((await whoami(basic('admin', 'admin'), { runas: 'nobody' })).status).toBe(403);
  });

  it('RunAs: _runas lends no administrator rights, and a list limits whom it may run as', async () => {
    const runas = basic('runas', 'runas-password');
    expect((await whoami(runas, { runas: 'admin' })).status).toBe(403);
    expect((await whoami(basic('admin', 'admin'), { runas: 'runas' })).text).toBe('runas');
    await sim.close();
    ({ sim, clock, get, mint } = await startSimulator({
      users: [
        { name: 'svc', password: 'svc-pw', roles: ['_runas'], runAsUsers: ['alice'] },
        { name: 'alice', password: 'a' },
        { name: 'bob', password: 'b' },
      ],
      refusedRunAsStatus: 401,
    }));
    expect((await whoami(basic('svc', 'svc-pw'), { runas: 'alice' })).text).toBe('alice');
    const refused = await whoami(basic('svc', 'svc-pw'), { runas: 'bob' });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await whoami(basic('alice', 'a'), { runas: 'bob' })).status).toBe(401);
  });

  it('Reason: names what was refused when switched on, and only then', async () => {
    expect((await whoami(tokenAuth('gone'))).headers.reason).toBeUndefined();
    await sim.close();
    ({ sim, clock, get, mint } = await startSimulator({ reasonHeader: true }));
    expect((await whoami(tokenAuth('gone'))).headers.reason).toBe('Token was not found: gone');
    expect((await whoami(basic('nobody', 'x'))).headers.reason).toBe('User was not found: nobody');
    expect((await whoami(basic('alice', 'x'))).headers.reason).toBe(
      'Bad credentials for user alice',
    );
    const refused = await whoami(basic('alice', 'alice-password'), { runas: 'bob' });
    expect(refused.headers.reason).toMatch(/RunAs needs the _administrator or _runas role/);
    expect((await whoami(basic('alice', 'alice-password'))).headers.reason).toBeUndefined();
    // A disabled user passes Shiro (its token requests get 409): the refusal is not Shiro's.
    const t = await mint('alice', 'alice-password');
    sim.setUserDisabled('alice', true);
    for (const authorization of [basic('alice', 'alice-password'), tokenAuth(t)]) {
      const disabled = await whoami(authorization);
      expect(disabled.status).toBe(401);
      expect(disabled.headers.reason).toBeUndefined();
    }
  });

  it('/APInoauth/is-online (GET and HEAD) and /APInoauth/selftest need no credentials', async () => {
    const r = await get('/APInoauth/is-online');
    expect(r.status).toBe(200);
    expect(r.text).toBe('true');
    const head = await get('/APInoauth/is-online', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const selftest = await get('/APInoauth/selftest');
    expect(selftest.status).toBe(200);
    expect(JSON.parse(selftest.text)).toMatchObject({ status: 'ok' });
    expect((await get('/APInoauth/is-online', { method: 'POST' })).status).toBe(405);
  });

  it('/APIinit/ and /APIdoc/ answer without credentials; other paths there are 404', async () => {
    const init = await get('/APIinit/');
    expect(init.status).toBe(200);
    expect(JSON.parse(init.text)).toEqual({ initialized: true });
    const doc = await get('/APIdoc/');
    expect(doc.status).toBe(200);
    expect(doc.headers['content-type']).toMatch(/^text\/html/);
    expect((await get('/APIdoc/', { method: 'HEAD' })).text).toBe('');
    expect((await get('/APIdoc/', { method: 'DELETE' })).status).toBe(405);
    expect((await get('/APIinit/nothing')).status).toBe(404);
    expect(sim.calls({ endpoint: 'noauth' })).toBe(5);
  });

  it('a front end without a backend answers 503 No server available to every /API path', async () => {
    sim.setBackendAvailable(false);
    const paths = [
      '/API/token',
      '/API/whoami',
      '/API',
      '/APInoauth/is-online',
      '/APInoauth/import/raw?passkey=demo-upload-passkey',
      '/APIinit/',
      '/APIdoc/',
      '/APIWS/x',
      '/APIanything',
    ];
    for (const path of paths) {
      const r = await get(path, { headers: { authorization: basic('alice', 'alice-password') } });
      expect([path, r.status, r.text]).toEqual([path, 503, 'No server available\n']);
      expect(r.headers['content-length']).toBe('20');
    }
    expect((await get('/elsewhere')).status).toBe(404);
    sim.setBackendAvailable(true);
    expect((await get('/APInoauth/is-online')).status).toBe(200);
  });

  it('checks credentials before anything else: unknown resources are 401 without, 404 with', async () => {
    expect((await get('/API/nothing-here')).status).toBe(401);
    expect(
      (await get('/API/nothing-here', { headers: { authorization: basic('admin', 'admin') } }))
        .status,
    ).toBe(404);
    expect((await get('/elsewhere')).status).toBe(404);
  });
});
