// Preloaded into a child process (NODE_OPTIONS=--require): says on stderr, once per method,
// when the process turns a Date into text with V8's own formatting, and from where. On
// Node.js 20 the first such call maps ICU's time zone names into the process for good.
const said = new Set();
for (const method of [
  'toISOString',
  'toUTCString',
  'toString',
  'toDateString',
  'toTimeString',
  'toLocaleString',
  'toLocaleDateString',
  'toLocaleTimeString',
]) {
  const own = Date.prototype[method];
  Date.prototype[method] = function (...args) {
    if (!said.has(method)) {
      said.add(method);
      const from = new Error().stack.split('\n').slice(2, 5).join(' |');
      process._rawDebug(`Date#${method} called:${from}`);
    }
    return own.apply(this, args);
  };
}
