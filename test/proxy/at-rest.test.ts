/**
 * One young collection once the proxy has gone quiet, so that V8's memory reducer sees the
 * quiet and gives memory back (`AtRest`); the clock is Jest's, and one real `run` shows V8
 * taking it from there.
 */
import { AtRest, QUIET_SECONDS } from '../../src/proxy/at-rest';
import { createSimulator } from '../../src/simulator';
import { aliceAgainst, ChildProxy } from '../support/child-proxy';
import { call } from '../support/http';
import { parseExposition, value } from '../support/prom-parse';
import { HANG_GUARD_MS } from '../support/wait';

describe('AtRest', () => {
  const QUIET = 1000;
  let collections: number;
  let atRest: AtRest | undefined;
  const start = (): AtRest => (atRest = new AtRest(() => (collections += 1), QUIET));

  beforeEach(() => {
    jest.useFakeTimers();
    collections = 0;
  });
  afterEach(() => {
    atRest?.stop();
    jest.useRealTimers();
  });

  it('collects once a first quiet spell after it was made, then sets no timer', () => {
    start();
    jest.advanceTimersByTime(QUIET - 1);
    expect(collections).toBe(0);
    jest.advanceTimersByTime(1);
    expect(collections).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(10 * QUIET);
    expect(collections).toBe(1);
  });

  it('collects between one and two quiet spells after the last request, once', () => {
    const rest = start();
    jest.advanceTimersByTime(QUIET);
    expect(collections).toBe(1);

    rest.requestStarted();
    jest.advanceTimersByTime(QUIET / 2);
    rest.requestFinished();
    jest.advanceTimersByTime(QUIET - 1);
    expect(collections).toBe(1);
    jest.advanceTimersByTime(QUIET);
    expect(collections).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does not collect while requests keep coming, however long', () => {
    const rest = start();
    for (let i = 0; i < 40; i += 1) {
      rest.requestStarted();
      jest.advanceTimersByTime(QUIET / 4);
      rest.requestFinished();
      jest.advanceTimersByTime(QUIET / 4);
    }
    expect(collections).toBe(0);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(2 * QUIET);
    expect(collections).toBe(1);
  });

  it('a request finishing after a long quiet one counts: a long transfer defers it', () => {
    const rest = start();
    rest.requestStarted();
    jest.advanceTimersByTime(QUIET);
    // the first timer saw the start; the second finds nothing new
    jest.advanceTimersByTime(QUIET - 1);
    rest.requestFinished();
    jest.advanceTimersByTime(1);
    expect(collections).toBe(0);
    jest.advanceTimersByTime(2 * QUIET);
    expect(collections).toBe(1);
  });

  it('once stopped, neither its timer nor a request makes it collect', () => {
    const rest = start();
    rest.stop();
    expect(jest.getTimerCount()).toBe(0);
    rest.requestStarted();
    rest.requestFinished();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(10 * QUIET);
    expect(collections).toBe(0);
  });

  it('waits 10 s by default', () => {
    expect(QUIET_SECONDS).toBe(10);
    atRest = new AtRest(() => (collections += 1));
    jest.advanceTimersByTime(QUIET_SECONDS * 1000 - 1);
    expect(collections).toBe(0);
    jest.advanceTimersByTime(1);
    expect(collections).toBe(1);
  });
});

/** Collections of `kinds` counted so far by the default metrics of the ops listener. */
async function collections(ops: number, kinds: readonly string[]): Promise<number> {
  const exposition = parseExposition((await call(ops, { path: '/metrics' })).text);
  return kinds.reduce(
    (sum, kind) => sum + (value(exposition, 'nodejs_gc_duration_seconds_count', { kind }) ?? 0),
    0,
  );
}

it(
  'run, left alone after its first mint, collects, and V8 then reduces its heap',
  async () => {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    const proxy = ChildProxy.start(['run'], { ...aliceAgainst(sim.url), LOG_LEVEL: 'debug' });
    try {
      const listening = await proxy.waitForEvent('listening');
      const ops = (listening.ops as { port: number }).port;
      await proxy.waitForEvent('token_minted');
      // The first scrape starts the count; it allocates, which is all the better a test.
      const major = ['major', 'incremental'];
      const before = await collections(ops, major);
      const rest = await proxy.waitForEvent('at_rest');
      expect(rest.quietSeconds).toBe(QUIET_SECONDS);
      // V8's memory reducer: about 8 s after it last looked, a full collection that shrinks
      // the heap; Node.js 24 runs none at rest without the young collection before it. Looked
      // for once a second: a scrape allocates, and scrapes in a tight loop would read to the
      // reducer as a busy process.
      while ((await collections(ops, major)) === before) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } finally {
      proxy.kill('SIGKILL');
      await proxy.exited;
      await sim.close();
    }
  },
  HANG_GUARD_MS,
);
