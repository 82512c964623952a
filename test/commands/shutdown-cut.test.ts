/**
 * Answers still under way when the proxy stops, against the real CLI: the end of the drain
 * window and a second signal cut them as a failure of Vidispine would be cut. An answer
 * only the close of its connection delimits (to an HTTP/1.0 client) is reset: an orderly
 * close would make the short body look whole. Each request cut has its access line.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  constants as fsConstants,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ok, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { CLI } from '../support/cli';
import { until } from '../support/wait';

let upstream: RawUpstream;
beforeAll(async () => {
  // A download that starts and never ends, requests never answered; anything else (the
  // token) is answered.
  upstream = await startRawUpstream((request, socket) => {
    if (request.target.startsWith('/API/held')) return 'hang';
    if (request.target !== '/API/download') return ok('token');
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n');
    return 'hang';
  });
});
afterAll(() => upstream.close());

/** A raw HTTP/1.0 download: resolves once its first body bytes arrived, then how it ended. */
function download(port: number): { started: Promise<void>; ended: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  const started = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('0123456789')) resolve();
    });
  });
  const ended = new Promise<string>((resolve) => {
    socket.on('end', () => resolve('fin'));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  socket.write('GET /API/download HTTP/1.0\r\n\r\n');
  return { started, ended };
}

/** The two cuts: the drain window's end (its seconds), and a second signal within it. */
const CUTS = [
  ['the drain window ends', '0.2', ['SIGTERM']],
  ['a second signal forces the exit', '60', ['SIGTERM', 'SIGTERM']],
] as const;

/** The CLI for alice of `vidispine`, stopping at once with `drainSeconds` of drain. */
function startCli(
  vidispine: string,
  drainSeconds: string,
  extra: NodeJS.ProcessEnv = {},
): ChildProxy {
  return ChildProxy.start(
    ['run'],
    aliceEnv(vidispine, {
      SHUTDOWN_DELAY_SECONDS: '0',
      SHUTDOWN_DRAIN_SECONDS: drainSeconds,
      ...extra,
    }),
  );
}

/** The port of the proxy's listener, once it listens. */
async function proxyPort(proxy: ChildProxy): Promise<number> {
  const listening = await proxy.waitForEvent('listening');
  return (listening.listeners as { port: number }[])[0].port;
}

/** Sends each signal in turn, waiting after each until the listeners are closed. */
async function signalInTurn(proxy: ChildProxy, signals: readonly NodeJS.Signals[]): Promise<void> {
  for (const signal of signals) {
    proxy.kill(signal);
    await proxy.waitFor((l) => l.event === 'shutdown' && l.step === 'close_listeners');
  }
}

it.each(CUTS)(
  'an HTTP/1.0 download still running when %s is reset, never ended in order',
  async (_, drainSeconds, signals) => {
    const proxy = startCli(upstream.url, drainSeconds);
    try {
      const port = await proxyPort(proxy);
      const { started, ended } = download(port);
      await started;
      await signalInTurn(proxy, signals);
      expect(await ended).toBe('ECONNRESET');
      await proxy.exited;
    } finally {
      proxy.kill();
    }
  },
);

it('a WebSocket session open when a second signal forces the exit has its line before the exit', async () => {
  const sessions = await startRawUpstream((request) => {
    if (request.target === '/API/hang') return 'hang';
    if (request.target.startsWith('/APIWS/'))
      return (
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nabc'
      );
    return ok('token');
  });
  const proxy = startCli(sessions.url, '60', { ACCESS_LOG: 'true' });
  try {
    const port = await proxyPort(proxy);
    // A request that is never answered holds the drain open; the bytes behind the 101 stand
    // for the session's frames.
    const held = net.connect(port, '127.0.0.1');
    held.on('error', () => undefined);
    held.write('GET /API/hang HTTP/1.1\r\nHost: x\r\n\r\n');
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    let received = '';
    const echoed = new Promise<void>((resolve) =>
      client.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.endsWith('\r\n\r\nabc')) resolve();
      }),
    );
    client.write(
      'GET /APIWS/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await echoed;
    await signalInTurn(proxy, ['SIGTERM', 'SIGTERM']);
    await proxy.exited;
    // Written by the cut, which the exit follows at once: no close event of the session's
    // connections runs in this process any more.
    const ended = proxy.lines.filter((l) => l.event === 'websocket_session_ended');
    expect(ended).toEqual([
      expect.objectContaining({ end: 'shutdown', bytesSent: 3, bytesReceived: 0 }),
    ]);
    expect(proxy.lines.indexOf(ended[0])).toBeGreaterThan(
      proxy.lines.findIndex((l) => l.step === 'forced'),
    );
  } finally {
    proxy.kill();
    await sessions.close();
  }
});

/** A raw connection sending `text` and never closing; resolves how it ended. */
function sendAndHold(port: number, text: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('data', () => undefined);
  socket.write(text);
  return new Promise<string>((resolve) => {
    socket.on('close', () => resolve('closed'));
    socket.on('error', () => undefined);
  });
}

it.each(CUTS)(
  'every request still in flight when %s has its access line before the exit',
  async (_, drainSeconds, signals) => {
    const proxy = startCli(upstream.url, drainSeconds, { ACCESS_LOG: 'true' });
    try {
      const port = await proxyPort(proxy);
      // The upstream serves every test of the file: only this one's requests count.
      const heldAtUpstream = (): number =>
        upstream.heads.filter((h) => h.target.startsWith('/API/held')).length;
      const heldBefore = heldAtUpstream();
      const { started, ended } = download(port);
      await started;
      // Vidispine has the whole request and has not answered; an upload whose body is coming.
      const held = sendAndHold(port, 'GET /API/held/whole HTTP/1.1\r\nHost: x\r\n\r\n');
      const upload = sendAndHold(
        port,
        'PUT /API/held/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
      );
      await until(() => heldAtUpstream() === heldBefore + 2);
      await signalInTurn(proxy, signals);
      await Promise.all([ended, held, upload]);
      await proxy.exited;
      const lines = proxy.lines
        .filter((l) => l.event === 'request')
        .map((l) => `${String(l.path)} ${String(l.status)}`)
        .sort();
      // The proxy's close of a request Vidispine had (444), the 503 of an upload never sent
      // whole, the status of an answer already under way: as at the drain window's end.
      expect(lines).toEqual(['/API/download 200', '/API/held/upload 503', '/API/held/whole 444']);
    } finally {
      proxy.kill();
    }
  },
);

it.each([
  ['room for a few lines', 4096],
  ['no room at all', 0],
])(
  'exits at a second signal without waiting for a stdout that takes nothing more (%s), the lines it cannot take dropped',
  async (_, room) => {
    // stdout is a FIFO this test reads and fills itself: once the first signal's lines are
    // read, it is filled but for `room` bytes, and nothing more is read.
    const dir = mkdtempSync(join(tmpdir(), 'vap-stdout-'));
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    const ours = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    const childEnd = openSync(fifo, 'w');
    let text = '';
    const readAll = (): void => {
      const chunk = Buffer.alloc(65536);
      for (;;) {
        try {
          const n = readSync(ours, chunk);
          if (n === 0) return;
          text += chunk.subarray(0, n).toString('latin1');
        } catch {
          return;
        }
      }
    };
    const child = spawn(process.execPath, [CLI, 'run'], {
      env: {
        ...aliceEnv(upstream.url, {
          SHUTDOWN_DELAY_SECONDS: '0',
          SHUTDOWN_DRAIN_SECONDS: '60',
          ACCESS_LOG: 'true',
        }),
        PATH: process.env.PATH,
      },
      stdio: ['ignore', childEnd, 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    closeSync(childEnd);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const held: net.Socket[] = [];
    try {
      await until(() => (readAll(), text.includes('"event":"listening"')));
      const listening = JSON.parse(
        text.split('\n').find((l) => l.includes('"event":"listening"')) ?? '{}',
      ) as { listeners: { port: number }[] };
      const port = listening.listeners[0].port;
      for (let i = 0; i < 100; i += 1) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write(`GET /API/held/stdout-${room}/${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
        held.push(socket);
      }
      await until(
        () =>
          upstream.heads.filter((h) => h.target.startsWith(`/API/held/stdout-${room}/`)).length ===
          100,
      );
      child.kill('SIGTERM');
      await until(() => (readAll(), text.includes('"step":"close_listeners"')));
      // Full, then `room` freed: some 4 KiB is the second signal's own line, not a hundred more.
      const filler = Buffer.alloc(4096, 0x20);
      for (;;) {
        try {
          writeSync(ours, filler);
        } catch {
          break;
        }
      }
      if (room > 0) readSync(ours, Buffer.alloc(room));
      child.kill('SIGTERM');
      // Before: the exit waited for stdout to take the hundred access lines of the cut (and,
      // with no room at all, its own line), the log retrying every 100 ms, for good.
      await until(() => child.exitCode !== null, 10_000, 'the exit');
      expect(await exited).toBe(143);
      // Said once, where a line that fails is told.
      expect(stderr).toBe(
        'vidispine-auth-proxy: cannot write the log to stdout (EAGAIN: resource temporarily ' +
          'unavailable, write): its lines are dropped until it can; exiting\n',
      );
    } finally {
      for (const socket of held) socket.destroy();
      child.kill('SIGKILL');
      closeSync(ours);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
