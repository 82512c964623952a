import * as diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import * as net from 'node:net';
import type { Socket } from 'node:net';
import { startHarness, type Harness } from '../support/app';
import { HANG_GUARD_MS, until } from '../support/wait';

const MiB = 1024 * 1024;
const UPGRADE =
  'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
const download = (size: number, method = 'GET'): string =>
  `${method} /API/storage/file/VX-1/data?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`;

/** The answers in `bytes`, in order: status and body length (a HEAD's: none). */
function answersIn(bytes: Buffer, heads: readonly boolean[]): { status: number; body: number }[] {
  const out: { status: number; body: number }[] = [];
  let at = 0;
  for (const head of heads) {
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const text = bytes.subarray(at, end).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    const length = head || status === 101 ? 0 : Number(/content-length: (\d+)/i.exec(text)?.[1]);
    const body = Math.min(length, bytes.length - end - 4);
    out.push({ status, body });
    at = end + 4 + body;
  }
  return out;
}

/** Echoes 32 MiB through the tunnel to `client` not reading, so `proxySide` backs up, then drains. */
async function echoHeldBack(client: Socket, proxySide: Socket): Promise<void> {
  client.pause();
  const head = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  head.writeBigUInt64BE(BigInt(32 * MiB), 2);
  client.write(Buffer.concat([head, Buffer.alloc(32 * MiB, 1)]));
  await until(() => proxySide.writableNeedDrain, 10_000, 'the echo held back');
  const drained = once(proxySide, 'drain');
  client.resume();
  await drained;
}

interface Pipelined {
  client: Socket;
  proxySide: Socket;
  received: () => Buffer;
  /** How many bytes `received` holds. */
  receivedLength: () => number;
  responses: ServerResponse[];
  done: () => void;
}

/** Sends `text` in one write from a client not reading yet; resolves once all of it was read. */
async function pipeline(p: Harness, text: string, expected: number): Promise<Pipelined> {
  const accepted: Socket[] = [];
  const onSocket = (message: unknown): void => {
    accepted.push((message as { socket: Socket }).socket);
  };
  const responses: ServerResponse[] = [];
  const onResponse = (message: unknown): void => {
    responses.push((message as { response: ServerResponse }).response);
  };
  diagnostics.subscribe('net.server.socket', onSocket);
  diagnostics.subscribe('http.server.request.start', onResponse);
  const started = p.observer.started;
  const client = net.connect(p.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let total = 0;
  client.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    total += chunk.length;
  });
  client.on('error', () => undefined);
  client.pause();
  await once(client, 'connect');
  client.write(text);
  await until(() => p.observer.started === started + expected, 5000, 'the requests read');
  const proxySide = accepted.find((s) => s.remotePort === client.localPort);
  if (proxySide === undefined) throw new Error('not accepted');
  return {
    client,
    proxySide,
    received: () => Buffer.concat(chunks),
    receivedLength: () => total,
    responses,
    done: () => {
      diagnostics.unsubscribe('net.server.socket', onSocket);
      diagnostics.unsubscribe('http.server.request.start', onResponse);
      client.destroy();
    },
  };
}

/** An answer is held back: the client has not read it, and the upgrade is handed over behind it. */
const held = (run: Pipelined): Promise<void> =>
  until(() => run.proxySide.writableNeedDrain, 5000, 'an answer held back');

describe('an upgrade pipelined behind answers not taken at once', () => {
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness();
  });
  afterAll(() => p.close());

  it(
    'three large answers and a HEAD ahead go out whole, then the 101; the tunnel holds no answer',
    async () => {
      const finished = p.observer.finished.length;
      const upgrades = p.sim.calls({ endpoint: 'ws' });
      const sizes = [4 * MiB, 3 * MiB, 5 * MiB];
      const text =
        download(sizes[0]) +
        download(1000, 'HEAD') +
        download(sizes[1]) +
        download(sizes[2]) +
        UPGRADE;
      const run = await pipeline(p, text, 5);
      try {
        await held(run);
        run.client.resume();
        const heads = [false, true, false, false, false];
        await until(() => answersIn(run.received(), heads).length === 5, 20_000, 'five answers');
        expect(answersIn(run.received(), heads)).toEqual([
          { status: 200, body: sizes[0] },
          { status: 200, body: 0 },
          { status: 200, body: sizes[1] },
          { status: 200, body: sizes[2] },
          { status: 101, body: 0 },
        ]);
        expect(p.sim.calls({ endpoint: 'ws' })).toBe(upgrades + 1);
        // The tunnel: no answer attached to its connection, so none is held for the session.
        expect((run.proxySide as Socket & { _httpMessage?: unknown })._httpMessage ?? null).toBe(
          null,
        );
        // A finished answer is never told its connection drained.
        let late = 0;
        for (const res of run.responses) res.on('drain', () => (late += 1));
        await echoHeldBack(run.client, run.proxySide);
        // The session's own listeners are added by the first held write; none per drain after.
        const drainListeners = run.proxySide.listenerCount('drain');
        await echoHeldBack(run.client, run.proxySide);
        await echoHeldBack(run.client, run.proxySide);
        expect(run.proxySide.listenerCount('drain')).toBe(drainListeners);
        expect(late).toBe(0);
        run.client.end();
        await once(run.client, 'close');
        await until(() => p.listeners[0].inFlight() === 0, 5000, 'nothing in flight');
        expect(p.observer.finished.slice(finished).map((f) => f.status)).toEqual([
          200, 200, 200, 200, 101,
        ]);
      } finally {
        run.done();
      }
    },
    HANG_GUARD_MS,
  );

  it(
    'a client that resets while the first answer is held: no crash, nothing in flight, each request logged once',
    async () => {
      const finished = p.observer.finished.length;
      const upgrades = p.sim.calls({ endpoint: 'ws' });
      // The second large enough that the connection's buffers cannot take what is left of it.
      const run = await pipeline(p, download(8 * MiB) + download(64 * MiB) + UPGRADE, 3);
      try {
        await held(run);
        const reset = new Promise<void>((resolve) => {
          const into = (): void => {
            if (run.receivedLength() <= 9 * MiB) return;
            run.client.off('data', into);
            run.client.resetAndDestroy();
            resolve();
          };
          run.client.on('data', into);
        });
        run.client.resume();
        await reset;
        await until(() => p.listeners[0].inFlight() === 0, 5000, 'nothing in flight');
        if (!run.proxySide.destroyed) await once(run.proxySide, 'close');
        // The first answer whole, the second cut after its head (logged with the status it
        // went out with, as nginx does), the upgrade never answered: the client's leaving.
        const statuses = p.observer.finished.slice(finished).map((f) => f.status);
        expect(statuses.sort()).toEqual([200, 200, 499]);
        expect(p.sim.calls({ endpoint: 'ws' })).toBe(upgrades);
      } finally {
        run.done();
      }
    },
    HANG_GUARD_MS,
  );

  it(
    'behind an answer replayed after a 401, the upgrade is still answered after it',
    async () => {
      const finished = p.observer.finished.length;
      const unauthorized = p.observer.unauthorized.length;
      p.sim.revokeAllTokens();
      const run = await pipeline(p, download(8 * MiB) + UPGRADE, 2);
      try {
        run.client.resume();
        const heads = [false, false];
        await until(() => answersIn(run.received(), heads).length === 2, 20_000, 'two answers');
        expect(answersIn(run.received(), heads)).toEqual([
          { status: 200, body: 8 * MiB },
          { status: 101, body: 0 },
        ]);
        expect(p.observer.unauthorized.length).toBeGreaterThan(unauthorized);
        run.client.end();
        await once(run.client, 'close');
        await until(() => p.listeners[0].inFlight() === 0, 5000, 'nothing in flight');
        expect(p.observer.finished.slice(finished).map((f) => f.status)).toEqual([200, 101]);
      } finally {
        run.done();
      }
    },
    HANG_GUARD_MS,
  );
});

describe('a client that never reads the answer ahead of its upgrade', () => {
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness({ proxy: { sendTimeoutSeconds: 0.5 } });
  });
  afterAll(() => p.close());

  it(
    'is cut by sendTimeoutSeconds; each request logged once, the upgrade never sent',
    async () => {
      const finished = p.observer.finished.length;
      const upgrades = p.sim.calls({ endpoint: 'ws' });
      const run = await pipeline(p, download(8 * MiB) + download(8 * MiB) + UPGRADE, 3);
      try {
        // A paused client does not read, so sees no reset: the proxy's side closes.
        if (!run.proxySide.destroyed) await once(run.proxySide, 'close');
        await until(() => p.listeners[0].inFlight() === 0, 5000, 'nothing in flight');
        // The first answer cut after its head, the two behind it never started.
        expect(p.observer.finished.slice(finished).map((f) => f.status)).toEqual([200, 499, 499]);
        expect(p.sim.calls({ endpoint: 'ws' })).toBe(upgrades);
      } finally {
        run.done();
      }
    },
    HANG_GUARD_MS,
  );
});

describe('a shutdown while the answer ahead of an upgrade is held', () => {
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness();
  });
  afterAll(() => p.close());

  it(
    'lets the answer go out whole, then refuses the upgrade with 503, never sent to Vidispine',
    async () => {
      const finished = p.observer.finished.length;
      const upgrades = p.sim.calls({ endpoint: 'ws' });
      const run = await pipeline(p, download(8 * MiB) + UPGRADE, 2);
      try {
        await held(run);
        p.listeners[0].drain();
        const closed = p.listeners[0].close();
        run.client.resume();
        await once(run.client, 'close');
        await closed;
        // Its turn came once the listener had closed. Before: its 101, then the cut.
        expect(answersIn(run.received(), [false, false])).toEqual([
          { status: 200, body: 8 * MiB },
          { status: 503, body: 'the proxy is shutting down\n'.length },
        ]);
        expect(p.sim.calls({ endpoint: 'ws' })).toBe(upgrades);
        // Refused as the answer ahead finished, it may be counted first.
        expect(
          p.observer.finished
            .slice(finished)
            .map((f) => f.status)
            .sort(),
        ).toEqual([200, 503]);
        expect(p.listeners[0].inFlight()).toBe(0);
      } finally {
        run.done();
      }
    },
    HANG_GUARD_MS,
  );
});

describe('an upgrade pipelined behind an answer that closes the connection', () => {
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness();
  });
  afterAll(() => p.close());

  /** A WebSocket frame sent ahead of the switch: bytes the proxy never reads. */
  const FRAME = '\x81\x82\0\0\0\0hi';

  it.each([
    ['a request', 'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a WebSocket upgrade', UPGRADE + FRAME],
  ])(
    'is not processed nor counted, as %s there is not; the client gets the answer ahead, then a clean close',
    async (_kind, behind) => {
      const started = p.observer.started;
      const finished = p.observer.finished.length;
      const upgrades = p.sim.calls({ endpoint: 'ws' });
      const client = net.connect(p.port, '127.0.0.1');
      const received: Buffer[] = [];
      const errors: string[] = [];
      client.on('data', (chunk: Buffer) => received.push(chunk));
      client.on('error', (err) => errors.push(err.message));
      const ended = once(client, 'end');
      // TRACE is refused, and its answer closes the connection.
      client.write(`TRACE /API/item HTTP/1.1\r\nHost: x\r\n\r\n${behind}`);
      await ended;
      client.end();
      await once(client, 'close');
      const answers = answersIn(Buffer.concat(received), [false, false]);
      expect(answers.map((a) => a.status)).toEqual([405]);
      expect(Buffer.concat(received).toString('latin1')).toMatch(/\r\nconnection: close\r\n/i);
      // Closed in order, not reset.
      expect(errors).toEqual([]);
      await until(() => p.listeners[0].inFlight() === 0, 5000, 'nothing in flight');
      // Before, for the upgrade: started and counted 499, as if its client had gone away.
      expect(p.observer.started - started).toBe(1);
      expect(p.observer.finished.slice(finished)).toEqual([
        expect.objectContaining({ method: 'TRACE', status: 405 }),
      ]);
      expect(p.sim.calls({ endpoint: 'ws' })).toBe(upgrades);
    },
  );
});
