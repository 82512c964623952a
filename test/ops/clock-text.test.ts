/**
 * Times as text without `Date`'s own formatting (src/clock-text.ts): the same text, and the
 * proxy as a real child process never asks V8 for it — on Node.js 20 the first time it does
 * maps about 1 MiB of ICU's time zone data into every pod.
 */
import { join } from 'node:path';
import { httpDate, isoTime } from '../../src/clock-text';
import { createSimulator } from '../../src/simulator';
import { aliceAgainst, ChildProxy } from '../support/child-proxy';
import { call } from '../support/http';

const DAY = 24 * 3600 * 1000;

/** Instants over four centuries, leap days, the ends of days and of milliseconds. */
const INSTANTS = [
  0,
  1,
  999,
  Date.UTC(2000, 1, 29, 23, 59, 59, 999),
  Date.UTC(2026, 11, 2, 18, 9, 41, 7),
  Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  Date.UTC(0, 0, 1) - 1 + 1,
  ...Array.from(
    { length: 400 },
    (_, i) => Date.UTC(1800 + i, i % 12, 1 + (i % 28)) + i * 3_601_001,
  ),
  ...Array.from({ length: 366 }, (_, i) => Date.UTC(2024, 0, 1) + i * DAY + i * 1_234),
];

describe('clock-text', () => {
  it.each(INSTANTS)('%d reads as Date writes it', (ms) => {
    const d = new Date(ms);
    expect(isoTime(ms)).toBe(d.toISOString());
    expect(httpDate(ms)).toBe(d.toUTCString());
  });

  it('years beyond four digits take the extended form, as Date writes them', () => {
    for (const ms of [Date.UTC(10000, 0, 1), Date.UTC(-1, 5, 1), -62198755200001]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      expect(httpDate(ms)).toBe(new Date(ms).toUTCString());
    }
  });

  it('an invalid time throws as toISOString does', () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(httpDate(Number.NaN)).toBe('Invalid Date');
  });
});

it('the proxy logs, mints, answers and is scraped without turning a Date into text', async () => {
  const sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
  const proxy = ChildProxy.start(['run'], {
    ...aliceAgainst(sim.url),
    NODE_OPTIONS: `--require ${join(__dirname, '..', 'support', 'date-text-trap.cjs')}`,
    LOG_LEVEL: 'debug',
  });
  try {
    const listening = await proxy.waitForEvent('listening');
    const data = (listening.listeners as { port: number }[])[0].port;
    const ops = (listening.ops as { port: number }).port;
    await proxy.waitForEvent('token_minted');
    expect((await call(data, { path: '/API/whoami' })).status).toBe(200);
    // The proxy's own answer, and every ops endpoint: each carries its Date all the same.
    const own = await call(data, { method: 'TRACE', path: '/API/item' });
    expect(own.status).toBe(405);
    expect(own.headers.date).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    for (const path of ['/livez', '/readyz', '/startupz', '/metrics', '/status', '/', '/nope']) {
      expect((await call(ops, { path })).headers.date).toMatch(/ GMT$/);
    }
    proxy.kill('SIGTERM');
    await proxy.exited;
    expect(proxy.stderr).toBe('');
  } finally {
    proxy.kill();
    await sim.close();
  }
}, 20_000);
