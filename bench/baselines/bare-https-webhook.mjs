// The floor under bench:inject: what any Node.js webhook must do and nothing else —
// `node:https` with the same certificate and TLS settings, the body read and JSON.parse'd,
// the same answer bytes written with the same headers, no checks, no decision, no metrics,
// no log. The webhook's CPU per review is reported as a ratio to this one's.
// Env: PORT, CERT_FILE, KEY_FILE, ANSWER_FILE (the answer's body); COUNT_PORT, a plain HTTP
// listener whose GET answers {"count":N}, the requests answered so far.
import { createServer } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';

const answer = readFileSync(process.env.ANSWER_FILE, 'utf8');
const headers = {
  'content-type': 'application/json',
  'content-length': Buffer.byteLength(answer),
  'cache-control': 'no-store',
};
let count = 0;

const tls = {
  minVersion: 'TLSv1.2',
  cert: readFileSync(process.env.CERT_FILE),
  key: readFileSync(process.env.KEY_FILE),
};
const server = createServer(tls, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, headers);
    res.end(answer);
    count++;
  });
});
server.keepAliveTimeout = 120_000;

const counter = createHttpServer((req, res) => res.end(JSON.stringify({ count })));
counter.listen(Number(process.env.COUNT_PORT), '127.0.0.1');
server.listen(Number(process.env.PORT), '127.0.0.1');
await Promise.all([once(counter, 'listening'), once(server, 'listening')]);
process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
process.on('SIGTERM', () => process.exit(0));
