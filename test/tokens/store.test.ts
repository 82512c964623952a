import type { TokenSettings, UserConfig } from '../../src/config/types';
import { CHECK_INTERVAL_MS, createTokenStore } from '../../src/tokens/store';
import { RUN_GAP_MS } from '../../src/tokens/user-slot';
import {
  MintError,
  NoTokenError,
  type TokenEvents,
  type TokenLease,
  type TokenStore,
} from '../../src/tokens/types';
import { FakeChecker } from '../support/fake-checker';
import { recordTokenEvents, type RecordedEvent } from '../support/token-events';
import { FakeMinter } from '../support/fake-minter';
import { ManualClock } from '../support/clock';
import { password, userConfig } from '../support/config-fixtures';

function user(name: string, token: Partial<TokenSettings> = {}): UserConfig {
  return userConfig(name, { credential: password(name, 'unused'), token });
}

interface Setup {
  clock: ManualClock;
  store: TokenStore;
  checker: FakeChecker;
  minter: (name: string) => FakeMinter;
  events: RecordedEvent[];
  draw: { value: number };
}

const stores: TokenStore[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.stop()));

function setup(users: UserConfig[], mode: 'auto' | 'manual' = 'auto'): Setup {
  const clock = new ManualClock();
  const draw = { value: 0.5 };
  const minters = new Map<string, FakeMinter>();
  const checker = new FakeChecker(clock);
  const store = createTokenStore({
    users,
    clock,
    checker,
    random: () => draw.value,
    minterFor: (u) => {
      const m = new FakeMinter(clock, u.token.seconds, u.credential ? 'token' : 'user_token', mode);
      minters.set(u.name, m);
      return m;
    },
  });
  stores.push(store);
  const { events } = recordTokenEvents(store);
  return { clock, store, checker, minter: (n) => minters.get(n) as FakeMinter, events, draw };
}

const names = (s: Setup) => s.events.map((e) => e.name);

describe('get() and current()', () => {
  it('shares one mint among 10,000 concurrent callers', async () => {
    const s = setup([user('alice'), user('bob')], 'manual');
    const gets = Array.from({ length: 10_000 }, (_, i) => s.store.get(i % 2 ? 'alice' : 'bob'));
    expect(s.minter('alice').calls).toBe(1);
    expect(s.minter('bob').calls).toBe(1);
    const a = s.minter('alice').succeed();
    const b = s.minter('bob').succeed();
    const leases = await Promise.all(gets);
    expect(new Set(leases.filter((l) => l.user === 'alice').map((l) => l.value))).toEqual(
      new Set([a]),
    );
    expect(new Set(leases.filter((l) => l.user === 'bob').map((l) => l.value))).toEqual(
      new Set([b]),
    );
    expect(s.minter('alice').calls).toBe(1);
  });

  it('answers current() synchronously once a token is held, with its usable limit', async () => {
    const s = setup([user('alice')]);
    expect(s.store.current('alice')).toBeUndefined();
    const lease = await s.store.get('alice');
    expect(s.store.current('alice')).toEqual(lease);
    expect(lease.usableUntil).toBe(s.clock.now() + 55_000);
    expect(s.store.current('nobody')).toBeUndefined();
  });

  it('rejects get() for an unknown user', async () => {
    const s = setup([user('alice')]);
    await expect(s.store.get('mallory')).rejects.toThrow('unknown user "mallory"');
  });

  it('lets one waiter abort without cancelling the shared mint', async () => {
    const s = setup([user('alice')], 'manual');
    const ac = new AbortController();
    const aborted = s.store.get('alice', ac.signal);
    const other = s.store.get('alice');
    ac.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    s.minter('alice').succeed();
    await expect(other).resolves.toMatchObject({ value: 'tok-1' });
  });

  it('reports the mint as an event with its duration and expiry', async () => {
    const s = setup([user('alice')], 'manual');
    const got = s.store.get('alice');
    const sentAt = s.clock.now();
    await s.clock.advance(250);
    s.minter('alice').succeed();
    await got;
    expect(s.events).toEqual([
      {
        name: 'minted',
        payload: {
          user: 'alice',
          endpoint: 'token',
          seconds: 60,
          durationSeconds: 0.25,
          expiresAt: sentAt + 60_000,
        },
      },
    ]);
  });
});

describe('renew mode', () => {
  it('renews at 70 % of the usable window and keeps serving the old token until the new one arrives', async () => {
    const s = setup([user('alice')], 'manual');
    s.store.start();
    const t0 = s.clock.now();
    const first = s.minter('alice').succeed();
    // 70 % of 60 s − 5 s.
    await s.clock.advance(38_499);
    expect(s.minter('alice').calls).toBe(1);
    await s.clock.advance(1);
    expect(s.minter('alice').calls).toBe(2);
    expect(s.store.current('alice')?.value).toBe(first);
    await expect(s.store.get('alice')).resolves.toMatchObject({ value: first });
    const second = s.minter('alice').succeed();
    await s.clock.advance(0);
    expect(s.store.current('alice')).toMatchObject({
      value: second,
      usableUntil: t0 + 38_500 + 55_000,
    });
  });

  it('jitters the renewal between 63 % and 77 %', async () => {
    for (const [draw, at] of [
      [0, 34_650],
      [0.999999, 42_350],
    ] as const) {
      const s = setup([user('alice')]);
      s.draw.value = draw;
      s.store.start();
      await s.clock.advance(at - 1);
      expect(s.minter('alice').calls).toBe(1);
      await s.clock.advance(1);
      expect(s.minter('alice').calls).toBe(2);
    }
  });

  it('renews a token whose margin is half its lifetime while it is usable: never an expiry', async () => {
    // 10 s tokens, 5 s margin: usable for 5 s, renewed at 3.5 s (the old cap said 5 s, the
    // very instant it stopped being usable, so every renewal began with an expiry).
    const s = setup([user('alice', { seconds: 10, safetyMarginSeconds: 5 })], 'manual');
    s.store.start();
    s.minter('alice').succeed();
    await s.clock.advance(3_499);
    expect(s.minter('alice').calls).toBe(1);
    await s.clock.advance(1);
    expect(s.minter('alice').calls).toBe(2);
    // Each mint takes 300 ms; an hour of renewals never leaves the user without a token.
    for (let ms = 0; ms < 3_600_000; ms += 100) {
      if (s.minter('alice').waiting > 0 && s.clock.now() % 300 === 0) s.minter('alice').succeed();
      await s.clock.advance(100);
      expect(s.store.current('alice')).toBeDefined();
    }
    expect(names(s)).not.toContain('expired');
    expect(s.store.status()[0].state).toBe('valid');
  });

  it('renews early enough for a mint as slow as the last one to arrive in time', async () => {
    // Usable for 5 s; the mint took 1.5 s: renewed at 2.5 s (half the window), not at 3.5 s.
    const s = setup([user('alice', { seconds: 10, safetyMarginSeconds: 5 })], 'manual');
    s.store.start();
    const t0 = s.clock.now();
    await s.clock.advance(1_500);
    s.minter('alice').succeed();
    await s.clock.advanceTo(t0 + 2_499);
    expect(s.minter('alice').calls).toBe(1);
    await s.clock.advanceTo(t0 + 2_500);
    expect(s.minter('alice').calls).toBe(2);
    await s.clock.advance(1_500);
    s.minter('alice').succeed();
    await s.clock.advance(0);
    expect(s.store.current('alice')).toBeDefined();
    expect(names(s)).not.toContain('expired');
  });

  it('keeps running: one mint per renewal period over an hour', async () => {
    const s = setup([user('alice')]);
    s.store.start();
    for (let i = 0; i < 3600; i++) {
      await s.clock.advance(1000);
      expect(s.store.current('alice')).toBeDefined();
    }
    expect(s.minter('alice').calls).toBe(Math.floor(3600 / 38.5) + 1);
  });
});

describe('failures and backoff', () => {
  it('keeps the current token while renewal fails, retries with backoff, then stops handing it out', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    s.store.start();
    await s.clock.advance(0);
    const token = s.store.current('alice')?.value;
    const t0 = s.clock.now();
    s.minter('alice').failNext(...Array<'server_error'>(20).fill('server_error'));
    // Renewal at 63 % of 55 s (34.65 s); retries after 1, 2, 4 s, then capped at half of
    // what is left.
    await s.clock.advanceTo(t0 + 34_650);
    const attempts: number[] = [];
    let seen = s.minter('alice').calls;
    while (s.clock.now() < t0 + 55_000) {
      await s.clock.advance(100);
      if (s.minter('alice').calls !== seen) {
        seen = s.minter('alice').calls;
        attempts.push(s.clock.now() - t0);
      }
      if (s.clock.now() < t0 + 55_000) expect(s.store.current('alice')?.value).toBe(token);
    }
    // Sampled every 100 ms: 35.65, 37.65, 41.65, 48.325 (cap 6.675 s), 51.66, 53.33, 54.17,
    // 54.67 (floor).
    expect(attempts).toEqual([35_650, 37_650, 41_650, 48_350, 51_750, 53_350, 54_250, 54_750]);
    await s.clock.advanceTo(t0 + 55_000);
    expect(s.store.current('alice')).toBeUndefined();
    await expect(s.store.get('alice')).rejects.toMatchObject({ reason: 'server_error' });
    expect(names(s).filter((n) => n === 'expired')).toHaveLength(1);
    expect(s.store.status()[0]).toMatchObject({ state: 'expired', failures: 9 });
  });

  it('restarts the doubling at 1 s once the token lapses: no long wait after a long outage', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    s.store.start();
    await s.clock.advance(0);
    const t0 = s.clock.now();
    s.minter('alice').failNext(...Array<'server_error'>(20).fill('server_error'));
    // Retries are squeezed into the token's last 20 s, down to 500 ms; it lapses at 55 s.
    await s.clock.advanceTo(t0 + 55_000);
    const retries = () =>
      s.events
        .filter((e) => e.name === 'mintFailed')
        .map((e) => (e.payload as TokenEvents['mintFailed']).retryInMs);
    const squeezed = retries();
    expect(squeezed.slice(-2)).toEqual([500, 500]);
    await s.clock.advanceTo(t0 + 100_000);
    // The failure that finds no token held waits 1 s, as a first failure does, then doubles.
    expect(retries().slice(squeezed.length)).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
    expect(s.store.status()[0]).toMatchObject({
      state: 'expired',
      failures: squeezed.length + 6,
    });
  });

  it('retries at most every 30 s without a token, and get() fails fast in between', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    s.minter('alice').failNext(...Array<'network'>(10).fill('network'));
    await expect(s.store.get('alice')).rejects.toMatchObject({
      reason: 'network',
      retryAfterSeconds: 1,
    });
    const times: number[] = [];
    const t0 = s.clock.now();
    for (let i = 0; i < 170; i++) {
      const before = s.minter('alice').calls;
      await s.clock.advance(1000);
      if (s.minter('alice').calls !== before) times.push(s.clock.now() - t0);
      await expect(s.store.get('alice')).rejects.toBeInstanceOf(NoTokenError);
    }
    expect(times.slice(0, 8)).toEqual([1000, 3000, 7000, 15000, 31000, 61000, 91000, 121000]);
    expect(s.minter('alice').calls).toBe(10);
    const failed = s.events
      .filter((e) => e.name === 'mintFailed')
      .map((e) => (e.payload as TokenEvents['mintFailed']).retryInMs);
    expect(failed.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
  });

  it('recovers when the mint succeeds again', async () => {
    const s = setup([user('alice')]);
    s.minter('alice').failNext('unauthorized');
    s.store.start();
    await s.clock.advance(0);
    expect(s.store.status()[0]).toMatchObject({
      state: 'pending',
      failures: 1,
      lastError: { reason: 'unauthorized' },
    });
    // The status says when the next attempt is: an operator's failure backs off 8 s less jitter.
    const next = s.store.status()[0].nextAttemptAt ?? 0;
    expect(next - s.clock.now()).toBeGreaterThanOrEqual(6_000);
    expect(next - s.clock.now()).toBeLessThanOrEqual(8_000);
    await s.clock.advance(8_000);
    expect(s.store.status()[0]).toMatchObject({
      state: 'valid',
      failures: 0,
      everHeld: true,
      nextAttemptAt: null,
    });
    expect(s.store.current('alice')).toBeDefined();
  });

  it('mints again when the secret file changes during a backoff it may cure, 1 s after the last mint at the earliest', async () => {
    const s = setup([user('alice'), user('bob')]);
    s.minter('alice').secretFile = '/run/secrets/alice/password';
    s.minter('bob').secretFile = '/run/secrets/bob/password';
    s.minter('alice').failNext('unauthorized', 'secret_unreadable');
    s.minter('bob').failNext(...Array<'network'>(10).fill('network'));
    s.store.start();
    await s.clock.advance(0);
    expect(s.store.status()[0].nextAttemptAt).toBe(s.clock.now() + 7_000);
    // At once after the mint: not before 1 s has passed since it started.
    s.store.secretFolderChanged('/run/secrets/alice');
    expect(s.store.status()[0].nextAttemptAt).toBe(s.clock.now() + 1_000);
    await s.clock.advance(1_000);
    expect(s.minter('alice').calls).toBe(2);
    expect(s.store.status()[0].lastError).toMatchObject({ reason: 'secret_unreadable' });
    await s.clock.advance(3_000);
    s.store.secretFolderChanged('/run/secrets/alice');
    await s.clock.advance(0);
    expect(s.minter('alice').calls).toBe(3);
    expect(s.store.status()[0]).toMatchObject({ state: 'valid', nextAttemptAt: null });
    // A held token, another folder, a failure a new secret does not cure: nothing changes.
    s.store.secretFolderChanged('/run/secrets/alice');
    s.store.secretFolderChanged('/run/secrets');
    const bob = { calls: s.minter('bob').calls, next: s.store.status()[1].nextAttemptAt };
    expect(bob.next).toBeGreaterThan(s.clock.now());
    s.store.secretFolderChanged('/run/secrets/bob');
    await s.clock.advance(0);
    expect(s.minter('alice').calls).toBe(3);
    expect(s.minter('bob').calls).toBe(bob.calls);
    expect(s.store.status()[1].nextAttemptAt).toBe(bob.next);
  });

  it('sends a refused secret at most once per backoff on changes: a file touched every 300 ms costs no refused login a second', async () => {
    const s = setup([user('alice')]);
    s.minter('alice').secretFile = '/run/secrets/alice/password';
    s.minter('alice').failNext(...Array<'unauthorized'>(10).fill('unauthorized'));
    s.store.start();
    await s.clock.advance(0);
    const firstBackoff = s.store.status()[0].nextAttemptAt;
    // The file is touched (or written again with the same password) every 300 ms for 6 s.
    for (let i = 0; i < 20; i += 1) {
      s.store.secretFolderChanged('/run/secrets/alice');
      await s.clock.advance(300);
    }
    // One mint brought forward by the change, refused: the others wait for the backoff.
    expect(firstBackoff).toBeGreaterThan(s.clock.now());
    expect(s.minter('alice').calls).toBe(2);
    expect(s.store.status()[0].nextAttemptAt).toBeGreaterThan(s.clock.now() + 1_000);
    // A file emptied then written is still tried on the write: its read was not refused.
    const t = setup([user('bob')]);
    t.minter('bob').secretFile = '/run/secrets/bob/password';
    t.minter('bob').failNext('unauthorized', 'secret_unreadable');
    t.store.start();
    await t.clock.advance(0);
    t.store.secretFolderChanged('/run/secrets/bob');
    await t.clock.advance(1_000);
    t.store.secretFolderChanged('/run/secrets/bob');
    await t.clock.advance(1_000);
    expect(t.minter('bob').calls).toBe(3);
    expect(t.store.status()[0]).toMatchObject({ state: 'valid' });
  });

  it("a file written again in a folder shared with other users' files retries only its own users", async () => {
    const s = setup([user('alice'), user('bob')]);
    s.minter('alice').secretFile = '/etc/proxy/alice';
    s.minter('bob').secretFile = '/etc/proxy/bob';
    s.minter('alice').failNext('unauthorized');
    s.minter('bob').failNext(...Array<'unauthorized'>(10).fill('unauthorized'));
    s.store.start();
    await s.clock.advance(0);
    const bobNext = s.store.status()[1].nextAttemptAt;
    s.store.secretFolderChanged('/etc/proxy', 'alice');
    await s.clock.advance(1_000);
    expect(s.minter('alice').calls).toBe(2);
    // Bob's file did not change: sending it again is one more refused login, nothing else.
    expect(s.minter('bob').calls).toBe(1);
    expect(s.store.status()[1].nextAttemptAt).toBe(bobNext);
    // A change of the whole folder (the kubelet's `..data`) may hold a new secret for each.
    s.store.secretFolderChanged('/etc/proxy');
    await s.clock.advance(0);
    expect(s.minter('bob').calls).toBe(2);
  });

  it('mints again 1 s after a mint that failed on a secret file changed while it was under way', async () => {
    const s = setup([user('alice')], 'manual');
    s.minter('alice').secretFile = '/run/secrets/alice/password';
    const got = s.store.get('alice').catch(() => undefined);
    await s.clock.advance(299.6);
    // The kubelet swaps the Secret after the mint read the old one.
    s.store.secretFolderChanged('/run/secrets/alice');
    s.minter('alice').fail('unauthorized');
    await got;
    const failed = s.events.find((e) => e.name === 'mintFailed')?.payload;
    // Whole milliseconds, as every backoff is, though the clock has fractions (performance.now).
    expect(failed).toMatchObject({ reason: 'unauthorized', retryInMs: 701 });
    expect(s.store.status()[0].nextAttemptAt).toBe(s.clock.now() + 701);
  });

  it('counts a token that arrives too late to be used as a failure', async () => {
    const s = setup([user('alice', { seconds: 2, safetyMarginSeconds: 1 })], 'manual');
    const got = s.store.get('alice');
    await s.clock.advance(1_500);
    s.minter('alice').succeed();
    await expect(got).rejects.toMatchObject({ reason: 'timeout' });
    expect(s.store.current('alice')).toBeUndefined();
  });

  it('names in a failed mint the endpoint that was asked, though the minter moved on since', async () => {
    const s = setup([user('alice')], 'manual');
    const got = s.store.get('alice').catch(() => undefined);
    // Asked on GET /API/user/alice/token; the minter's `endpoint` still says token.
    s.minter('alice').failWith(new MintError('forbidden', 'refused', 403, undefined, 'user_token'));
    await got;
    const failed = s.events.find((e) => e.name === 'mintFailed')?.payload;
    expect(failed).toMatchObject({ endpoint: 'user_token', reason: 'forbidden' });
    expect(s.store.status()[0].lastError).toMatchObject({ endpoint: 'user_token' });
  });

  it('shows failing while a valid token is held and renewal fails', async () => {
    const s = setup([user('alice')]);
    s.store.start();
    await s.clock.advance(0);
    s.minter('alice').failNext('server_error');
    await s.clock.advance(38_500);
    expect(s.store.status()[0]).toMatchObject({ state: 'failing', failures: 1 });
    expect(s.store.current('alice')).toBeDefined();
  });
});

describe('a 401 on a token', () => {
  it('replays a late 401 for an old token with the current one: no check, no mint', async () => {
    const s = setup([user('alice')]);
    const old = (await s.store.get('alice')).value;
    await s.clock.advance(42_000);
    const fresh = s.store.current('alice')?.value;
    expect(fresh).not.toBe(old);
    await expect(s.store.rejected('alice', old, s.clock.now() - 1)).resolves.toBe('replay');
    expect(s.store.current('alice')?.value).toBe(fresh);
    expect(s.minter('alice').calls).toBe(2);
    expect(s.checker.sent).toEqual([]);
    expect(names(s)).not.toContain('invalidated');
  });

  it('drops a token the check finds dead and mints one new token for all waiters', async () => {
    const s = setup([user('alice')], 'manual');
    const got = s.store.get('alice');
    const first = s.minter('alice').succeed();
    await got;
    s.checker.kill(first);
    const verdicts = [
      s.store.rejected('alice', first, s.clock.now()),
      s.store.rejected('alice', first, s.clock.now()),
    ];
    await expect(Promise.all(verdicts)).resolves.toEqual(['replay', 'replay']);
    expect(s.checker.of(first)).toBe(1);
    expect(s.store.current('alice')).toBeUndefined();
    expect(s.minter('alice').calls).toBe(2);
    const waiters = Array.from({ length: 100 }, () => s.store.get('alice'));
    const second = s.minter('alice').succeed();
    expect(new Set((await Promise.all(waiters)).map((l) => l.value))).toEqual(new Set([second]));
    expect(s.minter('alice').calls).toBe(2);
    expect(s.events.filter((e) => e.name === 'invalidated')).toEqual([
      { name: 'invalidated', payload: { user: 'alice', cause: 'unauthorized', retryInMs: 0 } },
    ]);
  });

  it('lets a token that dies during a renewal wait for that renewal: one mint in all', async () => {
    const s = setup([user('alice')], 'manual');
    const got = s.store.get('alice');
    const first = s.minter('alice').succeed();
    await got;
    // At 70 % of the usable 55 s the renewal goes out and is still under way…
    await s.clock.advance(38_500);
    expect(s.minter('alice').calls).toBe(2);
    // …when Vidispine drops the token: the 401s are replayed with the renewal's token.
    s.checker.kill(first);
    const verdicts = [
      s.store.rejected('alice', first, s.clock.now()),
      s.store.rejected('alice', first, s.clock.now()),
    ];
    await expect(Promise.all(verdicts)).resolves.toEqual(['replay', 'replay']);
    const waiters = Array.from({ length: 50 }, () => s.store.get('alice'));
    const second = s.minter('alice').succeed();
    expect(new Set((await Promise.all(waiters)).map((l) => l.value))).toEqual(new Set([second]));
    expect(s.minter('alice').calls).toBe(2);
    expect(s.store.status()[0].state).toBe('valid');
  });

  it("keeps a token the check finds alive: the 401 was the request's own", async () => {
    const s = setup([user('alice')]);
    const token = (await s.store.get('alice')).value;
    const verdict = s.store.rejected('alice', token, s.clock.now(), 'RunAs refused');
    await expect(verdict).resolves.toBe('pass');
    expect(s.store.current('alice')?.value).toBe(token);
    expect(s.minter('alice').calls).toBe(1);
    expect(s.events.filter((e) => e.name === 'checked')).toEqual([
      {
        name: 'checked',
        payload: { user: 'alice', result: 'alive', reason: 'RunAs refused', dropped: false },
      },
    ]);
  });

  it('passes the 401 on and keeps the token when the check gives no clear answer', async () => {
    const s = setup([user('alice')]);
    const token = (await s.store.get('alice')).value;
    s.checker.answer(token, 'unknown');
    await expect(s.store.rejected('alice', token, s.clock.now())).resolves.toBe('pass');
    expect(s.store.current('alice')?.value).toBe(token);
    expect(s.minter('alice').calls).toBe(1);
  });

  describe('a server without GET /API/whoami (check unavailable)', () => {
    it('drops the token, mints once for every waiting 401, and learns no lifetime', async () => {
      const s = setup([user('alice')]);
      s.checker.rule = () => 'unavailable';
      for (let i = 0; i < 3; i++) {
        const { value } = await s.store.get('alice');
        // Taken at 20 s, refused at 25 s: confirmed deaths at that age would teach ~20 s.
        await s.clock.advance(20_000);
        s.store.answered('alice', value, s.clock.now(), 200);
        await s.clock.advance(5_000);
        const verdicts = [1, 2].map(() => s.store.rejected('alice', value, s.clock.now()));
        await expect(Promise.all(verdicts)).resolves.toEqual(['replay', 'replay']);
        expect(s.store.current('alice')?.value).not.toBe(value);
      }
      await s.store.get('alice');
      expect(s.minter('alice').calls).toBe(4);
      expect(s.events.filter((e) => e.name === 'invalidated').map((e) => e.payload)).toEqual(
        Array(3).fill({ user: 'alice', cause: 'unauthorized_unchecked', retryInMs: 0 }),
      );
      expect(names(s)).not.toContain('lifetimeLearned');
      expect(s.store.status()[0].effectiveSeconds).toBe(60);
    });

    it('within the rejection backoff of the last mint, passes the 401 on and keeps the token', async () => {
      const s = setup([user('alice')]);
      s.checker.rule = () => 'unavailable';
      const first = (await s.store.get('alice')).value;
      await expect(s.store.rejected('alice', first, s.clock.now())).resolves.toBe('replay');
      const second = (await s.store.get('alice')).value;
      // The second unchecked drop may come 1 s (less 0–25 % jitter: 875 ms here) after the mint.
      await s.clock.advance(800);
      await expect(s.store.rejected('alice', second, s.clock.now())).resolves.toBe('pass');
      expect(s.store.current('alice')?.value).toBe(second);
      expect(s.events.filter((e) => e.name === 'checked').at(-1)?.payload).toEqual({
        user: 'alice',
        result: 'unavailable',
        dropped: false,
      });
      await s.clock.advance(1_000);
      await expect(s.store.rejected('alice', second, s.clock.now())).resolves.toBe('replay');
      expect(s.minter('alice').calls).toBe(3);
    });

    it('a token that lives to its renewal ends the run: the next unchecked 401 drops at once', async () => {
      const s = setup([user('alice')]);
      s.checker.rule = () => 'unavailable';
      const first = (await s.store.get('alice')).value;
      await expect(s.store.rejected('alice', first, s.clock.now())).resolves.toBe('replay');
      const second = (await s.store.get('alice')).value;
      await s.clock.advance(2_000);
      await expect(s.store.rejected('alice', second, s.clock.now())).resolves.toBe('replay');
      const third = (await s.store.get('alice')).value;
      // Renewed at 70 % of the usable 55 s; the renewal's token is refused at once.
      await s.clock.advance(38_500);
      const renewed = (await s.store.get('alice')).value;
      expect(renewed).not.toBe(third);
      await expect(s.store.rejected('alice', renewed, s.clock.now())).resolves.toBe('replay');
      expect(s.minter('alice').calls).toBe(5);
    });

    it('drops at once a token refused soon after a replacement, when the drops before it were far apart', async () => {
      // A day-long token: the run would end only at its renewal, 17 h on. Fifteen genuine
      // deaths 20 min apart (restarts, an administrator), then Vidispine restarted twice in a
      // row: the second death, 5 s after the previous mint, is healed at once too.
      const s = setup([user('alice', { seconds: 86_400 })]);
      s.checker.rule = () => 'unavailable';
      s.draw.value = 0;
      for (const age of [...Array.from({ length: 15 }, () => 20 * 60_000), 5_000]) {
        const lease = await s.store.get('alice');
        s.store.answered('alice', lease.value, s.clock.now(), 200);
        await s.clock.advance(age);
        await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
      }
      expect(s.minter('alice').calls).toBe(17);
    });

    it.each([
      ['1 ms short of 10 min after the previous mint adds to the run', RUN_GAP_MS - 1, 'pass'],
      ['10 min after the previous mint ends the run', RUN_GAP_MS, 'replay'],
    ] as const)('a drop %s', async (_, age, next) => {
      const s = setup([user('alice', { seconds: 86_400 })]);
      s.checker.rule = () => 'unavailable';
      s.draw.value = 0;
      // Six drops, each as soon as the backoff allows (at once, then 1 s, 2 s … 16 s after the
      // previous mint), one `age` after it, then a token refused 5 s after its mint: dropped
      // at once when the run started again (1 s), kept when it is the eighth (30 s).
      for (const wait of [0, 1_000, 2_000, 4_000, 8_000, 16_000, age]) {
        const lease = await s.store.get('alice');
        s.store.answered('alice', lease.value, s.clock.now(), 200);
        await s.clock.advance(wait);
        await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
      }
      const lease = await s.store.get('alice');
      s.store.answered('alice', lease.value, s.clock.now(), 200);
      await s.clock.advance(5_000);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe(next);
      await s.store.get('alice');
      expect(s.minter('alice').calls).toBe(next === 'replay' ? 9 : 8);
    });

    it('a client mixing good and refused requests as fast as it can: 8 mints in a minute, then at most 1 per 26 s', async () => {
      const s = setup([user('alice', { seconds: 3600 })]);
      s.checker.rule = () => 'unavailable';
      const mintsBy = async (endMs: number): Promise<number> => {
        while (s.clock.now() < endMs) {
          const lease = await s.store.get('alice');
          s.store.answered('alice', lease.value, s.clock.now(), 200);
          await s.store.rejected('alice', lease.value, s.clock.now());
          await s.clock.advance(50);
        }
        return s.minter('alice').calls;
      };
      const start = s.clock.now();
      expect(await mintsBy(start + 60_000)).toBe(8);
      // A drop also waits for the next check (1 s apart): 131 in the next 59 min here.
      const later = (await mintsBy(start + 60 * 60_000)) - 8;
      expect(later).toBeGreaterThan(100);
      expect(later).toBeLessThanOrEqual(Math.ceil((59 * 60_000) / 26_250));
      const results = s.events
        .filter((e) => e.name === 'checked')
        .map((e) => (e.payload as TokenEvents['checked']).result);
      expect(new Set(results)).toEqual(new Set(['unavailable']));
    });

    it('a run of unchecked drops holds back no replacement of a token then confirmed dead', async () => {
      const s = setup([user('alice', { seconds: 3600 })]);
      s.checker.rule = () => 'unavailable';
      // Six drops of accepted tokens, each as soon as the backoff allows: the next would wait 30 s.
      for (let drops = 0; drops < 6;) {
        const lease = await s.store.get('alice');
        s.store.answered('alice', lease.value, s.clock.now(), 200);
        if ((await s.store.rejected('alice', lease.value, s.clock.now())) === 'replay') drops += 1;
        await s.clock.advance(100);
      }
      expect(s.minter('alice').calls).toBe(7);
      // The server can check again, and the current token, accepted, is found dead at once.
      s.checker.rule = undefined;
      const lease = await s.store.get('alice');
      s.store.answered('alice', lease.value, s.clock.now(), 200);
      s.checker.kill(lease.value);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
      expect(s.events.filter((e) => e.name === 'invalidated').at(-1)?.payload).toEqual({
        user: 'alice',
        cause: 'unauthorized',
        retryInMs: 0,
      });
      expect((await s.store.get('alice')).value).not.toBe(lease.value);
      expect(s.minter('alice').calls).toBe(8);
    });
  });

  it('checks at most once a second per user; 401s in between pass at once', async () => {
    const s = setup([user('alice')]);
    const token = (await s.store.get('alice')).value;
    await expect(s.store.rejected('alice', token, s.clock.now())).resolves.toBe('pass');
    const between = Array.from({ length: 50 }, () =>
      s.store.rejected('alice', token, s.clock.now()),
    );
    await expect(Promise.all(between)).resolves.toEqual(Array(50).fill('pass'));
    expect(s.checker.sent).toHaveLength(1);
    await s.clock.advance(1_000);
    s.checker.kill(token);
    await expect(s.store.rejected('alice', token, s.clock.now())).resolves.toBe('replay');
    expect(s.checker.sent.map((c) => c.at - s.checker.sent[0].at)).toEqual([0, 1_000]);
  });

  it('lets every 401 that arrives while a check is under way share it', async () => {
    const s = setup([user('alice')]);
    const token = (await s.store.get('alice')).value;
    s.checker.kill(token);
    const verdicts = Array.from({ length: 50 }, () =>
      s.store.rejected('alice', token, s.clock.now()),
    );
    await expect(Promise.all(verdicts)).resolves.toEqual(Array(50).fill('replay'));
    expect(s.checker.sent).toHaveLength(1);
    expect(s.minter('alice').calls).toBe(2);
  });

  it('never lets 401s mint faster than the rejection backoff, however many arrive', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    const start = s.clock.now();
    const minted: number[] = [];
    s.store.on('minted', () => minted.push(s.clock.now() - start));
    // Vidispine rejects every token it issues; clients keep sending as fast as they can.
    for (let ms = 0; ms < 120_000; ms += 50) {
      const lease = s.store.current('alice');
      if (lease) {
        s.checker.kill(lease.value);
        void s.store.rejected('alice', lease.value, s.clock.now());
      }
      await s.clock.advance(50);
    }
    // Budget: the first at once, then 1, 2, 4, 8, 16 s, then every 30 s.
    expect(minted.length).toBeLessThanOrEqual(8 + 2);
    expect(minted.filter((t) => t < 60_000).length).toBeLessThanOrEqual(8);
    for (let i = 2; i < minted.length; i++) {
      expect(minted[i] - minted[i - 1]).toBeGreaterThanOrEqual(
        Math.min(30_000, 1_000 * 2 ** (i - 2)) * 0.75 - 1,
      );
    }
  });

  it('answers 503 material while the rejection backoff holds the next mint back', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    // Deaths 1 and 2 are replaced at once and after 1 s; the fourth waits 4 s.
    for (let i = 0; i < 4; i++) {
      const lease = await s.store.get('alice');
      s.checker.kill(lease.value);
      const verdict = s.store.rejected('alice', lease.value, s.clock.now());
      await s.clock.advance(1_000); // one check a second
      await expect(verdict).resolves.toBe('replay');
    }
    const err = (await s.store.get('alice').catch((e: unknown) => e)) as NoTokenError;
    expect(err).toBeInstanceOf(NoTokenError);
    expect(err.reason).toBe('rejected');
    expect(err.retryAfterSeconds).toBe(3);
    expect(s.minter('alice').calls).toBe(4);
  });

  it('says in its invalidated event when the replacement is minted: at once, or when the backoff allows', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    const retries = () =>
      s.events
        .filter((e) => e.name === 'invalidated')
        .map((e) => (e.payload as TokenEvents['invalidated']).retryInMs);
    // The first death is replaced at once; the second, within 1 s of that mint, waits.
    for (let i = 0; i < 2; i++) {
      const lease = await s.store.get('alice');
      s.checker.kill(lease.value);
      await s.store.rejected('alice', lease.value, s.clock.now());
    }
    const next = s.store.status()[0].nextAttemptAt;
    expect(next).not.toBeNull();
    expect(retries()).toEqual([0, (next as number) - s.clock.now()]);
    expect(retries()[1]).toBeGreaterThan(0);
  });

  it('says a token found dead after a renewal replaced it needs no mint of its own', async () => {
    const s = setup([user('alice')], 'manual');
    const got = s.store.get('alice');
    const first = s.minter('alice').succeed();
    await got;
    s.checker.hold(first);
    const verdict = s.store.rejected('alice', first, s.clock.now());
    await s.clock.advance(38_500); // the renewal goes out and arrives while the check waits
    s.minter('alice').succeed();
    await s.clock.advance(0);
    s.checker.release(first, 'dead');
    await expect(verdict).resolves.toBe('replay');
    expect(s.events.filter((e) => e.name === 'invalidated')).toEqual([
      { name: 'invalidated', payload: { user: 'alice', cause: 'unauthorized', retryInMs: null } },
    ]);
    expect(s.minter('alice').calls).toBe(2);
  });

  it('replaces a token that worked and then died at once, whenever the backoff from the previous mint has passed', async () => {
    const s = setup([user('alice')]);
    // Ages far enough apart that they teach no lifetime: removals, not a cap. The eleventh
    // and twelfth deaths in the run come later after the previous mint than its 1 s and 2 s.
    const ages = [1_000, 2_500, 6_000, 15_000, 32_000, 3_000, 8_000, 1_500, 4_000, 2_000];
    for (const age of [...ages, 3_000, 5_000]) {
      const lease = await s.store.get('alice');
      s.store.answered('alice', lease.value, s.clock.now(), 200);
      await s.clock.advance(age);
      s.checker.kill(lease.value);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
      await expect(s.store.get('alice')).resolves.toMatchObject({ user: 'alice' });
    }
    expect(s.minter('alice').calls).toBe(13);
  });

  it('replaces the first ten tokens that worked and then died at once, then 1 s, 2 s, 4 s … after the previous mint', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    // A GET /API/whoami that calls every token dead, each accepted by a request first.
    const acceptThenKill = async (): Promise<void> => {
      const lease = await s.store.get('alice');
      s.store.answered('alice', lease.value, s.clock.now(), 200);
      s.checker.kill(lease.value);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
    };
    for (let i = 0; i < 10; i++) await acceptThenKill();
    expect(s.minter('alice').calls).toBe(11);
    for (const waitMs of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) {
      const lease = await s.store.get('alice');
      s.store.answered('alice', lease.value, s.clock.now(), 200);
      s.checker.kill(lease.value);
      const calls = s.minter('alice').calls;
      // Dead by GET /API/whoami, but the budget allows no mint yet: the 401 is passed on and
      // the token kept, and so on every 401 before the backoff since the last mint is over.
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('pass');
      await s.clock.advance(waitMs - 1);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('pass');
      expect(s.store.current('alice')?.value).toBe(lease.value);
      expect(s.minter('alice').calls).toBe(calls);
      // The first check after it drops the token and replaces it.
      await s.clock.advance(CHECK_INTERVAL_MS);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
      expect(s.minter('alice').calls).toBe(calls + 1);
      expect(s.checker.sent.filter((c) => c.token === lease.value).length).toBeLessThanOrEqual(3);
    }
  });

  it('says why a replacement waits when a run of tokens found dead holds it back', async () => {
    const s = setup([user('alice', { seconds: 86_400 })]);
    s.draw.value = 0;
    const kill = async (accept: boolean): Promise<void> => {
      const lease = await s.store.get('alice');
      if (accept) s.store.answered('alice', lease.value, s.clock.now(), 200);
      s.checker.kill(lease.value);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
    };
    for (let i = 0; i < 10; i++) await kill(true);
    await s.clock.advance(1_000);
    // Two tokens Vidispine never accepted: the second's replacement waits 2 s (the twelfth
    // found dead), longer than the 1 s of two rejected in a row.
    await kill(false);
    await kill(false);
    const refused = s.store.get('alice');
    await expect(refused).rejects.toMatchObject({ reason: 'rejected', retryAfterSeconds: 2 });
    // The run is of deaths close together: a renewal, which also ends it, may be hours away.
    await expect(refused).rejects.toThrow(
      '12 tokens were found dead (GET /API/whoami) less than 10 min apart; the next one is minted when the backoff allows',
    );
  });

  it('counts tokens found dead before their first acceptance in the same run as those after it', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    // Every other token dies before any request took it: acceptance ends a run of deaths
    // that never worked, not the run of tokens found dead.
    for (let i = 0; i < 10; i++) {
      const lease = await s.store.get('alice');
      if (i % 2 === 0) s.store.answered('alice', lease.value, s.clock.now(), 200);
      s.checker.kill(lease.value);
      await s.store.rejected('alice', lease.value, s.clock.now());
    }
    const lease = await s.store.get('alice');
    s.checker.kill(lease.value);
    await s.store.rejected('alice', lease.value, s.clock.now());
    await expect(s.store.get('alice')).rejects.toMatchObject({ reason: 'rejected' });
    expect(s.minter('alice').calls).toBe(11);
    await s.clock.advance(1_000);
    expect(s.minter('alice').calls).toBe(12);
  });

  it('replaces at once a token that dies soon after a replacement, when the deaths before it were far apart', async () => {
    // A day-long token: the run would end only at its renewal, 17 h on. Fifteen genuine
    // deaths 20 min apart (restarts, an administrator), then Vidispine restarted twice in a
    // row: the second death, 5 s after the previous mint, is healed at once too.
    const s = setup([user('alice', { seconds: 86_400 })]);
    s.draw.value = 0;
    for (const age of [...Array.from({ length: 15 }, () => 20 * 60_000), 5_000]) {
      const lease = await s.store.get('alice');
      s.store.answered('alice', lease.value, s.clock.now(), 200);
      await s.clock.advance(age);
      s.checker.kill(lease.value);
      await expect(s.store.rejected('alice', lease.value, s.clock.now())).resolves.toBe('replay');
    }
    expect(s.minter('alice').calls).toBe(17);
  });

  it('a token that reaches its renewal ends a run of deaths', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0.5;
    for (let i = 0; i < 4; i++) {
      const lease = await s.store.get('alice');
      s.checker.kill(lease.value);
      await s.store.rejected('alice', lease.value, s.clock.now());
      await s.clock.advance(20_000);
    }
    await s.clock.advance(60_000); // the current token lives to its renewal
    const calls = s.minter('alice').calls;
    const lease = await s.store.get('alice');
    s.checker.kill(lease.value);
    await s.store.rejected('alice', lease.value, s.clock.now());
    await s.clock.advance(0);
    expect(s.minter('alice').calls).toBe(calls + 1);
    expect(s.store.current('alice')).toBeDefined();
  });

  it('does not bypass the backoff of failed mints', async () => {
    const s = setup([user('alice')]);
    s.draw.value = 0;
    const token = (await s.store.get('alice')).value;
    s.minter('alice').failNext('server_error', 'server_error');
    await s.clock.advance(34_650);
    expect(s.minter('alice').calls).toBe(2);
    s.checker.kill(token);
    await s.store.rejected('alice', token, s.clock.now());
    await s.clock.advance(0);
    expect(s.minter('alice').calls).toBe(2);
    await s.clock.advance(1_000);
    expect(s.minter('alice').calls).toBe(3);
  });
});

describe('a token found dead while its renewal backs off', () => {
  it('retries as a failure with no token would, not when the long backoff planned for it says', async () => {
    const s = setup([user('alice', { seconds: 3600 })]);
    s.draw.value = 0;
    const token = (await s.store.get('alice')).value;
    s.store.answered('alice', token, s.clock.now(), 200);
    // Retries 1, 2, 4 … 64 s apart: the 7th failure plans the next attempt a minute away.
    s.minter('alice').failNext(...Array<'server_error'>(7).fill('server_error'));
    const retries = () =>
      s.events
        .filter((e) => e.name === 'mintFailed')
        .map((e) => (e.payload as TokenEvents['mintFailed']).retryInMs);
    // Renewal at 63 % of 3595 s; with most of an hour left, its retries double to minutes.
    while (!retries().some((ms) => ms >= 64_000)) await s.clock.advance(1_000);
    const calls = s.minter('alice').calls;
    await s.clock.advance(5_000);
    s.checker.kill(token);
    await expect(s.store.rejected('alice', token, s.clock.now())).resolves.toBe('replay');
    await s.clock.advance(0);
    // The failure's backoff without a token (1 s) is over: the next mint goes at once.
    expect(s.minter('alice').calls).toBe(calls + 1);
    await expect(s.store.get('alice')).resolves.toMatchObject({ user: 'alice' });
  });

  it('still honours that backoff when it ends sooner', async () => {
    const s = setup([user('alice', { seconds: 3600 })]);
    s.draw.value = 0;
    const token = (await s.store.get('alice')).value;
    s.minter('alice').failNext(...Array<'server_error'>(20).fill('server_error'));
    while (s.store.status()[0].failures < 8) await s.clock.advance(100);
    const calls = s.minter('alice').calls;
    s.checker.kill(token);
    await s.store.rejected('alice', token, s.clock.now());
    // The 8th failure came less than 100 ms ago; without a token it waits 1 s.
    await s.clock.advance(800);
    expect(s.minter('alice').calls).toBe(calls);
    expect(s.store.status()[0].nextAttemptAt).not.toBeNull();
    await s.clock.advance(300);
    expect(s.minter('alice').calls).toBe(calls + 1);
  });
});

describe('autoRefresh mode', () => {
  const auto = () => user('alice', { autoRefresh: true });

  it('mints no new token while traffic keeps the token alive', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    for (let i = 0; i < 600; i++) {
      await s.clock.advance(1000);
      const lease = s.store.current('alice');
      expect(lease?.value).toBe(first.value);
      const sentAt = s.clock.now();
      await s.clock.advance(5);
      s.store.answered('alice', first.value, sentAt, 200);
    }
    expect(s.minter('alice').calls).toBe(1);
    expect(s.store.status()[0].expiresAt).toBeGreaterThan(s.clock.now() + 45_000);
  });

  it('renews on schedule a token whose renewal comes before any push could', async () => {
    // 12 s with a 1.2 s margin: renewal 7.6 s after the mint, before the 10 s interval is up.
    const s = setup([user('alice', { autoRefresh: true, seconds: 12, safetyMarginSeconds: 1.2 })]);
    await s.store.get('alice');
    for (let i = 0; i < 60; i++) {
      await s.clock.advance(1000);
      const lease = s.store.current('alice');
      if (lease === undefined) throw new Error(`no token at ${i + 1} s`);
      const sentAt = s.clock.now();
      await s.clock.advance(5);
      s.store.answered('alice', lease.value, sentAt, 200);
    }
    expect(s.minter('alice').calls).toBeGreaterThan(5);
  });

  it('mints no new token under traffic once the lifetime is twice the refresh interval', async () => {
    const s = setup([user('alice', { autoRefresh: true, seconds: 20, safetyMarginSeconds: 2 })]);
    s.draw.value = 0;
    const first = await s.store.get('alice');
    for (let i = 0; i < 600; i++) {
      await s.clock.advance(1000);
      expect(s.store.current('alice')?.value).toBe(first.value);
      const sentAt = s.clock.now();
      await s.clock.advance(5);
      s.store.answered('alice', first.value, sentAt, 200);
    }
    expect(s.minter('alice').calls).toBe(1);
  });

  it('counts a push from a check of the token still in flight, which Vidispine may take late', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    await s.clock.advance(12_000);
    // A 401 at 12 s: its check goes out at once and stays unanswered.
    s.checker.hold(first.value);
    const verdict = s.store.rejected('alice', first.value, s.clock.now());
    await s.clock.advance(8_000);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 72_000);
    // Sent 10.2 s after that answer, a certain push; but Vidispine may have taken the check
    // at 29 s and pushed (89 s), which held this one back: counted from 20.2 s, not 30.2 s.
    await s.clock.advance(10_200);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 80_200);
    s.checker.release(first.value, 'alive');
    await expect(verdict).resolves.toBe('pass');
    // Answered, the check holds no later push back (two pushes on: the one just after it
    // still counts it as a possible push of its own).
    for (let i = 0; i < 2; i++) {
      await s.clock.advance(10_200);
      s.store.answered('alice', first.value, s.clock.now(), 200);
    }
    expect(s.store.status()[0].expiresAt).toBe(t0 + 110_600);
  });

  it('mints a new token before the modelled expiry once traffic stops', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    await s.clock.advance(20_000);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    // Pushed to t0 + 80 s; renewal at 70 % of the 55 s it is usable: t0 + 20 s + 38.5 s.
    await s.clock.advanceTo(t0 + 58_499);
    expect(s.minter('alice').calls).toBe(1);
    await s.clock.advanceTo(t0 + 58_500);
    expect(s.minter('alice').calls).toBe(2);
    expect(s.store.current('alice')?.value).not.toBe(first.value);
  });

  it('does not push before the server refresh interval has passed', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    await s.clock.advance(8_000);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 60_000);
    await s.clock.advance(8_000);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 76_000);
  });

  it('slides the expiry only on answers that prove Vidispine accepted the token', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    // A front end with no backend (503), a gateway (502, 504), a rate limiter (429), a 500:
    // none of them proves the token reached Vidispine's authentication.
    for (const status of [503, 502, 504, 500, 429, 413, 408]) {
      await s.clock.advance(5_000);
      s.store.answered('alice', first.value, s.clock.now(), status);
      expect({ status, expiresAt: s.store.status()[0].expiresAt }).toEqual({
        status,
        expiresAt: t0 + 60_000,
      });
    }
    // A 404 is Vidispine's, after authentication: it pushes, counted from the first of those
    // answers that came an interval after the mint (10 s), since Vidispine may have taken the
    // token then and pushed.
    s.store.answered('alice', first.value, s.clock.now(), 404);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 70_000);
  });

  it.each([
    ['an answer that proves nothing (500)', 500],
    ['no answer (reset, timed out, abandoned by its client)', undefined],
  ])('counts a push %s may have made, so a later one is not counted twice', async (_, status) => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    // At 10 s Vidispine took the token, pushed its expiry to 70 s, and then failed.
    await s.clock.advance(10_000);
    const failedAt = s.clock.now();
    await s.clock.advance(50);
    s.store.answered('alice', first.value, failedAt, status);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 60_000);
    // At 19.9 s, less than the interval after that push, the server pushes nothing.
    await s.clock.advanceTo(t0 + 19_900);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 70_000);
  });

  it('does not push for tokens it does not hold', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    await s.clock.advance(20_000);
    s.store.answered('alice', 'someone-else', s.clock.now(), 200);
    s.store.answered('bob', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 60_000);
  });

  it('a check that finds the token alive pushes its expiry like any request', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    await s.clock.advance(20_000);
    await s.store.rejected('alice', first.value, s.clock.now());
    expect(s.store.status()[0].expiresAt).toBe(t0 + 80_000);
  });

  it('counts a push a check with no clear answer (a 5xx, a timeout) may have made', async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    // A 401 at 9.9 s, too early to push, is checked; the check reaches Vidispine at 10 s,
    // which takes the token and pushes its expiry to 70 s, and gets no clear answer at 10.1 s.
    await s.clock.advance(9_900);
    s.checker.hold(first.value);
    const verdict = s.store.rejected('alice', first.value, s.clock.now());
    await s.clock.advance(200);
    s.checker.release(first.value, 'unknown');
    await expect(verdict).resolves.toBe('pass');
    // At 19.9 s, less than the interval after that push, the server pushes nothing.
    await s.clock.advanceTo(t0 + 19_900);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 69_900);
  });

  it("counts a push from when a 401 that was the request's own went out, not from its check", async () => {
    const s = setup([auto()]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    // At 10 s Vidispine takes the token, pushes its expiry to 70 s and refuses the request's
    // RunAs; the 401 arrives at 10.2 s and its check, too soon after that push, pushes nothing.
    await s.clock.advance(10_000);
    const sentAt = s.clock.now();
    await s.clock.advance(200);
    await expect(s.store.rejected('alice', first.value, sentAt, 'RunAs refused')).resolves.toBe(
      'pass',
    );
    expect(s.checker.sent).toHaveLength(1);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 70_000);
  });

  it('announces each lapse of a token a late answer made usable again', async () => {
    const s = setup([auto()]);
    s.draw.value = 0;
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    s.minter('alice').failNext(...Array<'server_error'>(100).fill('server_error'));
    // A long request sent at 50 s pushes the expiry to 110 s; its answer comes at 56 s, after
    // the token lapsed at 55 s, and makes it usable again until 105 s.
    await s.clock.advanceTo(t0 + 50_000);
    const sentAt = s.clock.now();
    await s.clock.advanceTo(t0 + 56_000);
    const expired = () => names(s).filter((n) => n === 'expired').length;
    expect([expired(), s.store.status()[0].state]).toEqual([1, 'expired']);
    s.store.answered('alice', first.value, sentAt, 200);
    expect(s.store.current('alice')).toMatchObject({
      value: first.value,
      usableUntil: t0 + 105_000,
    });
    expect(s.store.status()[0].state).toBe('failing');
    await s.clock.advanceTo(t0 + 105_000);
    expect([expired(), s.store.status()[0].state]).toEqual([2, 'expired']);
    // Announced once: the retries that follow, without a token, say nothing more.
    await s.clock.advanceTo(t0 + 200_000);
    expect(s.minter('alice').calls).toBeGreaterThan(20);
    expect(expired()).toBe(2);
  });

  it('ignores pushes in renew mode', async () => {
    const s = setup([user('alice')]);
    const first = await s.store.get('alice');
    const t0 = s.clock.now();
    await s.clock.advance(20_000);
    s.store.answered('alice', first.value, s.clock.now(), 200);
    expect(s.store.status()[0].expiresAt).toBe(t0 + 60_000);
  });
});

describe('lifetime learning', () => {
  /** A 401 at `age` on the token minted now, confirmed dead; by default taken 0.4 s before. */
  async function rejectAt(
    s: Setup,
    age: number,
    meanwhile = (lease: TokenLease, mintedAt: number) =>
      s.store.answered('alice', lease.value, mintedAt + age - 400, 200),
  ): Promise<void> {
    const lease = await s.store.get('alice');
    const mintedAt = s.clock.now();
    await s.clock.advance(age);
    meanwhile(lease, mintedAt);
    s.checker.kill(lease.value);
    await s.store.rejected('alice', lease.value, mintedAt + age);
    await s.clock.advance(0);
  }

  it('lowers the lifetime after two confirmed early deaths and emits lifetimeLearned', async () => {
    const s = setup([user('alice', { seconds: 3600 })]);
    for (const age of [31_000, 30_400]) await rejectAt(s, age);
    expect(s.events.filter((e) => e.name === 'lifetimeLearned')).toEqual([
      {
        name: 'lifetimeLearned',
        payload: { user: 'alice', configuredSeconds: 3600, observedSeconds: 30 },
      },
    ]);
    expect(s.store.status()[0].effectiveSeconds).toBe(30);
    const next = s.store.current('alice');
    // The margin follows the learned lifetime: 10 % of 30 s, not the 5 s of an hour.
    expect(next?.usableUntil).toBe(s.clock.now() + 30_000 - 3_000);
  });

  it('learns the age a dead token was last taken at, not the later 401: a lower bound of the cap', async () => {
    const s = setup([user('alice', { seconds: 3600 })]);
    // Taken at 20 s and 24 s, refused at 31 s and 30.4 s: the cap lies between 24 s and 30.4 s.
    await rejectAt(s, 31_000, (lease, mintedAt) =>
      s.store.answered('alice', lease.value, mintedAt + 20_000, 200),
    );
    await rejectAt(s, 30_400, (lease, mintedAt) =>
      s.store.answered('alice', lease.value, mintedAt + 24_000, 200),
    );
    expect(s.store.status()[0].effectiveSeconds).toBe(24);
  });

  it('keeps early deaths that only a front end answered past: no refutation from a 503', async () => {
    const s = setup([user('alice', { seconds: 3600 })]);
    await rejectAt(s, 31_000);
    // A 503 at an age well past that death says nothing about Vidispine keeping tokens
    // longer: counted, it would have refuted the death at 31 s before the one that agrees.
    await rejectAt(s, 61_000, (lease, mintedAt) =>
      s.store.answered('alice', lease.value, mintedAt + 60_000, 503),
    );
    await rejectAt(s, 30_400);
    expect(s.store.status()[0].effectiveSeconds).toBe(30);
  });

  it("learns nothing from 401s the check found to be the request's own", async () => {
    const s = setup([user('alice')]);
    for (let i = 0; i < 20; i++) {
      const lease = await s.store.get('alice');
      await s.clock.advance(1_500);
      await s.store.rejected('alice', lease.value, s.clock.now() - 1);
    }
    expect(names(s)).not.toContain('lifetimeLearned');
    expect(s.store.status()[0].effectiveSeconds).toBe(60);
    expect(s.minter('alice').calls).toBe(1);
  });

  it('learns nothing from a rejection close to the modelled expiry', async () => {
    const s = setup([user('alice')]);
    for (let i = 0; i < 3; i++) await rejectAt(s, 50_000);
    expect(names(s)).not.toContain('lifetimeLearned');
  });

  it('grows back when a retired token outlives the learned lifetime', async () => {
    const s = setup([user('alice', { seconds: 30 })]);
    // Two revocations at the same age, the tokens taken until 0.4 s before, look like a cap…
    for (const age of [12_000, 12_200]) await rejectAt(s, age);
    expect(s.store.status()[0].effectiveSeconds).toBe(11);
    // …but the server keeps tokens 30 s: the token retired at the next renewal is checked
    // at an age the learned lifetime says it cannot reach, and answers.
    await s.clock.advance(30_000);
    expect(s.events.filter((e) => e.name === 'lifetimeRestored')).toEqual([
      {
        name: 'lifetimeRestored',
        payload: { user: 'alice', configuredSeconds: 30, learnedSeconds: 11 },
      },
    ]);
    expect(s.store.status()[0].effectiveSeconds).toBe(30);
    const mints = s.minter('alice').calls;
    await s.clock.advance(60_000);
    // Renewing at ~70 % of 30 s − 3 s again (18.9 s), not of 11 s − 1.1 s (6.9 s).
    expect(s.minter('alice').calls - mints).toBeLessThanOrEqual(4);
  });

  it('keeps a learned lifetime the re-test confirms, and tests it less and less often', async () => {
    const s = setup([user('alice', { seconds: 30 })]);
    for (const age of [12_000, 12_200]) await rejectAt(s, age);
    // A real 12 s cap: every token dies 12 s after it was minted.
    const minter = s.minter('alice');
    s.checker.rule = (token) =>
      s.clock.now() - (minter.issued.get(token) ?? 0) >= 12_000 ? 'dead' : 'alive';
    const before = s.checker.sent.length;
    await s.clock.advance(3_600_000);
    expect(s.store.status()[0].effectiveSeconds).toBe(11);
    expect(names(s)).not.toContain('lifetimeRestored');
    // 1 min doubling to 1 h: a handful of re-tests in an hour, not one per token.
    const retests = s.checker.sent.length - before;
    expect(retests).toBeGreaterThanOrEqual(3);
    expect(retests).toBeLessThanOrEqual(8);
  });
});

describe('lifecycle', () => {
  it('start() mints for every user; stop() rejects waiters and stops timers', async () => {
    const s = setup([user('alice'), user('bob')], 'manual');
    s.store.start();
    expect(s.minter('alice').calls).toBe(1);
    expect(s.minter('bob').calls).toBe(1);
    const waiting = s.store.get('alice');
    s.store.stop();
    await expect(waiting).rejects.toMatchObject({ reason: 'stopped' });
    expect(s.minter('alice').signals[0].aborted).toBe(true);
    await expect(s.store.get('bob')).rejects.toMatchObject({ reason: 'stopped' });
    expect(s.clock.pending()).toEqual([]);
  });

  it('reports status per user without secrets', async () => {
    const admin = { ...user('bob'), credential: undefined };
    const s = setup([user('alice', { autoRefresh: true }), admin]);
    await s.store.get('alice');
    const [alice, bob] = s.store.status();
    expect(alice).toEqual({
      user: 'alice',
      mode: 'autoRefresh',
      endpoint: 'token',
      state: 'valid',
      expiresAt: s.clock.now() + 60_000,
      lastRefreshAt: s.clock.now(),
      lastError: null,
      failures: 0,
      everHeld: true,
      effectiveSeconds: 60,
      marginSeconds: 5,
      nextAttemptAt: null,
    });
    expect(bob).toMatchObject({
      user: 'bob',
      mode: 'renew',
      endpoint: 'user_token',
      state: 'pending',
      expiresAt: null,
    });
    expect(JSON.stringify(s.store.status())).not.toContain('tok-');
  });

  it('stops calling a listener removed with off(), and only that one', async () => {
    const s = setup([user('alice')]);
    const heard: string[] = [];
    const removed = (): number => heard.push('removed');
    s.store.on('minted', removed);
    s.store.on('minted', () => heard.push('kept'));
    s.store.off('minted', removed);
    s.store.off('mintFailed', () => undefined);
    await s.store.get('alice');
    expect(heard).toEqual(['kept']);
  });

  it('survives a listener that throws', async () => {
    const s = setup([user('alice')]);
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    s.store.on('minted', () => {
      throw new Error('listener bug');
    });
    await expect(s.store.get('alice')).resolves.toBeDefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('listener bug'));
    warn.mockRestore();
  });
});
