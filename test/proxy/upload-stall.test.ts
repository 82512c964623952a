/**
 * A Vidispine that stops taking an upload (stops reading: its TCP window full) is cut
 * `upstreamTimeoutSeconds` after the last byte it took, as nginx's `proxy_send_timeout`
 * counts the time between two successive writes; one that takes it slowly is not.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../support/app';
import { createTestCa } from '../support/certificates';
import { startHttpsFront } from '../support/https-front';
import { MiB } from '../support/reliability-clients';
import { rawRequest, type RawResponse } from '../support/raw-client';
import { HANG_GUARD_MS } from '../support/wait';

/** An upstream that reads a request's head and then its body as `reader` says. */
interface Taker {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Reads the body on `socket` (paused): `taken` bytes of its `length` came with the head.
 * It answers `200` itself, if it does.
 */
type Reader = (socket: net.Socket, taken: number, length: number) => void;

async function startTaker(reader: Reader): Promise<Taker> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onHead);
      socket.pause();
      const text = head.subarray(0, end).toString('latin1');
      if (/^expect: *100-continue/im.test(text)) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      const length = Number(/^content-length: *(\d+)/im.exec(text)?.[1] ?? 0);
      reader(socket, head.length - end - 4, length);
    };
    socket.on('data', onHead);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Takes the first MiB of the body, then nothing. */
const stopsAfterAMiB: Reader = (socket, taken) => {
  let total = taken;
  socket.on('data', (chunk: Buffer) => {
    total += chunk.length;
    if (total >= MiB) socket.pause();
  });
  socket.resume();
};

/**
 * Takes `bytes` every `everyMs` for `forMs`, then the rest at once, and answers `200` after
 * the whole body. Linux wakes a writer whose send buffer is full only once a third of it
 * went: on loopback (4 MiB) the proxy writes every 0.7 s at 2 MiB/s, every 5.5 s at 256 KiB/s.
 */
function takesSlowly(bytes: number, everyMs: number, forMs: number): Reader {
  return (socket, taken, length) => {
    let total = taken;
    let allowance = 0;
    let slow = true;
    const answer = (): void => {
      if (total >= length) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    };
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      allowance -= chunk.length;
      if (slow && allowance <= 0) socket.pause();
      answer();
    });
    const tick = setInterval(() => {
      allowance = bytes;
      socket.resume();
    }, everyMs);
    setTimeout(() => {
      clearInterval(tick);
      slow = false;
      socket.resume();
    }, forMs);
    socket.once('close', () => clearInterval(tick));
    answer();
  };
}

/**
 * What an upload of `size` bytes gets. With `sendsAll`, its client sends the whole body
 * whatever the answer and then half-closes: the proxy reads and drops what it no longer
 * forwards, so the exchange ends with the body, not a minute later by its body timeout.
 */
async function upload(
  port: number,
  size: number,
  sendsAll: boolean,
): Promise<RawResponse | undefined> {
  const head = `POST /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`;
  const result = await rawRequest(port, Buffer.concat([Buffer.from(head), Buffer.alloc(size, 1)]), {
    end: sendsAll,
    untilClosed: sendsAll,
    timeoutMs: HANG_GUARD_MS,
  });
  return result.responses[0];
}

/** Where the harness's Vidispine is: `taker` itself, or behind TLS (`caFile` vouches for it). */
interface Upstream {
  readonly forwardTo: string;
  readonly caFile?: string;
  close(): void;
}

const plainly = async (taker: Taker): Promise<Upstream> => ({
  forwardTo: taker.url,
  close: () => undefined,
});

async function overTls(taker: Taker): Promise<Upstream> {
  const ca = await createTestCa();
  const front = await startHttpsFront(ca, Number(new URL(taker.url).port));
  const dir = mkdtempSync(join(tmpdir(), 'upload-stall-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  return {
    forwardTo: front.url,
    caFile,
    close: () => {
      front.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each([
  // Held for replay, the body was read whole before it went.
  ['streamed (beyond the replay buffer)', true, {}],
  ['held for replay', false, { replayBufferBytes: 64 * MiB, replayBufferTotalBytes: 64 * MiB }],
])('an upload %s to a Vidispine that stops reading it', (_, sendsAll, proxy) => {
  let h: Harness | undefined;
  let taker: Taker | undefined;
  let upstream: Upstream | undefined;
  afterEach(async () => {
    await h?.close();
    await taker?.close();
    upstream?.close();
  });

  it.each([
    ['over plain HTTP', plainly],
    ['over TLS', overTls],
  ])(
    'gets 504 for the body Vidispine stopped taking, not for a late answer (%s)',
    async (__, reach) => {
      taker = await startTaker(stopsAfterAMiB);
      upstream = await reach(taker);
      h = await startHarness({
        forwardTo: upstream.forwardTo,
        vidispine: { upstreamTimeoutSeconds: 1, caFile: upstream.caFile },
        proxy: { clientBodyTimeoutSeconds: 60, ...proxy },
      });
      const answer = await upload(h.port, 64 * MiB, sendsAll);
      expect(answer?.status).toBe(504);
      // The stall, not the wait for an answer that only starts once the body has gone.
      expect(answer?.body.toString()).toBe('Vidispine stopped taking the request body\n');
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
      // What the `upstream_error` line says.
      expect(h.observer.upstreamErrorDetails).toEqual([
        'Vidispine stopped taking the request body',
      ]);
    },
  );
});

describe.each([
  ['over plain HTTP', plainly],
  // A TLS connection's own queue is the whole record batch until the kernel took all of it:
  // what the kernel takes shows in the TCP connection's queue under it.
  ['over TLS', overTls],
])('an upload to a Vidispine that takes it slowly %s', (_, reach) => {
  it.each([
    // 2 MiB/s for 2.5 times the timeout: Node's queue for Vidispine is never empty.
    ['streamed', {}],
    // Written all at once: one write Vidispine takes for longer than the timeout, partly at
    // every look.
    ['held for replay', { replayBufferBytes: 64 * MiB, replayBufferTotalBytes: 64 * MiB }],
  ])(
    'is not cut while each write goes well within the upstream timeout (%s)',
    async (__, proxy) => {
      const taker = await startTaker(takesSlowly(512 * 1024, 250, 5000));
      const upstream = await reach(taker);
      const h = await startHarness({
        forwardTo: upstream.forwardTo,
        vidispine: { upstreamTimeoutSeconds: 2, caFile: upstream.caFile },
        proxy: { clientBodyTimeoutSeconds: 60, ...proxy },
      });
      try {
        // Answered once the whole body arrived: the exchange ends with it.
        const answer = await upload(h.port, 24 * MiB, false);
        expect(answer?.status).toBe(200);
        expect(answer?.body.toString()).toBe('ok');
        expect(h.observer.upstreamErrors).toEqual([]);
      } finally {
        await h.close();
        await taker.close();
        upstream.close();
      }
    },
  );
});
