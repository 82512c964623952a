/**
 * `SendTimeout` on a real connection, with a fake clock: it runs only while a write waits
 * for the client. A pipe also pauses its source when it comes apart (the answer finished or
 * its client left), which holds nothing back for anyone.
 */
import * as http from 'node:http';
import { PassThrough } from 'node:stream';
import { SendTimeout } from '../../src/proxy/send-timeout';
import { stopReading } from '../support/stalled-reader';
import { MiB } from '../support/reliability-clients';
import { settle } from '../support/wait';
import { onLoopback } from '../support/net';

const SEND_TIMEOUT_MS = 60_000;

interface Answering {
  readonly port: number;
  /** The source piped into the answer, and the answer's close. */
  readonly answer: Promise<{ source: PassThrough; closed: Promise<void> }>;
  stalls(): number;
  close(): Promise<void>;
}

/** A server whose one answer is `source` piped, its pauses watched by a SendTimeout. */
async function answering(): Promise<Answering> {
  let stalls = 0;
  let handOver: (a: { source: PassThrough; closed: Promise<void> }) => void = () => undefined;
  const answer = new Promise<{ source: PassThrough; closed: Promise<void> }>((resolve) => {
    handOver = resolve;
  });
  const server = http.createServer((_req, res) => {
    const source = new PassThrough();
    const closed = new Promise<void>((resolve) => res.on('close', resolve));
    source.on('pause', new SendTimeout(res, SEND_TIMEOUT_MS, () => (stalls += 1)).held);
    source.pipe(res);
    handOver({ source, closed });
  });
  return { ...(await onLoopback(server)), answer, stalls: () => stalls };
}

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date'] });
});
afterEach(() => {
  jest.useRealTimers();
});

it('leaves no clock behind when the client leaves an answer it was taking at once', async () => {
  const s = await answering();
  try {
    const req = http.get({ port: s.port, path: '/' });
    req.on('error', () => undefined);
    const { source, closed } = await s.answer;
    source.write('the first bytes');
    await new Promise((resolve) => req.on('response', (res) => res.once('data', resolve)));
    req.destroy();
    await closed;
    await settle();
    // A clock started here would hold the answer for a minute and fire on a closed one.
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    await s.close();
  }
});

it('leaves no clock behind when an answer the client took at once ends', async () => {
  const s = await answering();
  try {
    http.get({ port: s.port, path: '/' }, (res) => res.resume()).on('error', () => undefined);
    const { source, closed } = await s.answer;
    source.end('all of it');
    await closed;
    await settle();
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    await s.close();
  }
});

it('runs while the client takes nothing, and cuts once it has run out', async () => {
  const s = await answering();
  try {
    const reader = stopReading(s.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { source } = await s.answer;
    const chunk = Buffer.alloc(64 * 1024);
    const pump = (): void => {
      while (source.write(chunk));
      source.once('drain', pump);
    };
    pump();
    // Until the client has stopped reading and the pipe holds its source back for good.
    while (!(reader.received() > MiB && source.isPaused() && source.writableNeedDrain)) {
      await settle();
    }
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(SEND_TIMEOUT_MS - 1);
    expect(s.stalls()).toBe(0);
    jest.advanceTimersByTime(1);
    expect(s.stalls()).toBe(1);
  } finally {
    await s.close();
  }
});
