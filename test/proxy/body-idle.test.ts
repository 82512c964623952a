/**
 * The idle timeout of a request body (`watchBodyIdle`, nginx's `client_body_timeout`): it
 * ends with the body, and with the connection the body came on.
 */
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { watchBodyIdle } from '../../src/proxy/body';

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

function bodyComing(): { socket: Socket; req: IncomingMessage; idle: jest.Mock } {
  const socket = new Socket();
  const req = new IncomingMessage(socket);
  const idle = jest.fn();
  watchBodyIdle(req, 60_000, idle);
  return { socket, req, idle };
}

it('calls onIdle once the client sent nothing for the timeout', () => {
  const { req, idle } = bodyComing();
  jest.advanceTimersByTime(59_999);
  req.emit('data', Buffer.from('x'));
  jest.advanceTimersByTime(59_999);
  expect(idle).not.toHaveBeenCalled();
  jest.advanceTimersByTime(1);
  expect(idle).toHaveBeenCalledTimes(1);
});

it('stops when the connection closes under a request that never ends nor closes', () => {
  // A request answered before its body ended (Vidispine's early 413, the connection kept
  // open) is no longer Node's to close when its client leaves.
  const { socket, idle } = bodyComing();
  socket.emit('close', false);
  // Before: the timer stayed its 60 s, holding the request and what it was read for.
  expect(jest.getTimerCount()).toBe(0);
  jest.advanceTimersByTime(60_000);
  expect(idle).not.toHaveBeenCalled();
});

it('leaves no listener on a connection kept alive once the body ended', () => {
  const socket = new Socket();
  const baseline = socket.listenerCount('close');
  // One connection, request after request.
  for (let i = 0; i < 20; i += 1) {
    const req = new IncomingMessage(socket);
    watchBodyIdle(req, 60_000, () => undefined);
    req.emit('end');
  }
  expect(socket.listenerCount('close')).toBe(baseline);
  expect(jest.getTimerCount()).toBe(0);
});
