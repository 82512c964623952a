// The baseline: what most Node users write for "a proxy that adds a header" — Express plus
// http-proxy-middleware as in its README, with a token minted up front. It gets a keep-alive
// agent: without one http-proxy opens a connection per request and the baseline would be a
// straw man (about a third of this figure).
// Env: TARGET (upstream origin), TOKEN, PORT, HOST.
import { Agent } from 'node:http';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

const app = express();
app.use(
  createProxyMiddleware({
    target: process.env.TARGET,
    changeOrigin: true,
    agent: new Agent({ keepAlive: true }),
    headers: { Authorization: `token ${process.env.TOKEN}` },
  }),
);
const server = app.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
