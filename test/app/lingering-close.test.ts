/**
 * The drain's 503 to an upload still coming, over the real CLI: a client that writes its body
 * without reading (as many do until they have sent it all) must still find the answer in
 * its receive buffer, not a reset that throws it away.
 */
import * as net from 'node:net';
import { CUT_ANSWER_GRACE_MS } from '../../src/proxy/lingering';
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceAgainst, ChildProxy, type LogLine } from '../support/child-proxy';
import { HANG_GUARD_MS, until } from '../support/wait';

/** Body bytes no HTTP head or token has: before the answer, and after it. */
const BEFORE = 0xa5;
const AFTER = 0xfe;

/** A TCP hop in front of the simulator that remembers every byte the proxy sent it. */
async function recordingHop(target: number): Promise<{
  url: string;
  received: () => Buffer;
  close: () => void;
}> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received: () => Buffer.concat(chunks),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * A client that sends an upload's head and part of its body, then goes on writing small
 * chunks (`marker` bytes) and reads nothing until `resume`.
 */
function stubbornUploader(port: number): {
  marker: { byte: number };
  written: () => number;
  error: () => Error | undefined;
  received: () => string;
  resume: () => Promise<void>;
  stop: () => void;
} {
  const client = net.connect(port, '127.0.0.1');
  client.pause();
  const received: Buffer[] = [];
  let failed: Error | undefined;
  let written = 0;
  const marker = { byte: BEFORE };
  client.on('error', (err) => (failed = err));
  client.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
  client.write('PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n');
  client.write(Buffer.alloc(1024 * 1024, marker.byte));
  // Paces the writes (a chunk per 5 ms), synchronises nothing: every wait below is on an event.
  const writer = setInterval(() => {
    if (!client.writable) return;
    client.write(Buffer.alloc(1024, marker.byte), (err) => {
      if (err === undefined || err === null) written += 1;
    });
  }, 5);
  client.on('end', () => clearInterval(writer));
  client.on('close', () => clearInterval(writer));
  return {
    marker,
    written: () => written,
    error: () => failed,
    received: () => Buffer.concat(received).toString('latin1'),
    resume: () => {
      client.resume();
      return closed;
    },
    stop: () => {
      clearInterval(writer);
      client.destroy();
    },
  };
}

const isAnswered = (l: LogLine): boolean => l.event === 'request' && l.status === 503;

describe('a client still writing its upload when the drain window ends', () => {
  let sim: Simulator;
  let hop: Awaited<ReturnType<typeof recordingHop>> | undefined;
  let proxy: ChildProxy | undefined;
  let uploader: ReturnType<typeof stubbornUploader> | undefined;

  beforeEach(async () => {
    sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    hop = await recordingHop(Number(new URL(sim.url).port));
  });
  afterEach(async () => {
    uploader?.stop();
    proxy?.kill();
    await proxy?.exited;
    hop?.close();
    await sim?.close();
  });

  const upstreamOf = (): Awaited<ReturnType<typeof recordingHop>> => {
    if (hop === undefined) throw new Error('no hop');
    return hop;
  };

  /**
   * A stubborn upload to a proxy with a 1 s drain window, told to stop while the upload is
   * under way, once the 503 went out at the window's end: from then on, the client's bytes
   * are `AFTER`.
   */
  async function answeredAtWindowEnd(): Promise<{
    running: ChildProxy;
    u: ReturnType<typeof stubbornUploader>;
  }> {
    const running = runDraining(upstreamOf().url, 1);
    proxy = running;
    const u = stubbornUploader(await portOnceMinted(running));
    uploader = u;
    await until(() => sim.inFlightRequests() === 1, HANG_GUARD_MS, 'the upload to reach Vidispine');
    running.kill('SIGTERM');
    await running.waitFor(isAnswered);
    // From the answer on, the client sends other bytes: none of them may go upstream.
    u.marker.byte = AFTER;
    return { running, u };
  }

  it(
    "reads the whole 503 given at the window's end once it reads, rather than a reset, and none of what it sent after reaches Vidispine",
    async () => {
      const { running, u } = await answeredAtWindowEnd();
      const before = u.written();
      // It writes 5 more chunks, then reads, within the grace the cut gives it: without, the
      // cut reset the connection at once, the next write failed, and the answer went unread.
      await until(() => u.written() >= before + 5 || u.error() !== undefined, HANG_GUARD_MS);
      await u.resume();
      expect(u.error()).toBeUndefined();
      const answer = u.received();
      expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
      expect(answer).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(answer).toMatch(
        /\r\n\r\nthe proxy is shutting down: the request was not sent whole to Vidispine\n$/,
      );
      expect((await running.exited).code).toBe(0);
      expect(shutdownSteps(running)).toEqual(['begin', 'close_listeners', 'drain_timeout', 'exit']);
      expect(upstreamOf().received().includes(AFTER)).toBe(false);
      expect(upstreamOf().received().includes(BEFORE)).toBe(true);
    },
    2 * HANG_GUARD_MS,
  );

  it(
    'does not hold the exit past the grace when the client never stops writing',
    async () => {
      const { running } = await answeredAtWindowEnd();
      expect((await running.exited).code).toBe(0);
      const at = (step: string): number =>
        Date.parse(
          String(running.lines.find((l) => l.event === 'shutdown' && l.step === step)?.time),
        );
      // Cut at the grace's end, where one held for its whole lingering close would take 30 s,
      // since this client never stops writing (a bound on a deadline, not a speed).
      expect(at('exit') - at('drain_timeout')).toBeLessThan(CUT_ANSWER_GRACE_MS + 4500);
      expect(shutdownSteps(running)).toEqual(['begin', 'close_listeners', 'drain_timeout', 'exit']);
      expect(upstreamOf().received().includes(AFTER)).toBe(false);
    },
    2 * HANG_GUARD_MS,
  );
});

describe('an upload that finishes inside the drain window', () => {
  let sim: Simulator;
  let proxy: ChildProxy | undefined;
  let client: net.Socket | undefined;

  afterEach(async () => {
    client?.destroy();
    proxy?.kill();
    await proxy?.exited;
    await sim?.close();
  });

  it(
    "is forwarded whole and answered by Vidispine, however close to the window's end it finishes",
    async () => {
      sim = createSimulator();
      await sim.listen(0, '127.0.0.1');
      const drainSeconds = 3;
      proxy = runDraining(sim.url, drainSeconds);
      const port = await portOnceMinted(proxy);
      const size = 2 * 1024 * 1024;
      const c = net.connect(port, '127.0.0.1');
      client = c;
      const received: Buffer[] = [];
      c.on('data', (chunk: Buffer) => received.push(chunk));
      c.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
      c.write(`PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
      c.write(Buffer.alloc(size / 2, 1));
      await until(() => sim.inFlightRequests() === 1, HANG_GUARD_MS, 'the upload to start');
      const running = proxy;
      running.kill('SIGTERM');
      await running.waitForEvent('shutdown');
      await running.waitFor((l) => l.event === 'shutdown' && l.step === 'close_listeners');
      // The rest goes two thirds into the window: no event marks that point in time, only the
      // clock (before, the uploads still coming were answered 503 half-way through a window
      // this short).
      await new Promise((resolve) => setTimeout(resolve, (drainSeconds * 1000 * 2) / 3));
      c.write(Buffer.alloc(size / 2, 2));
      await closed;
      const answer = Buffer.concat(received).toString('latin1');
      expect(answer).toMatch(/^HTTP\/1\.1 20\d /);
      expect((await running.exited).code).toBe(0);
      expect(shutdownSteps(running)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
    },
    2 * HANG_GUARD_MS,
  );
});

/** `run` for alice against `upstream`, its requests logged, draining for `drainSeconds`. */
function runDraining(upstream: string, drainSeconds: number): ChildProxy {
  return ChildProxy.start(['run'], {
    ...aliceAgainst(upstream),
    OPS_LISTEN: 'off',
    ACCESS_LOG: 'true',
    SHUTDOWN_DRAIN_SECONDS: String(drainSeconds),
  });
}

/** The port `proxy` listens on, once it has alice's token. */
async function portOnceMinted(proxy: ChildProxy): Promise<number> {
  const listening = await proxy.waitForEvent('listening');
  await proxy.waitForEvent('token_minted');
  return (listening.listeners as { port: number }[])[0].port;
}

function shutdownSteps(running: ChildProxy): unknown[] {
  return running.lines.filter((l) => l.event === 'shutdown').map((l) => l.step);
}
