// A stand-in for Vidispine that checks bodies of any size, for `npm run bench:large-bodies`:
// it mints a fixed token, hashes every upload (SHA-256, streamed) and streams downloads of
// the simulator's pattern (byte i is i mod 251) with `Content-Length` or chunked, and with
// a single `Range`. Nothing is held: the bodies pass through a hash, or come from a block of
// 64 KiB.
//
// Routes (all but the token need `Authorization: token bench`):
//   GET      /API/token                          → "bench"
//   PUT/POST /API/upload                         {"bytes","sha256","contentLength","transferEncoding"}
//   GET      /API/download?size=N[&chunked=1]    N pattern bytes; `Range: bytes=a-[b]` → 206
// Prints {"port":N} on stdout once listening.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { patternChunks } from './lib/pattern.mjs';

const TOKEN = 'bench';

function upload(req, res) {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  req.on('end', () => {
    const body = JSON.stringify({
      bytes,
      sha256: hash.digest('hex'),
      contentLength: req.headers['content-length'] ?? null,
      transferEncoding: req.headers['transfer-encoding'] ?? null,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
}

function download(req, res, query) {
  const size = Number(query.get('size'));
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const end = m && m[2] !== '' ? Math.min(Number(m[2]), size - 1) : size - 1;
  const headers = { 'content-type': 'application/octet-stream' };
  if (m) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  if (query.get('chunked') !== '1') headers['content-length'] = String(end - start + 1);
  res.writeHead(m ? 206 : 200, headers);
  const chunks = patternChunks(start, end - start + 1);
  const pump = () => {
    for (;;) {
      if (res.destroyed) return;
      const next = chunks.next();
      if (next.done) return void res.end();
      if (!res.write(next.value)) return void res.once('drain', pump);
    }
  };
  pump();
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://upstream');
  if (url.pathname === '/API/token') return void res.writeHead(200).end(TOKEN);
  if (req.headers.authorization !== `token ${TOKEN}`) return void res.writeHead(401).end();
  if (url.pathname === '/API/upload') return upload(req, res);
  if (url.pathname === '/API/download') return download(req, res, url.searchParams);
  res.writeHead(404).end();
});
// Multi-GiB bodies: no overall request timeout.
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
