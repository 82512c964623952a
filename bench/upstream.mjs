// A minimal, fast stand-in for Vidispine, run in its own process by the benchmark.
// It authenticates like Vidispine (Basic on the token endpoints, `token <t>` everywhere
// else) but does nothing else, so the figures measure the proxies, not the upstream.
//
// Routes:
//   GET  /API/token                   Basic user:password → text/plain token
//   GET  /API/user/{name}/token       Basic admin (or the user itself) → text/plain token
//   GET  /API/bench/download?bytes=N  N deterministic bytes
//   PUT  /API/bench/upload            counts the body, answers {"bytes":N}
//   GET  /API/...                     about 1 KiB of JSON
//   GET  /__bench/stats               mint calls per user, rejected requests (no auth)
//   POST /__bench/reset               zero the counters
// Prints {"port":N} on stdout once listening.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

const USERS = new Map([
  ['admin', 'admin'],
  ['alice', 'alice-password'],
]);
const ADMIN = 'admin';
const DEFAULT_TOKEN_SECONDS = 60;
const TOKEN_PREFIX = 'token ';
const USER_TOKEN_PATH = /^\/API\/user\/([^/]+)\/token$/;

const SMALL_BODY = Buffer.from(
  JSON.stringify({
    id: 'VX-1001',
    type: 'item',
    metadata: Array.from({ length: 16 }, (_, i) => ({
      field: `field_${i}`,
      value: `value number ${i} of the benchmark item`,
    })),
  }),
);
const SMALL_HEADERS = {
  'content-type': 'application/json',
  'content-length': String(SMALL_BODY.length),
};

const CHUNK = Buffer.alloc(256 * 1024);
for (let i = 0; i < CHUNK.length; i++) CHUNK[i] = (i * 31 + 7) & 0xff;

/** token → { user, expiresAt } */
const tokens = new Map();
let stats = freshStats();

function freshStats() {
  return { mints: {}, rejected: 0, requests: 0, uploadedBytes: 0 };
}

function basicUser(header) {
  if (header === undefined || !header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  return USERS.get(user) === decoded.slice(colon + 1) ? user : undefined;
}

function mint(res, user, query) {
  const seconds = Number(query.get('seconds')) || DEFAULT_TOKEN_SECONDS;
  const token = `VX-${randomBytes(12).toString('hex')}`;
  tokens.set(token, { user, expiresAt: Date.now() + seconds * 1000 });
  stats.mints[user] = (stats.mints[user] ?? 0) + 1;
  res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
}

function tokenValid(header) {
  if (header === undefined || !header.startsWith(TOKEN_PREFIX)) return false;
  const entry = tokens.get(header.slice(TOKEN_PREFIX.length));
  return entry !== undefined && entry.expiresAt > Date.now();
}

function reject(req, res, status) {
  stats.rejected++;
  req.resume();
  res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status}\n`);
}

function download(res, bytes) {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(bytes),
  });
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const more = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!more) return;
    }
    res.off('drain', pump);
    res.end();
  };
  res.on('drain', pump);
  pump();
}

function upload(req, res) {
  let bytes = 0;
  req.on('data', (chunk) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    stats.uploadedBytes += bytes;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes }));
  });
}

function control(req, res, path) {
  if (path === '/__bench/reset' && req.method === 'POST') stats = freshStats();
  else if (path !== '/__bench/stats') return reject(req, res, 404);
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
}

function handle(req, res) {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path.startsWith('/__bench/')) return control(req, res, path);
  stats.requests++;

  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  if (path === '/API/token') {
    const user = basicUser(req.headers.authorization);
    return user === undefined ? reject(req, res, 401) : mint(res, user, query);
  }
  const userToken = USER_TOKEN_PATH.exec(path);
  if (userToken !== null) {
    const caller = basicUser(req.headers.authorization);
    const target = decodeURIComponent(userToken[1]);
    if (caller === undefined) return reject(req, res, 401);
    if (caller !== ADMIN && caller !== target) return reject(req, res, 403);
    return mint(res, target, query);
  }

  if (!tokenValid(req.headers.authorization)) return reject(req, res, 401);
  if (path === '/API/bench/upload') return upload(req, res);
  req.resume();
  if (path === '/API/bench/download') return download(res, Number(query.get('bytes')) || 0);
  res.writeHead(200, SMALL_HEADERS).end(SMALL_BODY);
}

const server = createServer(
  { keepAliveTimeout: 120_000, requestTimeout: 0, headersTimeout: 60_000 },
  handle,
);
server.maxRequestsPerSocket = 0;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
