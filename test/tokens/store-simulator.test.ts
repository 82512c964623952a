import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenStoreFor, type TokenService } from '../../src/app';
import type { SecretSource, TokenSettings, UserConfig } from '../../src/config/types';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator';
import type { MintFailureReason, TokenEvents, TokenStore } from '../../src/tokens/types';
import type { VidispineTransport } from '../../src/vidispine/transport';
import { whoami } from '../../src/vidispine/whoami';
import { ManualClock } from '../support/clock';
import { accessKey, configWith, password, userConfig } from '../support/config-fixtures';
import { recordTokenEvents, type TokenEventLog } from '../support/token-events';

/**
 * The store, the HTTP minter and the simulator together. Time is virtual: the store, the
 * minters and the simulator share one ManualClock, so an hour of renewals runs in a second.
 */

const dir = mkdtempSync(join(tmpdir(), 'vap-store-'));

interface World extends TokenEventLog {
  clock: ManualClock;
  sim: Simulator;
  tokens: TokenService;
  transport: VidispineTransport;
  store: TokenStore;
  /** GET /API/whoami with the user's current token, fed back to the store like the forwarder does. */
  use(user: string): Promise<number>;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    w.tokens.stop();
    await w.sim.close();
  }
});

function user(name: string, secret?: SecretSource, token: Partial<TokenSettings> = {}): UserConfig {
  return userConfig(name, {
    credential: secret === undefined ? undefined : password(name, secret),
    token,
  });
}

/** The kinds of server the suite runs against (see describe.each below). */
let server: SimulatorOptions = {};

async function world(users: UserConfig[], simOptions: SimulatorOptions = {}): Promise<World> {
  const clock = new ManualClock(Date.now());
  const sim = createSimulator({ ...server, ...simOptions, now: clock.now });
  await sim.listen(0, '127.0.0.1');
  const config = configWith({
    url: sim.url,
    admin: { username: 'admin', password: 'admin' },
    mintTimeoutSeconds: 5,
  });
  const tokens = createTokenStoreFor({ ...config, users }, { clock, random: () => 0.5 });
  const { store, transport } = tokens;
  const w: World = {
    ...recordTokenEvents(store),
    clock,
    sim,
    tokens,
    transport,
    store,
    async use(name) {
      const lease = store.current(name) ?? (await store.get(name));
      const sentAt = clock.now();
      const answer = await transport.get(
        '/API/whoami',
        { Authorization: `token ${lease.value}`, Accept: 'text/plain' },
        AbortSignal.timeout(5000),
      );
      if (answer.status !== 401) store.answered(name, lease.value, sentAt, answer.status);
      // The forwarder waits for the verdict before it replays or passes the 401 on.
      else await store.rejected(name, lease.value, sentAt);
      return answer.status;
    },
  };
  worlds.push(w);
  return w;
}

/**
 * Every server a deployment may meet: with and without GET /API/token (VidiCore 4.11 has only
 * the per-user endpoint), refusing or silently capping a lifetime above userTokenMaxInterval.
 */
describe.each([
  ['GET /API/token, above the cap refused', { tokenEndpoint: true, aboveMax: 'reject' }],
  ['GET /API/token, above the cap shortened', { tokenEndpoint: true, aboveMax: 'cap' }],
  ['no GET /API/token, above the cap refused', { tokenEndpoint: false, aboveMax: 'reject' }],
  ['no GET /API/token, above the cap shortened', { tokenEndpoint: false, aboveMax: 'cap' }],
] as const)('%s', (_name, options) => {
  beforeAll(() => {
    server = options;
  });
  /** Where own-credential mints are counted on this server. */
  const own = (): 'token' | 'user_token' => (options.tokenEndpoint ? 'token' : 'user_token');

  it('makes exactly one mint call per user for 10,000 concurrent first requests', async () => {
    const w = await world([
      user('alice', { kind: 'literal', value: 'alice-password' }),
      user('bob'),
      user('runas', { kind: 'literal', value: 'runas-password' }),
    ]);
    const names = ['alice', 'bob', 'runas'];
    const leases = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => w.store.get(names[i % 3])),
    );
    expect(w.sim.calls({ endpoint: own(), user: 'alice' })).toBe(1);
    expect(w.sim.calls({ endpoint: 'user_token', user: 'bob' })).toBe(1);
    expect(w.sim.calls({ endpoint: own(), user: 'runas' })).toBe(1);
    const endpoints = new Set([own(), 'user_token' as const]);
    expect([...endpoints].reduce((n, endpoint) => n + w.sim.calls({ endpoint }), 0)).toBe(3);
    for (const name of names) {
      expect(new Set(leases.filter((l) => l.user === name).map((l) => l.value)).size).toBe(1);
      expect(
        await whoami(
          w.transport,
          (w.store.current(name) as { value: string }).value,
          AbortSignal.timeout(5000),
        ),
      ).toBe(name);
    }
  });

  it.each([
    ['own credentials', user('alice', { kind: 'literal', value: 'alice-password' })],
    ['admin-minted', user('bob')],
  ])('renew mode (%s): always holds a token Vidispine accepts, for an hour', async (_label, u) => {
    const w = await world([u]);
    w.store.start();
    await w.next('minted');
    for (let second = 0; second < 3600; second += 5) {
      const mintsBefore = w.names().filter((name) => name === 'minted').length;
      await w.clock.advance(5_000);
      // A renewal started by this step may still be on its way over the socket.
      const minted = w.names().filter((name) => name === 'minted').length > mintsBefore;
      if (w.store.current(u.name) === undefined && !minted) await w.next('minted');
      expect(await w.use(u.name)).toBe(200);
    }
    // One mint every 38.5 s (70 % of the 55 s a 60 s token is usable), never more.
    const calls = w.sim.calls({ endpoint: u.credential ? own() : 'user_token', user: u.name });
    expect(calls).toBeGreaterThanOrEqual(3600 / 38.5);
    expect(calls).toBeLessThanOrEqual(3600 / 38.5 + 2);
    expect(w.events.filter((e) => e.name !== 'minted')).toEqual([]);
  });

  it.each([
    [
      'own credentials',
      user('alice', { kind: 'literal', value: 'alice-password' }, { autoRefresh: true }),
    ],
    ['admin-minted', user('bob', undefined, { autoRefresh: true })],
  ])(
    'autoRefresh (%s): traffic keeps one token alive; idle, it is renewed before it dies',
    async (_label, u) => {
      const w = await world([u]);
      const endpoint = u.credential ? own() : 'user_token';
      const first = await w.store.get(u.name);
      for (let i = 0; i < 600; i++) {
        await w.clock.advance(1_000);
        expect(await w.use(u.name)).toBe(200);
      }
      expect(w.sim.calls({ endpoint })).toBe(1);
      expect(w.store.current(u.name)?.value).toBe(first.value);
      // The simulator agrees the token lives on, and our model is not later than its expiry.
      const simExpiry = w.sim.tokenInfo(first.value)?.expiresAt ?? 0;
      expect(w.store.status()[0].expiresAt).toBeLessThanOrEqual(simExpiry);
      expect(simExpiry).toBeGreaterThan(w.clock.now() + 45_000);

      // Idle: a new token arrives while the old one is still valid at the server.
      const minted = w.next('minted');
      await w.clock.advance(60_000);
      await minted;
      expect(w.sim.calls({ endpoint })).toBe(2);
      expect(await w.use(u.name)).toBe(200);
    },
  );

  it('recovers from each token endpoint failure class with backoff, keeping the token meanwhile', async () => {
    const w = await world([user('alice', { kind: 'literal', value: 'alice-password' })]);
    const first = await w.store.get('alice');
    for (const fault of [
      { kind: 'status', status: 500 },
      { kind: 'empty' },
      { kind: 'drop' },
    ] as const) {
      // A mint dropped on a kept connection is sent once more, on a new one: drop both.
      w.sim.failTokenEndpoints(fault, { times: fault.kind === 'drop' ? 2 : 1 });
      const failed = w.next('mintFailed');
      await w.clock.advance(42_000);
      expect((await failed).retryInMs).toBe(875);
      expect(w.store.current('alice')).toBeDefined();
      const minted = w.next('minted');
      await w.clock.advance(875);
      await minted;
      expect(await w.use('alice')).toBe(200);
    }
    expect(
      w.events
        .filter((e) => e.name === 'mintFailed')
        .map((e) => (e.payload as TokenEvents['mintFailed']).reason),
    ).toEqual(['server_error', 'empty_token', 'network']);
    expect(w.store.current('alice')?.value).not.toBe(first.value);
  });

  it('renews through a kept connection Vidispine drops as the mint arrives: one mint, no failure', async () => {
    const w = await world([user('alice', { kind: 'literal', value: 'alice-password' })]);
    await w.store.get('alice');
    // The renewal goes out on the connection the first mint left open, which Vidispine drops.
    w.sim.failTokenEndpoints({ kind: 'drop' }, { times: 1 });
    const outcome = Promise.race([
      w.next('minted').then(() => 'minted'),
      w.next('mintFailed').then(() => 'mintFailed'),
    ]);
    await w.clock.advance(42_000);
    expect(await outcome).toBe('minted');
    expect(w.events.filter((e) => e.name === 'mintFailed')).toEqual([]);
    expect(w.events.filter((e) => e.name === 'minted')).toHaveLength(2);
    expect(await w.use('alice')).toBe(200);
  });

  it('picks up a rotated secret file without a restart', async () => {
    const path = join(dir, 'alice-password');
    writeFileSync(path, 'alice-password\n');
    const w = await world([user('alice', { kind: 'file', path })]);
    await w.store.get('alice');
    w.sim.setUserPassword('alice', 'new-password');
    const failed = w.next('mintFailed');
    await w.clock.advance(42_000);
    // A credentials problem starts at 8 s, capped at half the 13 s the token has left, less jitter.
    expect(await failed).toMatchObject({ reason: 'unauthorized', retryInMs: 5_688 });
    expect(w.store.current('alice')).toBeDefined();
    writeFileSync(path, 'new-password\n');
    const minted = w.next('minted');
    await w.clock.advance(5_688);
    await minted;
    expect(await w.use('alice')).toBe(200);
  });

  it('answers 409 for a disabled user with user_disabled and no token', async () => {
    const w = await world([user('bob')]);
    w.sim.setUserDisabled('bob', true);
    await expect(w.store.get('bob')).rejects.toMatchObject({
      reason: 'user_disabled',
      retryAfterSeconds: 7,
    });
    expect(w.store.status()[0]).toMatchObject({
      state: 'pending',
      lastError: { reason: 'user_disabled' },
    });
  });

  it('after a server restart lost every token, a 401 leads to exactly one new token', async () => {
    const w = await world([user('alice', { kind: 'literal', value: 'alice-password' })]);
    const first = await w.store.get('alice');
    w.sim.revokeAllTokens();
    const statuses = await Promise.all(Array.from({ length: 50 }, () => w.use('alice')));
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
    await w.clock.advance(0);
    const second = await w.store.get('alice');
    expect(second.value).not.toBe(first.value);
    expect(w.sim.calls({ endpoint: own() })).toBe(2);
    expect(await w.use('alice')).toBe(200);
  });

  it('learns a silently capped lifetime and stops hitting 401', async () => {
    const w = await world(
      [user('alice', { kind: 'literal', value: 'alice-password' }, { seconds: 600 })],
      {
        maxSeconds: 60,
        aboveMax: 'cap',
      },
    );
    await w.store.get('alice');
    let unauthorized = 0;
    for (let i = 0; i < 120; i++) {
      await w.clock.advance(10_000);
      if ((await w.use('alice')) === 401) unauthorized += 1;
    }
    // Taken at 50 s, refused at 60 s: 50 s is what is known to be within the cap.
    const learned = w.events.find((e) => e.name === 'lifetimeLearned');
    expect(learned?.payload).toEqual({
      user: 'alice',
      configuredSeconds: 600,
      observedSeconds: 50,
    });
    expect(unauthorized).toBe(2);
    expect(w.store.status()[0].effectiveSeconds).toBe(50);
  });

  it('a lifetime learned from two revocations at the same age is re-tested and grows back', async () => {
    const w = await world([user('alice', { kind: 'literal', value: 'alice-password' })]);
    for (let i = 0; i < 2; i++) {
      const lease = await w.store.get('alice');
      await w.clock.advance(19_000);
      expect(await w.use('alice')).toBe(200);
      await w.clock.advance(1_000);
      w.sim.revokeToken(lease.value);
      expect(await w.use('alice')).toBe(401);
      await w.clock.advance(0);
    }
    // Taken at 19 s, refused at 20 s. The margin shrinks with the lifetime: 5 s of 60 s,
    // 1.9 s (10 %) of 19 s.
    expect(w.store.status()[0]).toMatchObject({ effectiveSeconds: 19, marginSeconds: 1.9 });
    // Vidispine keeps tokens their 60 s from now on; a client calls every 5 s for ten minutes.
    const perMinute: number[] = [];
    for (let minute = 0; minute < 10; minute++) {
      const before = w.sim.calls({ endpoint: own() });
      for (let i = 0; i < 12; i++) {
        await w.clock.advance(5_000);
        expect(await w.use('alice')).toBe(200);
      }
      perMinute.push(w.sim.calls({ endpoint: own() }) - before);
    }
    expect(w.events.some((e) => e.name === 'lifetimeRestored')).toBe(true);
    expect(w.store.status()[0]).toMatchObject({ effectiveSeconds: 60, marginSeconds: 5 });
    // At 20 s the proxy mints ~4 a minute; back at 60 s, one or two.
    expect(perMinute[0]).toBeLessThanOrEqual(4);
    expect(Math.max(...perMinute.slice(1))).toBeLessThanOrEqual(2);
  });
});

describe('a token endpoint that answers slowly', () => {
  beforeAll(() => {
    server = {};
  });

  it('reports the token expired when it stops being usable, while its renewal is still under way', async () => {
    const w = await world([user('alice', { kind: 'literal', value: 'alice-password' })]);
    const first = await w.store.get('alice');
    // The renewal at 38.5 s takes 3 s of real time, while the store's clock runs on to 56 s,
    // past the token's last usable instant (55 s).
    w.sim.failTokenEndpoints({ kind: 'delay', ms: 3_000 }, { times: 1 });
    await w.clock.advanceTo(first.usableUntil - 16_500);
    expect(w.sim.calls({ endpoint: 'token' })).toBe(2);
    await w.clock.advanceTo(first.usableUntil + 1_000);
    expect(w.names()).toEqual(['minted', 'expired']);
    await w.next('minted');
    expect(w.names()).toEqual(['minted', 'expired', 'minted']);
  });
});

describe('a server that caps lifetimes at 12 s', () => {
  beforeAll(() => {
    server = { defaultSeconds: 12, maxSeconds: 12, aboveMax: 'cap' };
  });

  it('renews a learned 11 s lifetime while the token is usable: no expiry, ever', async () => {
    // Asked for 60 s (margin 5 s), granted 12 s: with the margin of the configured lifetime,
    // every renewal was due exactly when the token stopped being usable.
    const w = await world([
      user('alice', { kind: 'literal', value: 'alice-password' }, { seconds: 60 }),
    ]);
    w.store.start();
    await w.next('minted');
    while (!w.names().includes('lifetimeLearned')) {
      await w.clock.advance(1_000);
      await w.use('alice');
    }
    // The token that taught it died: its replacement is on its way over the socket.
    await w.store.get('alice');
    const learnedAt = w.events.length;
    // Ten idle minutes, then ten busy ones.
    for (let second = 0; second < 1200; second++) {
      await w.clock.advance(1_000);
      expect(w.store.status()[0].state).toBe('valid');
      expect(w.store.current('alice')).toBeDefined();
      if (second >= 600) expect(await w.use('alice')).toBe(200);
    }
    // Taken at 11 s, refused at 12 s.
    expect(w.store.status()[0]).toMatchObject({ effectiveSeconds: 11, state: 'valid' });
    const after = w.events.slice(learnedAt).map((e) => e.name);
    expect(after.filter((name) => name !== 'minted' && name !== 'checked')).toEqual([]);
    // 70 % of the 9.9 s an 11 s token is usable (margin 1.1 s): one mint every 6.93 s.
    const mints = after.filter((name) => name === 'minted').length;
    expect(mints).toBeGreaterThanOrEqual(Math.floor(1200 / 6.93));
    expect(mints).toBeLessThanOrEqual(Math.ceil(1200 / 6.93) + 1);
  });
});

describe('a server that answers a refused RunAs with 401', () => {
  beforeAll(() => {
    server = { refusedRunAsStatus: 401 };
  });

  it("counts a push a 401 that was the request's own may have made", async () => {
    const w = await world([
      user('alice', { kind: 'literal', value: 'alice-password' }, { autoRefresh: true }),
    ]);
    const { value } = await w.store.get('alice');
    const t0 = w.clock.now();
    // alice may not run as bob: Vidispine takes her token, pushes its expiry if it may, and
    // refuses the request with a 401 that the check finds to be the request's own.
    const runAsBob = async (): Promise<void> => {
      const sentAt = w.clock.now();
      const answer = await w.transport.get(
        '/API/whoami',
        { Authorization: `token ${value}`, RunAs: 'bob', Accept: 'text/plain' },
        AbortSignal.timeout(5000),
      );
      expect(answer.status).toBe(401);
      await expect(w.store.rejected('alice', value, sentAt)).resolves.toBe('pass');
    };
    // At 9.5 s, before any push, the check finds the token alive; at 10 s Vidispine pushes
    // the expiry to 70 s, and the 401, less than a second after that check, passes unchecked.
    await w.clock.advance(9_500);
    await runAsBob();
    await w.clock.advance(500);
    await runAsBob();
    // At 19.9 s, less than the interval after that push, Vidispine pushes nothing.
    await w.clock.advanceTo(t0 + 19_900);
    expect(await w.use('alice')).toBe(200);
    expect(w.sim.tokenInfo(value)?.expiresAt).toBe(t0 + 70_000);
    expect(w.store.status()[0].expiresAt).toBe(t0 + 70_000);
  });
});
describe('a Vidispine that answers 404 to everything while it starts', () => {
  beforeAll(() => {
    server = {};
  });

  it('keeps asking GET /API/token until the per-user endpoint answers: the user gets a token once it is up', async () => {
    // Vidispine knows him as bob, by his access key: GET /API/token mints for whoever the key
    // belongs to; GET /API/user/Bob/token asks for another user's token, which only an
    // administrator may.
    const w = await world([
      userConfig('Bob', {
        credential: accessKey('Bob', 'VSIDB0BACCESSKEY0001', 'bob-access-key'),
      }),
    ]);
    w.sim.failTokenEndpoints({ kind: 'status', status: 404 }, { forMs: 60_000 });
    const reasons = await failuresBeforeToken(w, 'Bob', 20);
    expect(reasons).toEqual(expect.arrayContaining(['not_found']));
    expect(reasons.filter((reason) => reason !== 'not_found')).toEqual([]);
    // Each failed mint asked both endpoints; the one that worked, GET /API/token alone.
    expect(w.sim.calls({ endpoint: 'user_token' })).toBe(reasons.length);
    expect(w.sim.calls({ endpoint: 'token' })).toBe(reasons.length + 1);
    expect(await w.use('Bob')).toBe(200);
    expect(w.store.status()[0].endpoint).toBe('token');
  });
});

/**
 * Starts the store and lets it retry, as its backoff says, until a mint brings `name` a
 * token: the reason of each failure before it (at most `tries`).
 */
async function failuresBeforeToken(
  w: World,
  name: string,
  tries: number,
): Promise<MintFailureReason[]> {
  const reasons: MintFailureReason[] = [];
  let outcome = nextMint(w.store);
  w.store.start();
  for (let failure = await outcome; failure !== undefined; failure = await outcome) {
    reasons.push(failure.reason);
    if (reasons.length === tries) break;
    outcome = nextMint(w.store);
    await w.clock.advance(failure.retryInMs);
  }
  if (w.store.current(name) === undefined) {
    throw new Error(`no token for ${name} after ${tries} failed mints: ${reasons.join(', ')}`);
  }
  return reasons;
}

/** The next mint's failure, or undefined when it brought a token. */
function nextMint(store: TokenStore): Promise<TokenEvents['mintFailed'] | undefined> {
  return new Promise((resolve) => {
    const done = (failure?: TokenEvents['mintFailed']) => {
      store.off('minted', minted);
      store.off('mintFailed', done);
      resolve(failure);
    };
    const minted = () => done();
    store.on('minted', minted);
    store.on('mintFailed', done);
  });
}

describe('a server that caps lifetimes at 60 s, used every 10 s', () => {
  beforeAll(() => {
    server = { maxSeconds: 60, aboveMax: 'cap' };
  });

  it('learns a lifetime no longer than the cap, so the modelled expiry stays at or before the server’s', async () => {
    const w = await world([
      user('alice', { kind: 'literal', value: 'alice-password' }, { seconds: 600 }),
    ]);
    // Requests every 10 s, 5 s off the mint: the first 401 of each token comes at 65 s.
    await w.store.get('alice');
    await w.clock.advance(5_000);
    while (!w.names().includes('lifetimeLearned')) {
      await w.clock.advance(10_000);
      await w.use('alice');
    }
    const lease = await w.store.get('alice');
    const learned = w.events.find((e) => e.name === 'lifetimeLearned');
    expect(
      (learned?.payload as TokenEvents['lifetimeLearned']).observedSeconds,
    ).toBeLessThanOrEqual(60);
    const [status] = w.store.status();
    expect(status.expiresAt).toBeLessThanOrEqual(w.sim.tokenInfo(lease.value)?.expiresAt ?? 0);
  });
});

describe('a server whose cap of 60 s is raised at run time (600 s configured, used every 10 s)', () => {
  const MINUTE = 60_000;
  const HOUR = 60 * MINUTE;
  beforeAll(() => {
    server = { maxSeconds: 60, aboveMax: 'cap' };
  });

  /**
   * The client's requests every 10 s for `ms`: the mints they and the renewals took, and the
   * 401s of dead tokens (which the forwarder would send again with a new one).
   */
  async function traffic(w: World, ms: number): Promise<{ mints: number; dead: number }> {
    const before = w.sim.calls({ endpoint: 'token' });
    let dead = 0;
    for (let t = 0; t < ms; t += 10_000) {
      await w.clock.advance(10_000);
      if ((await w.use('alice')) === 401) dead += 1;
    }
    return { mints: w.sim.calls({ endpoint: 'token' }) - before, dead };
  }

  async function learned(): Promise<World> {
    const w = await world([
      user('alice', { kind: 'literal', value: 'alice-password' }, { seconds: 600 }),
    ]);
    await w.store.get('alice');
    while (!w.names().includes('lifetimeLearned')) {
      await w.clock.advance(10_000);
      await w.use('alice');
    }
    return w;
  }

  /** When the configured lifetime comes back, on the store's clock. */
  function restoredAt(w: World): () => number | undefined {
    let at: number | undefined;
    w.store.on('lifetimeRestored', () => (at ??= w.clock.now()));
    return () => at;
  }

  it('goes back to the configured lifetime at the first re-test once the cap is lifted', async () => {
    const w = await learned();
    w.sim.setMaxSeconds(600);
    const liftedAt = w.clock.now();
    const restored = restoredAt(w);
    expect(await traffic(w, 5 * MINUTE)).toMatchObject({ dead: 0 });
    expect((restored() ?? Infinity) - liftedAt).toBeLessThanOrEqual(3 * MINUTE);
    expect(w.store.status()[0].effectiveSeconds).toBe(600);
    // 600 s tokens renewed at ~70 % of 595 s: 8 or 9 mints an hour.
    expect((await traffic(w, HOUR)).mints).toBeLessThanOrEqual(9);
  });

  it('keeps re-testing while the cap stays, so a cap lifted hours later is noticed within about an hour', async () => {
    const w = await learned();
    // Re-tests 1, 2, 4 … 32 min apart fail while the cap holds; from then on one an hour.
    const capped = await traffic(w, 3 * HOUR);
    expect(capped.dead).toBe(0);
    expect(w.names().filter((n) => n.startsWith('lifetime'))).toEqual(['lifetimeLearned']);
    expect(w.store.status()[0].effectiveSeconds).toBe(50);
    w.sim.setMaxSeconds(600);
    const liftedAt = w.clock.now();
    const restored = restoredAt(w);
    expect(await traffic(w, 65 * MINUTE)).toMatchObject({ dead: 0 });
    // At most the hour between two re-tests, a renewal and the age the re-test waits for.
    expect((restored() ?? Infinity) - liftedAt).toBeLessThanOrEqual(65 * MINUTE);
    // ~115 mints an hour on the learned 50 s; 8 or 9 on the configured 600 s again.
    expect(capped.mints / 3).toBeGreaterThan(100);
    expect((await traffic(w, HOUR)).mints).toBeLessThanOrEqual(9);
  });

  it('learns a cap raised part of the way (60 → 90 s) anew, where the 50 s learned under 60 s held for good', async () => {
    const w = await learned();
    expect(await traffic(w, HOUR)).toMatchObject({ dead: 0 });
    w.sim.setMaxSeconds(90);
    // Back to 600 s at the next re-test, then two tokens that die at 90 s teach the new cap.
    expect(await traffic(w, 65 * MINUTE)).toMatchObject({ dead: 2 });
    expect(w.names().filter((n) => n.startsWith('lifetime'))).toEqual([
      'lifetimeLearned',
      'lifetimeRestored',
      'lifetimeLearned',
    ]);
    const { effectiveSeconds } = w.store.status()[0];
    expect(effectiveSeconds).toBeGreaterThanOrEqual(80);
    expect(effectiveSeconds).toBeLessThan(90);
    // ~115 mints an hour on 50 s tokens; about 70 on 80 s ones.
    const after = await traffic(w, HOUR);
    expect(after.dead).toBe(0);
    expect(after.mints).toBeLessThanOrEqual(75);
  });
});
