import { connect } from 'node:net';
import { createSimulator, type Simulator } from '../../src/simulator';
import { startSimulator, type SimulatorHandle } from '../support/simulator';
import type { ManualClock } from '../support/clock';
import { basic, call, tokenAuth, type Reply } from '../support/http';
import { rawRequest } from '../support/raw-client';
import { until } from '../support/wait';

describe('in-process control API', () => {
  let sim: Simulator;
  let clock: ManualClock;
  let get: SimulatorHandle['get'];
  let mint: SimulatorHandle['mint'];

  beforeEach(async () => {
    ({ sim, clock, get, mint } = await startSimulator());
  });
  afterEach(() => sim.close());

  const adminFor = (user: string): Promise<Reply> =>
    get(`/API/user/${user}/token`, { headers: { authorization: basic('admin', 'admin') } });

  it('counts calls per endpoint and user, including refused ones', async () => {
    const t = await mint('alice', 'alice-password');
    await mint('VSIDB0BACCESSKEY0001', 'bob-access-key');
    await adminFor('alice');
    await adminFor('alice');
    await get('/API/token', { headers: { authorization: basic('alice', 'bad') } });
    await get('/API/whoami', { headers: { authorization: tokenAuth(t) } });
    await get('/API/whoami', { headers: { authorization: basic('admin', 'admin'), runas: 'bob' } });
    await get('/API/whoami');
    await get('/APInoauth/is-online');

    expect(sim.calls({ endpoint: 'token' })).toBe(3);
    expect(sim.calls({ endpoint: 'token', user: 'alice' })).toBe(2);
    expect(sim.calls({ endpoint: 'user_token', user: 'alice' })).toBe(2);
    expect(sim.calls({ endpoint: 'api' })).toBe(3);
    expect(sim.calls({ endpoint: 'api', user: 'bob' })).toBe(1);
    expect(sim.calls({ user: 'alice' })).toBe(5);
    expect(sim.calls({ endpoint: 'noauth' })).toBe(1);
    expect(sim.calls()).toBe(9);
    sim.resetCalls();
    expect(sim.calls()).toBe(0);
  });

  it.each([204, 304])(
    'a %i status fault answers without content or its headers',
    async (status) => {
      sim.failTokenEndpoints({ kind: 'status', status }, { times: 1 });
      const auth = `Authorization: ${basic('alice', 'alice-password')}\r\n`;
      // Two requests on one connection: the second answer must start where the first ends.
      const { responses } = await rawRequest(
        Number(new URL(sim.url).port),
        `GET /API/token HTTP/1.1\r\nHost: x\r\n${auth}\r\n` +
          `GET /API/whoami HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
        { responses: 2 },
      );
      expect(responses.map((r) => r.status)).toEqual([status, 200]);
      expect(responses[0].header('content-length')).toBeUndefined();
      expect(responses[0].header('content-type')).toBeUndefined();
      expect(responses[0].body.length).toBe(0);
      expect(responses[1].body.toString()).toBe('alice');
    },
  );

  it('status faults until healed, then normal again', async () => {
    sim.failTokenEndpoints({ kind: 'status', status: 503 });
    for (let i = 0; i < 3; i++) expect((await adminFor('alice')).status).toBe(503);
    expect(
      (await get('/API/token', { headers: { authorization: basic('alice', 'alice-password') } }))
        .status,
    ).toBe(503);
    // Other API calls are unaffected.
    expect(
      (await get('/API/whoami', { headers: { authorization: basic('alice', 'alice-password') } }))
        .status,
    ).toBe(200);
    sim.healTokenEndpoints();
    expect((await adminFor('alice')).status).toBe(200);
  });

  it('faults heal after n times', async () => {
    sim.failTokenEndpoints({ kind: 'status', status: 401 }, { times: 2 });
    const first = await adminFor('alice');
    expect(first.status).toBe(401);
    expect(first.headers['www-authenticate']).toBeDefined();
    expect((await adminFor('alice')).status).toBe(401);
    expect((await adminFor('alice')).status).toBe(200);
  });

  it('faults heal after forMs on the simulator clock', async () => {
    sim.failTokenEndpoints({ kind: 'status', status: 500 }, { forMs: 5_000 });
    expect((await adminFor('alice')).status).toBe(500);
    await clock.advance(4_999);
    expect((await adminFor('alice')).status).toBe(500);
    await clock.advance(1);
    expect((await adminFor('alice')).status).toBe(200);
  });

  it('empty fault answers 200 with an empty body', async () => {
    sim.failTokenEndpoints({ kind: 'empty' }, { times: 1 });
    const r = await adminFor('alice');
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(sim.tokenCount()).toBe(0);
  });

  it('drop fault destroys the connection without an answer', async () => {
    sim.failTokenEndpoints({ kind: 'drop' }, { times: 1 });
    await expect(adminFor('alice')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await adminFor('alice')).status).toBe(200);
  });

  it('delay fault answers normally after the delay, and forgets a request whose client left', async () => {
    sim.failTokenEndpoints({ kind: 'delay', ms: 50 }, { times: 1 });
    const started = Date.now();
    const r = await adminFor('alice');
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);

    sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 });
    const socket = connect(Number(new URL(sim.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `GET /API/user/alice/token HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('admin', 'admin')}\r\n\r\n`,
    );
    await until(() => sim.inFlightRequests() === 1);
    socket.destroy();
    await until(() => sim.inFlightRequests() === 0 && sim.openConnections() === 0);
  });

  it('rejects an invalid fault', () => {
    expect(() => sim.failTokenEndpoints({ kind: 'status', status: 42 })).toThrow(/status/);
    expect(() => sim.failTokenEndpoints({ kind: 'delay', ms: -1 })).toThrow(/ms/);
  });

  it('close() ends open keep-alive connections and hanging requests', async () => {
    sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 });
    const pending = call(sim.url, {
      path: '/API/user/alice/token',
      headers: { authorization: basic('admin', 'admin') },
    });
    await until(() => sim.inFlightRequests() === 1);
    expect(sim.openConnections()).toBe(1);
    const outcome = pending.then(
      () => 'answered',
      () => 'failed',
    );
    await sim.close();
    expect(await outcome).toBe('failed');
    expect(sim.openConnections()).toBe(0);
  });

  it('refuses invalid options', () => {
    expect(() => createSimulator({ maxSeconds: 0 })).toThrow(/maxSeconds/);
    expect(() => createSimulator({ defaultSeconds: 1.5 })).toThrow(/defaultSeconds/);
    expect(() => createSimulator({ defaultSeconds: 120 })).toThrow(
      /defaultSeconds \(120\) must not exceed maxSeconds \(60\) unless aboveMax is 'cap'/,
    );
    expect(() =>
      createSimulator({ users: [{ name: 'a', password: 'x', roles: ['_admin'] }] }),
    ).toThrow(
      'users[0].roles[0]: must be _administrator or _runas (the roles the simulator models)',
    );
    // A server that silently caps: tokens without `seconds` get the maximum.
    expect(() => createSimulator({ defaultSeconds: 120, aboveMax: 'cap' })).not.toThrow();
    expect(() => sim.setMaxSeconds(1.5)).toThrow(/maxSeconds must be a positive integer/);
    expect(() => sim.setMaxSeconds(30)).toThrow(
      /defaultSeconds \(60\) must not exceed maxSeconds \(30\) unless aboveMax is 'cap'/,
    );
    expect(() => createSimulator({ refreshIntervalSeconds: -1 })).toThrow(/refreshIntervalSeconds/);
    expect(() => sim.failTokenEndpoints({ kind: 'delay', ms: 2 ** 31 })).toThrow(
      /ms must be a number 0\.\.2147483647/,
    );
    expect(() =>
      createSimulator({
        users: [
          { name: 'a', password: 'x' },
          { name: 'a', password: 'y' },
        ],
      }),
    ).toThrow(/duplicate/);
  });

  it('url throws before listen', () => {
    expect(() => createSimulator().url).toThrow(/not listening/);
  });
});
