/**
 * Client connections across SIGTERM, against the real CLI: from the signal on, the last
 * answer owed on a connection says `Connection: close` and the connection closes after it,
 * requests already sent are answered, idle connections close with the listeners — a
 * keep-alive client never sends into a connection that closes under it.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceEnv, ChildProxy } from '../support/child-proxy';

let sim: Simulator;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
}

function get(port: number, path: string, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** A raw connection: what the proxy wrote on it, and when it ended. */
class RawClient {
  received = '';
  readonly ended: Promise<void>;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8').on('data', (d: string) => (this.received += d));
    this.ended = new Promise((resolve, reject) => {
      this.socket.on('end', resolve).on('error', reject);
    });
  }

  /** Resolves once `count` complete answers (each with `Content-Length`) have arrived. */
  answers(count: number): Promise<string[]> {
    return new Promise((resolve) => {
      const check = (): void => {
        const heads = [...this.received.matchAll(/HTTP\/1\.1 [^]*?\r\n\r\n/g)];
        const last = heads[count - 1];
        if (last === undefined) return;
        const length = Number(/content-length: (\d+)/i.exec(last[0])?.[1] ?? 0);
        if (this.received.length < (last.index ?? 0) + last[0].length + length) return;
        this.socket.off('data', check);
        resolve(heads.map((h) => h[0]));
      };
      this.socket.on('data', check);
      check();
    });
  }
}

const get1 = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

it('after SIGTERM answers close their connections, idle ones close, sent requests are answered', async () => {
  const proxy = ChildProxy.start(
    ['run'],
    aliceEnv(sim.url, { SHUTDOWN_DELAY_SECONDS: '1', SHUTDOWN_DRAIN_SECONDS: '10' }),
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const pending: Promise<unknown>[] = [];
  try {
    const listening = await proxy.waitForEvent('listening');
    const port = (listening.listeners as { port: number }[])[0].port;

    // Before the signal: keep-alive as usual, on a pooled and on a raw connection.
    expect(await get(port, '/API/whoami', agent)).toEqual({
      status: 200,
      connection: 'keep-alive',
    });
    const reused = new RawClient(port);
    const idle = new RawClient(port);
    for (const client of [reused, idle]) {
      client.socket.write(get1('/API/whoami'));
      expect((await client.answers(1))[0]).toMatch(/connection: keep-alive/i);
    }
    const pipelined = new RawClient(port);
    pipelined.socket.write(get1('/API/slow?ms=3000'));
    // The slow answer comes during the drain; the two after it wait for the pooled socket.
    const slow = get(port, '/API/slow?ms=3000', agent);
    pending.push(slow.catch(() => undefined));
    const next = [get(port, '/API/whoami', agent), get(port, '/API/whoami', agent)].map((p) =>
      p.catch((err: NodeJS.ErrnoException) => err.code),
    );
    pending.push(...next);
    proxy.kill('SIGTERM');
    await proxy.waitFor((l) => l.event === 'shutdown' && l.step === 'begin');
    // A keep-alive connection used during the delay: answered, told to close, closed.
    reused.socket.write(get1('/API/whoami'));
    const [, again] = await reused.answers(2);
    expect(again).toMatch(/^HTTP\/1\.1 200[^]*connection: close/i);
    await reused.ended;
    // One left idle closes with the listeners (cleanly: a reset would reject).
    await idle.ended;
    // Pipelined after the signal, behind an answer still owed: both are answered, only the
    // last says close, then the connection ends.
    pipelined.socket.write(get1('/API/whoami'));
    const [first, second] = await pipelined.answers(2);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(first).toMatch(/connection: keep-alive/i);
    expect(second).toMatch(/^HTTP\/1\.1 200/);
    expect(second).toMatch(/connection: close/i);
    await pipelined.ended;

    const slowAnswer = await slow;
    // The slow answer was given after the signal, so it tells the client to reconnect.
    expect(proxy.lines.some((l) => l.step === 'close_listeners')).toBe(true);
    expect(slowAnswer).toEqual({ status: 200, connection: 'close' });
    // Neither follow-up went into the closing connection (a reset: was it applied?); a new
    // one finds the listener closed, which tells the client nothing was sent.
    expect(await Promise.all(next)).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
  } finally {
    proxy.kill();
    await Promise.all(pending);
    agent.destroy();
  }
});
