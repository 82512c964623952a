/**
 * Preloaded into a child proxy (NODE_OPTIONS=--require): the server that listens on
 * HOLD_LISTEN_PORT logs `{"event":"test_listen_held"}` and binds only once the process has
 * received SIGTERM, so a test can send the signal while that listener is still binding.
 */
const net = require('node:net');

const held = Number(process.env.HOLD_LISTEN_PORT);
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const port = typeof args[0] === 'object' && args[0] !== null ? args[0].port : args[0];
  if (port !== held) return listen.apply(this, args);
  process.once('SIGTERM', () => listen.apply(this, args));
  process.stdout.write('{"event":"test_listen_held"}\n');
  return this;
};
