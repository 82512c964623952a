// The least a Node.js proxy can be: `node:http` server, `node:http` client with a keep-alive
// agent, one header set, bodies piped both ways. The floor for this proxy's CPU per request
// and per GiB. Env: TARGET (upstream origin), TOKEN, PORT, HOST.
import { Agent, createServer, request } from 'node:http';

const target = new URL(process.env.TARGET);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const authorization = `token ${process.env.TOKEN}`;

const server = createServer({ requestTimeout: 0 }, (req, res) => {
  const headers = { ...req.headers, authorization };
  delete headers.connection;
  delete headers['keep-alive'];
  const options = { hostname: target.hostname, port: target.port, method: req.method, agent };
  const upstream = request({ ...options, path: req.url, headers });
  upstream.on('response', (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  req.pipe(upstream);
});
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
