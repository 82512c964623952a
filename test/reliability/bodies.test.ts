/**
 * Request bodies held for replay have a process-wide budget; beyond it they stream with
 * `Expect: 100-continue` like large ones. A client that stops sending its body gets 408
 * (nginx's `client_body_timeout`), whichever way the body was travelling, and what it held
 * is given back.
 */
import * as net from 'node:net';
import { header, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { call } from '../support/http';
import { until } from '../support/wait';
import { startHarness, type Harness } from '../support/app';

const KiB = 1024;

let upstream: RawUpstream;
let h: Harness;
beforeAll(async () => {
  upstream = await startRawUpstream();
  h = await startHarness({
    forwardTo: upstream.url,
    proxy: {
      replayBufferBytes: 64 * KiB,
      replayBufferTotalBytes: 100 * KiB,
      clientBodyTimeoutSeconds: 0.5,
    },
  });
});
afterAll(async () => {
  await h.close();
  await upstream.close();
});

interface Upload {
  /** Everything the proxy sent back, once it closed the connection. */
  readonly answer: Promise<string>;
  send(bytes: number): void;
}

/** An upload that declares `declared` bytes and sends only what the test says. */
function upload(declared: number): Upload {
  const socket = net.connect(h.port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`POST /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return {
    answer: new Promise((resolve) =>
      socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1'))),
    ),
    send: (bytes) => void socket.write(Buffer.alloc(bytes, 'a')),
  };
}

it('holds bodies only within the budget, streams the rest, and answers 408 to clients that stall', async () => {
  // A: within the budget, held until complete (nothing reaches Vidispine yet).
  const a = upload(60 * KiB);
  a.send(KiB);
  await until(() => h.observer.started === 1);
  // B: over the budget, so it streams: its head goes upstream at once, asking for 100.
  const b = upload(60 * KiB);
  b.send(KiB);
  await until(() => upstream.heads.length === 1);
  const [streamed] = upstream.heads;
  expect(header(streamed, 'expect')).toBe('100-continue');
  expect(header(streamed, 'content-length')).toBe(String(60 * KiB));

  // Both stall: each gets 408 on a closed connection; B's upstream request is abandoned.
  const [answerA, answerB] = await Promise.all([a.answer, b.answer]);
  expect(answerA).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
  expect(answerA).toContain('the client sent no body bytes for 0.5 s');
  expect(answerB).toMatch(/^HTTP\/1\.1 408 /);
  expect(upstream.requests).toEqual([]);
  await until(() => upstream.open() === 0);
  await until(() => h.observer.finished.length === 2);
  expect(h.observer.finished.map((f) => f.status)).toEqual([408, 408]);

  // Their budget is back: the next small body is held again (no Expect) and sent whole.
  const body = Buffer.alloc(60 * KiB, 'c');
  const reply = await call(h.port, { method: 'POST', path: '/API/import/raw', body });
  expect(reply.status).toBe(200);
  expect(upstream.heads).toHaveLength(2);
  expect(header(upstream.requests[0], 'expect')).toBeUndefined();
  expect(upstream.requests[0].body.equals(body)).toBe(true);
});
