/**
 * Requests pipelined on a connection that has already served one, over the real CLI, when
 * the listener closes while they are being answered: every one is answered whole, only the
 * last says `close`, and none is counted as left by its client.
 */
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceAgainst, ChildProxy } from '../support/child-proxy';
import { rawRequest, type RawResult } from '../support/raw-client';
import { HANG_GUARD_MS, until } from '../support/wait';

const get = (path: string, method = 'GET'): string =>
  `${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

const WARM_UP = get('/API/whoami');
/** Vidispine answers it a second after it came: the listener has closed by then. */
const SLOW = get('/API/slow?ms=1000');

/** What is pipelined behind `SLOW`: requests whose answers go out together once it is. */
interface Pipelined {
  readonly requests: readonly string[];
  /** Which of them are HEAD. */
  readonly head: readonly boolean[];
  /** The bytes of each answer's body. */
  readonly sizes: readonly number[];
  /** Vidispine answers them all after the signal: the last one's head is written after it. */
  readonly answeredAfterSignal?: boolean;
}

const SMALL_GETS: Pipelined = {
  requests: [get('/API/whoami'), get('/API/whoami'), get('/API/whoami')],
  head: [false, false, false],
  sizes: [5, 5, 5],
};

const BODIES: Pipelined = {
  requests: [
    get('/API/storage/file/1/data?size=262144'),
    get('/API/storage/file/2/data?size=65536'),
    get('/API/storage/file/3/data?size=1048576'),
    get('/API/whoami'),
    get('/API/storage/file/4/data?size=4096'),
  ],
  head: [false, false, false, false, false],
  sizes: [262144, 65536, 1048576, 5, 4096],
};

/** As slow as `SLOW`: their answers come from Vidispine together with its own. */
const SLOW_TOO: Pipelined = {
  requests: [SLOW, SLOW, SLOW],
  head: [false, false, false],
  sizes: [16, 16, 16],
  answeredAfterSignal: true,
};

const HEADS: Pipelined = {
  requests: [
    get('/API/whoami', 'HEAD'),
    get('/API/storage/file/1/data?size=65536', 'HEAD'),
    get('/API/whoami'),
  ],
  head: [true, true, false],
  sizes: [0, 0, 5],
};

describe('requests pipelined behind a slow one on a used connection, when the listener closes', () => {
  let sim: Simulator;
  let proxy: ChildProxy | undefined;

  beforeEach(async () => {
    sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
  });
  afterEach(async () => {
    proxy?.kill();
    await proxy?.exited;
    await sim?.close();
  });

  /**
   * `connections` clients each send one request, and once it is answered, `SLOW` and
   * `pipelined` behind it; the proxy is told to stop once Vidispine has every `SLOW`.
   */
  async function drainWith(pipelined: Pipelined, connections: number): Promise<RawResult[]> {
    const running = ChildProxy.start(['run'], {
      ...aliceAgainst(sim.url),
      OPS_LISTEN: 'off',
      ACCESS_LOG: 'true',
      SHUTDOWN_DRAIN_SECONDS: '5',
    });
    proxy = running;
    const listening = await running.waitForEvent('listening');
    await running.waitForEvent('token_minted');
    const { port } = (listening.listeners as { port: number }[])[0];
    const results = Array.from({ length: connections }, () =>
      rawRequest(port, SLOW + pipelined.requests.join(''), {
        first: WARM_UP,
        untilClosed: true,
        head: [false, false, ...pipelined.head],
        timeoutMs: HANG_GUARD_MS,
      }),
    );
    await until(
      () => sim.inFlightRequests() >= connections,
      HANG_GUARD_MS,
      'every slow request to reach Vidispine',
    );
    running.kill('SIGTERM');
    const answered = await Promise.all(results);
    expect((await running.exited).code).toBe(0);
    return answered;
  }

  function expectAllAnswered(result: RawResult, pipelined: Pipelined): void {
    const sizes = [5, 16, ...pipelined.sizes];
    expect(result.responses.map((r) => r.status)).toEqual(sizes.map(() => 200));
    expect(result.responses.map((r) => r.body.length)).toEqual(sizes);
    // None but the last may say `close`, and the connection closes after it, in good order.
    // The last says `close` when its head was written after the signal; Vidispine may have
    // answered it before, while it waited its turn behind `SLOW`, and it went out as it was
    // written then, as an answer given `keep-alive` before the signal.
    const connection = result.responses.map((r) => r.header('connection'));
    expect(connection.slice(0, -1)).toEqual(sizes.slice(1).map(() => 'keep-alive'));
    expect(pipelined.answeredAfterSignal === true ? ['close'] : ['close', 'keep-alive']).toContain(
      connection[connection.length - 1],
    );
    expect(result.closed).toBe(true);
    expect(result.trailing).toBe('');
  }

  /** The statuses of the access log, in any order. */
  function loggedStatuses(): unknown[] {
    return (proxy?.lines ?? [])
      .filter((l) => l.event === 'request')
      .map((l) => l.status)
      .sort();
  }

  it.each([
    ['small GETs', SMALL_GETS],
    ['GETs with bodies', BODIES],
    ['HEADs and a GET', HEADS],
    ['slow GETs', SLOW_TOO],
  ])(
    'answers all of them (%s), in order and whole, none counted as left by its client',
    async (_name, pipelined) => {
      const [result] = await drainWith(pipelined, 1);
      expectAllAnswered(result, pipelined);
      expect(loggedStatuses()).toEqual([...pipelined.requests, WARM_UP, SLOW].map(() => 200));
    },
    2 * HANG_GUARD_MS,
  );

  it(
    "answers all of them on two such connections at once: one's answer does not close the other",
    async () => {
      const results = await drainWith(BODIES, 2);
      for (const result of results) expectAllAnswered(result, BODIES);
      expect(loggedStatuses()).toEqual(
        [...BODIES.requests, WARM_UP, SLOW, ...BODIES.requests, WARM_UP, SLOW].map(() => 200),
      );
    },
    2 * HANG_GUARD_MS,
  );
});
