// Opens N keep-alive connections, makes one request on each, then leaves them idle.
// Prints {"open":N,"failed":F} once all answered; every "check" line on stdin prints how
// many are still open; closing stdin ends the process.
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';

const { url, connections, headers } = JSON.parse(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });

function one() {
  return new Promise((resolve) => {
    const req = request(url, { headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

function open() {
  return Object.values(agent.freeSockets).reduce((n, list) => n + list.length, 0);
}

const answers = await Promise.all(Array.from({ length: connections }, one));
await new Promise((r) => setImmediate(r)); // let sockets return to the free pool
const failed = answers.filter((ok) => !ok).length;
process.stdout.write(`${JSON.stringify({ open: open(), failed })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', () => process.stdout.write(`${JSON.stringify({ open: open() })}\n`));
lines.on('close', () => {
  agent.destroy();
  process.exit(0);
});
