// Cold start: waits for "go <epochMs> <origin>" on stdin (sent right after the contender was
// spawned), polls until its port accepts connections, then fires N concurrent first requests,
// each on its own raw connection (cheap enough that opening 10,000 of them does not delay
// reading the first answers). Prints { firstMs, allMs, ok, failed, statuses }, times from
// the spawn.
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const { path, requests } = JSON.parse(process.argv[2]);
const BATCH = 500; // connections opened per event-loop turn
const GIVE_UP_MS = 40_000; // report what has answered by then; the rest count as failed
const now = () => performance.timeOrigin + performance.now();
const READ_BUFFER = Buffer.alloc(64 * 1024);

let host;
let port;
let request;
let first = Infinity;
let okCount = 0;
let settledCount = 0;
const statuses = {};

function count(key) {
  statuses[key] = (statuses[key] ?? 0) + 1;
}

function accepts() {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function waitForPort(deadline) {
  while (now() < deadline) {
    if (await accepts()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`${host}:${port} did not accept connections`);
}

/** One request; an answer counts once its status line has arrived. */
function one() {
  return new Promise((resolve) => {
    let settled = false;
    const done = (key, ok) => {
      if (settled) return;
      settled = true;
      settledCount++;
      if (ok) okCount++;
      count(key);
      socket.destroy();
      resolve(ok);
    };
    const socket = connect({
      host,
      port,
      onread: {
        buffer: READ_BUFFER,
        callback(n, buf) {
          const status = Number(buf.latin1Slice(9, 12));
          if (status === 200) first = Math.min(first, now());
          done(status, status === 200);
          return false;
        },
      },
    });
    socket.setTimeout(GIVE_UP_MS, () => done('timeout', false));
    socket.on('error', (err) => done(err.code ?? 'error', false));
    socket.on('close', () => done('closed', false));
    socket.write(request);
  });
}

/** The first request goes alone so its answer is read before the rest are being opened. */
async function fire() {
  const answers = [one()];
  await new Promise((r) => setImmediate(r));
  for (let i = 1; i < requests; i += BATCH) {
    for (let j = i; j < Math.min(requests, i + BATCH); j++) answers.push(one());
    await new Promise((r) => setImmediate(r));
  }
  return Promise.all(answers);
}

process.stdout.write('{"ready":true}\n');
const lines = createInterface({ input: process.stdin });
const line = await new Promise((resolve) => lines.once('line', resolve));
lines.close();
const [, at, origin] = line.split(' ');
const spawnedAt = Number(at);
const target = new URL(origin);
host = target.hostname;
port = Number(target.port);
request = `GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`;
await waitForPort(spawnedAt + 30_000);
const giveUp = new Promise((r) => setTimeout(r, GIVE_UP_MS).unref());
await Promise.race([fire(), giveUp]);
const allAnswered = settledCount === requests;
if (!allAnswered) statuses.unanswered = requests - settledCount;
process.stdout.write(
  `${JSON.stringify({
    firstMs: first - spawnedAt,
    allMs: allAnswered ? now() - spawnedAt : null,
    ok: okCount,
    failed: requests - okCount,
    statuses,
  })}\n`,
);
process.exit(0);
