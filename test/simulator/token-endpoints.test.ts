import type { Simulator } from '../../src/simulator';
import { DEFAULT_USERS } from '../../src/simulator';
import { startSimulator, type SimulatorHandle, type SimulatorRequest } from '../support/simulator';
import type { ManualClock } from '../support/clock';
import { basic, tokenAuth } from '../support/http';

describe('token endpoints', () => {
  let sim: Simulator;
  let clock: ManualClock;
  let get: SimulatorHandle['get'];

  beforeAll(async () => {
    ({ sim, clock, get } = await startSimulator({
      users: [
        ...DEFAULT_USERS,
        { name: 'dora', password: 'dora-password', disabled: true },
        { name: 'root2', password: 'r', roles: ['_administrator'], disabled: true },
      ],
    }));
  });
  afterAll(() => sim.close());

  const asUser = (user: string, secret: string, accept?: string): SimulatorRequest => ({
    headers: { authorization: basic(user, secret), ...(accept ? { accept } : {}) },
  });

  it('mints a text/plain token with the password, valid for the default 60 s', async () => {
    const r = await get('/API/token', asUser('alice', 'alice-password'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.text).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(sim.tokenInfo(r.text)).toEqual({
      user: 'alice',
      expiresAt: clock.now() + 60_000,
      autoRefresh: false,
      seconds: 60,
    });
  });

  it('accepts an access key (its ID and secret) instead of the password', async () => {
    const r = await get('/API/token', asUser('VSIDB0BACCESSKEY0001', 'bob-access-key'));
    expect(r.status).toBe(200);
    expect(sim.tokenInfo(r.text)?.user).toBe('bob');
    const own = await get('/API/user/bob/token', asUser('VSIDB0BACCESSKEY0001', 'bob-access-key'));
    expect(sim.tokenInfo(own.text)?.user).toBe('bob');
  });

  it('issues distinct, random tokens', async () => {
    const values = new Set<string>();
    for (let i = 0; i < 20; i++)
      values.add((await get('/API/token', asUser('alice', 'alice-password'))).text);
    expect(values.size).toBe(20);
  });

  it('answers JSON and XML on /API/token per Accept', async () => {
    const json = await get('/API/token', asUser('alice', 'alice-password', 'application/json'));
    expect(json.headers['content-type']).toBe('application/json');
    const doc = JSON.parse(json.text) as { token: string; user: string };
    expect(doc.user).toBe('alice');
    expect(sim.tokenInfo(doc.token)?.user).toBe('alice');

    const xml = await get('/API/token', asUser('alice', 'alice-password', 'application/xml'));
    expect(xml.headers['content-type']).toBe('application/xml');
    const m =
      /<AuthenticationTokenDocument[^>]*><token>([^<]+)<\/token><user>alice<\/user><\/AuthenticationTokenDocument>/.exec(
        xml.text,
      );
    expect(m).not.toBeNull();
    expect(sim.tokenInfo(m?.[1] ?? '')?.user).toBe('alice');
  });

  it('answers text/plain for */* and 406 for nothing acceptable', async () => {
    expect(
      (await get('/API/token', asUser('alice', 'alice-password', '*/*'))).headers['content-type'],
    ).toMatch(/^text\/plain/);
    const r = await get('/API/token', asUser('alice', 'alice-password', 'text/html'));
    expect(r.status).toBe(406);
  });

  it('/API/user/{u}/token serves text/plain only', async () => {
    const ok = await get('/API/user/alice/token', asUser('admin', 'admin', 'text/plain'));
    expect(ok.status).toBe(200);
    expect(sim.tokenInfo(ok.text)?.user).toBe('alice');
    const json = await get('/API/user/alice/token', asUser('admin', 'admin', 'application/json'));
    expect(json.status).toBe(406);
  });

  it('lets a user mint its own token on /API/user/{self}/token', async () => {
    const r = await get('/API/user/alice/token', asUser('alice', 'alice-password'));
    expect(r.status).toBe(200);
    expect(sim.tokenInfo(r.text)?.user).toBe('alice');
  });

  it('403 when a non-admin asks for another user', async () => {
    const r = await get('/API/user/bob/token', asUser('alice', 'alice-password'));
    expect(r.status).toBe(403);
    expect(r.text.trim()).not.toContain('\n');
  });

  it('401 with a challenge for bad credentials, unknown users, no credentials', async () => {
    for (const opts of [
      asUser('alice', 'wrong'),
      asUser('nobody', 'x'),
      asUser('bob', 'bob-password-not'),
      {},
    ]) {
      const r = await get('/API/token', opts);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Basic realm="[^"]+"$/);
    }
  });

  it.each([
    'Basic',
    'Basic %%%',
    `Basic ${Buffer.from('nocolon').toString('base64')}`,
    'Negotiate abc',
  ])('malformed Authorization %j → 401 with a one-line reason', async (authorization) => {
    const r = await get('/API/token', { headers: { authorization } });
    expect(r.status).toBe(401);
    expect(r.text).toMatch(/^[^\n]+\n$/);
  });

  it('409 for a disabled user, on either endpoint', async () => {
    expect((await get('/API/token', asUser('dora', 'dora-password'))).status).toBe(409);
    expect((await get('/API/user/dora/token', asUser('admin', 'admin'))).status).toBe(409);
    expect((await get('/API/user/alice/token', asUser('root2', 'r'))).status).toBe(409);
  });

  it('404 when an admin asks for an unknown user', async () => {
    expect((await get('/API/user/nobody/token', asUser('admin', 'admin'))).status).toBe(404);
  });

  it.each([
    ['-5', 400],
    ['0', 400],
    ['abc', 404],
    ['2.5', 404],
  ])('seconds=%j → %s with a one-line reason', async (s, status) => {
    const r = await get(`/API/token?seconds=${s}`, asUser('alice', 'alice-password'));
    expect(r.status).toBe(status);
    expect(r.text).toMatch(/^seconds [^\n]+\n$/);
  });

  it('seconds= (empty) is the server default, as Jersey takes a blank parameter', async () => {
    const r = await get('/API/token?seconds=', asUser('alice', 'alice-password'));
    expect(sim.tokenInfo(r.text)).toMatchObject({ seconds: 60 });
  });

  it.each([
    ['TRUE', true],
    ['yes', false],
    ['1', false],
    ['', false],
    ['maybe', false],
  ])('autoRefresh=%j → a token with autoRefresh %s (Boolean.valueOf)', async (raw, value) => {
    const r = await get(`/API/token?autoRefresh=${raw}`, asUser('alice', 'alice-password'));
    expect(r.status).toBe(200);
    expect(sim.tokenInfo(r.text)).toMatchObject({ autoRefresh: value });
  });

  it.each(['/API/token', '/API/user/alice/token'])(
    'HEAD %s runs the GET without its body: a token is minted, none is sent',
    async (path) => {
      const before = sim.calls({ endpoint: path === '/API/token' ? 'token' : 'user_token' });
      const r = await get(path, { ...asUser('alice', 'alice-password'), method: 'HEAD' });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/plain/);
      expect(r.headers['content-length']).toBe('32');
      expect(r.text).toBe('');
      expect(sim.calls({ endpoint: path === '/API/token' ? 'token' : 'user_token' })).toBe(
        before + 1,
      );
    },
  );

  it('honours seconds and autoRefresh', async () => {
    const r = await get(
      '/API/token?seconds=30&autoRefresh=true',
      asUser('alice', 'alice-password'),
    );
    expect(sim.tokenInfo(r.text)).toMatchObject({
      seconds: 30,
      autoRefresh: true,
      expiresAt: clock.now() + 30_000,
    });
  });

  it('rejects a non-admin above the maximum with 400; admins may exceed it', async () => {
    const r = await get('/API/token?seconds=61', asUser('alice', 'alice-password'));
    expect(r.status).toBe(400);
    expect(r.text).toContain('userTokenMaxInterval');
    const a = await get('/API/token?seconds=86400', asUser('admin', 'admin'));
    expect(sim.tokenInfo(a.text)?.seconds).toBe(86400);
    const forAlice = await get('/API/user/alice/token?seconds=3600', asUser('admin', 'admin'));
    expect(sim.tokenInfo(forAlice.text)).toMatchObject({ user: 'alice', seconds: 3600 });
  });

  it('mints for the RunAs user when the caller may run as others', async () => {
    const r = await get('/API/token', {
      headers: { authorization: basic('runas', 'runas-password'), runas: 'bob' },
    });
    expect(r.status).toBe(200);
    expect(sim.tokenInfo(r.text)?.user).toBe('bob');
    const denied = await get('/API/token', {
      headers: { authorization: basic('alice', 'alice-password'), runas: 'bob' },
    });
    expect(denied.status).toBe(403);
    const perUser = await get('/API/user/bob/token', {
      headers: { authorization: basic('runas', 'runas-password'), runas: 'bob' },
    });
    expect(sim.tokenInfo(perUser.text)?.user).toBe('bob');
    const disabled = await get('/API/token', {
      headers: { authorization: basic('runas', 'runas-password'), runas: 'dora' },
    });
    expect(disabled.status).toBe(409);
  });

  it('a token authenticates a token request as its owner', async () => {
    const t = (await get('/API/token', asUser('alice', 'alice-password'))).text;
    const r = await get('/API/token', { headers: { authorization: tokenAuth(t) } });
    expect(sim.tokenInfo(r.text)?.user).toBe('alice');
  });

  it('405 for a method other than GET and HEAD', async () => {
    const r = await get('/API/token', { ...asUser('alice', 'alice-password'), method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });
});

describe('token endpoints with aboveMax=cap', () => {
  it('silently issues a token of the maximum lifetime', async () => {
    const { sim, get } = await startSimulator({ aboveMax: 'cap', maxSeconds: 120 });
    try {
      const r = await get('/API/token?seconds=3600', {
        headers: { authorization: basic('alice', 'alice-password') },
      });
      expect(r.status).toBe(200);
      expect(sim.tokenInfo(r.text)?.seconds).toBe(120);
    } finally {
      await sim.close();
    }
  });
});

describe('token endpoints without GET /API/token (VidiCore 4.11)', () => {
  it('answers 404 there and still mints on /API/user/{self}/token', async () => {
    const { sim, get } = await startSimulator({ tokenEndpoint: false });
    try {
      const alice = { headers: { authorization: basic('alice', 'alice-password') } };
      expect((await get('/API/token', alice)).status).toBe(404);
      const own = await get('/API/user/alice/token', alice);
      expect(own.status).toBe(200);
      expect(sim.tokenInfo(own.text)?.user).toBe('alice');
      expect(sim.calls({ endpoint: 'token' })).toBe(0);
    } finally {
      await sim.close();
    }
  });
});
