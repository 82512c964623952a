// The same 20-line forwarder with undici's `Pool` as the upstream client instead of
// `node:http`'s agent: what the client alone costs. Env: TARGET, TOKEN, PORT, HOST.
import { createServer } from 'node:http';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';

const pool = new Pool(process.env.TARGET, { connections: 256 });
const authorization = `token ${process.env.TOKEN}`;
const bodiless = new Set(['GET', 'HEAD']);
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding'];

const server = createServer({ requestTimeout: 0 }, async (req, res) => {
  // undici refuses hop-by-hop request headers; it frames the body itself
  const headers = { ...req.headers, authorization };
  for (const name of HOP_BY_HOP) delete headers[name];
  const body = bodiless.has(req.method) ? undefined : req;
  try {
    const answer = await pool.request({
      path: req.url,
      method: req.method,
      headers,
      body,
    });
    res.writeHead(answer.statusCode, answer.headers);
    pipeline(answer.body, res, () => {});
  } catch {
    if (res.headersSent) res.destroy();
    else res.writeHead(502).end();
  }
});
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
