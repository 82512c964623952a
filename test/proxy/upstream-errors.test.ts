/**
 * How the pool tells a reset answer from a whole one: a flag held while undici handles an
 * error of one of its connections (see `Upstream.resetting`). It must never outlive that.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { watchingErrors } from '../../src/proxy/upstream';

/** A connection as undici would hold it: `handle` is the error listener undici adds. */
function connection(handle: (seen: boolean) => void) {
  let failing = false;
  const socket = new EventEmitter();
  const connect = watchingErrors(
    (_options, callback) => callback(null, socket as unknown as Socket),
    () => (failing = true),
    () => (failing = false),
  );
  connect({} as buildConnector.Options, () => socket.on('error', () => handle(failing)));
  return { socket, failing: () => failing };
}

it('holds the flag exactly while undici handles the error', () => {
  const seen: boolean[] = [];
  const c = connection((failing) => seen.push(failing));
  expect(c.failing()).toBe(false);
  c.socket.emit('error', new Error('read ECONNRESET'));
  expect(seen).toEqual([true]);
  expect(c.failing()).toBe(false);
});

it('drops the flag once the turn is over even when a handler throws', async () => {
  const c = connection(() => {
    throw new Error('a handler failed');
  });
  expect(() => c.socket.emit('error', new Error('read ECONNRESET'))).toThrow('a handler failed');
  await new Promise((resolve) => process.nextTick(resolve));
  expect(c.failing()).toBe(false);
});
