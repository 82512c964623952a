// Preloaded (`node -r`) into one extra start of this proxy to see where its start-up time
// goes; the clean starts run without it, since timing every require() costs time itself.
// Records, as epoch milliseconds, when the main module began, every top-level require()
// from the proxy's own code into a package (inclusive of what that package loads), the
// first listen(), and the first token request (connect, TLS, answer). Writes JSON to
// $BENCH_STARTUP_TRACE when the process exits.
const Module = require('node:module');
const diagnostics = require('node:diagnostics_channel');
const { Server } = require('node:net');
const { writeFileSync } = require('node:fs');

const now = () => performance.timeOrigin + performance.now();
const trace = {
  processStart: performance.timeOrigin,
  bootstrapComplete: performance.timeOrigin + performance.nodeTiming.bootstrapComplete,
  mainStart: undefined,
  modules: [],
  firstListen: undefined,
  mint: undefined,
};

/** `express` for node_modules/express/…, `own` for the proxy's files, `node:x` for builtins. */
function owner(request, filename) {
  if (Module.isBuiltin(request)) return `node:${request.replace(/^node:/, '')}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(filename ?? '');
  return pkg ? pkg[1] : 'own';
}

const load = Module._load;
let depth = 0;
Module._load = function timedLoad(request, parent, isMain) {
  if (isMain) trace.mainStart = now();
  const from = parent ? owner(parent.id, parent.filename) : 'own';
  let to;
  try {
    to = Module.isBuiltin(request)
      ? owner(request)
      : owner(request, Module._resolveFilename(request, parent, isMain));
  } catch {
    to = 'unresolved';
  }
  const start = now();
  depth += 1;
  try {
    return load.apply(this, arguments);
  } finally {
    depth -= 1;
    const end = now();
    // a module is counted where the proxy's code (or the entry point) reaches into it
    if (depth === 0 || (from === 'own' && to !== 'own')) {
      trace.modules.push({ name: to, outermost: depth === 0, start, ms: end - start });
    }
  }
};

const listen = Server.prototype.listen;
Server.prototype.listen = function tracedListen() {
  trace.firstListen ??= now();
  return listen.apply(this, arguments);
};

diagnostics.subscribe('http.client.request.start', ({ request }) => {
  if (trace.mint !== undefined || !/\/token(\?|$)/.test(request.path)) return;
  const mint = (trace.mint = { start: now() });
  const watch = (socket) => {
    socket.once('connect', () => (mint.connected = now()));
    socket.once('secureConnect', () => (mint.secured = now()));
  };
  // the agent may have handed over the socket before this channel fires
  if (request.socket) watch(request.socket);
  else request.once('socket', watch);
  request.once('response', (response) => {
    mint.firstByte = now();
    response.once('end', () => (mint.end = now()));
  });
});

process.on('exit', () => {
  if (process.env.BENCH_STARTUP_TRACE) {
    writeFileSync(process.env.BENCH_STARTUP_TRACE, JSON.stringify(trace));
  }
});
