/**
 * `watchWriteStall` on a real connection, with a fake clock: it runs out the timeout after
 * the last byte the peer took, once, and not while nothing is held for the peer.
 */
import * as net from 'node:net';
import { watchWriteStall, writeMark } from '../../src/proxy/write-stall';
import { settle } from '../support/wait';

const TIMEOUT_MS = 300_000;

interface Pair {
  /** The writing side. */
  readonly writer: net.Socket;
  /** The peer's side, paused: it takes nothing until resumed. */
  readonly peer: net.Socket;
  close(): Promise<void>;
}

async function connected(): Promise<Pair> {
  let accept: (socket: net.Socket) => void = () => undefined;
  const accepted = new Promise<net.Socket>((resolve) => (accept = resolve));
  const server = net.createServer({ pauseOnConnect: true }, accept);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const writer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => writer.once('connect', resolve));
  const peer = await accepted;
  return {
    writer,
    peer,
    close: () =>
      new Promise<void>((resolve) => {
        writer.destroy();
        peer.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes until the kernel takes no more: the peer's window and both buffers are full. */
async function fill(writer: net.Socket): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const pump = (): void => {
    while (writer.write(chunk));
  };
  writer.on('drain', pump);
  pump();
  for (let quiet = 0; quiet < 20;) {
    const mark = writeMark(writer);
    await settle();
    quiet = writeMark(writer) === mark ? quiet + 1 : 0;
  }
}

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date'] });
});
afterEach(() => {
  jest.useRealTimers();
});

it('runs out the timeout once after the peer stopped taking bytes', async () => {
  const p = await connected();
  try {
    await fill(p.writer);
    let stalls = 0;
    watchWriteStall(p.writer, TIMEOUT_MS, () => (stalls += 1));
    jest.advanceTimersByTime(TIMEOUT_MS - 1);
    expect(stalls).toBe(0);
    jest.advanceTimersByTime(1);
    expect(stalls).toBe(1);
    jest.advanceTimersByTime(10 * TIMEOUT_MS);
    expect(stalls).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    await p.close();
  }
});

it('counts from the last byte the peer took', async () => {
  const p = await connected();
  try {
    await fill(p.writer);
    let stalls = 0;
    watchWriteStall(p.writer, TIMEOUT_MS, () => (stalls += 1));
    jest.advanceTimersByTime(TIMEOUT_MS / 2);
    // The peer takes bytes until the writer sees some go, then stops again.
    const before = writeMark(p.writer);
    p.peer.resume();
    while (writeMark(p.writer) === before) await settle();
    p.peer.pause();
    await fill(p.writer);
    // Taken in the tenth of the timeout before the next look, the earliest that can tell.
    jest.advanceTimersByTime(TIMEOUT_MS - 1);
    expect(stalls).toBe(0);
    jest.advanceTimersByTime(TIMEOUT_MS / 10 + 1);
    expect(stalls).toBe(1);
  } finally {
    await p.close();
  }
});

it('does not run while nothing is held for the peer', async () => {
  const p = await connected();
  try {
    let stalls = 0;
    const stop = watchWriteStall(p.writer, TIMEOUT_MS, () => (stalls += 1));
    jest.advanceTimersByTime(10 * TIMEOUT_MS);
    expect(stalls).toBe(0);
    stop();
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    await p.close();
  }
});
