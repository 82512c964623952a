/** Byte-exact 1 GiB through the proxy both ways, streamed: nothing is ever held whole. */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { patternChunks } from '../../src/simulator/pattern';
import { uploadPattern } from '../support/http';
import { rawExchange } from '../support/net';
import { header, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { until } from '../support/wait';
import { startHarness, type Harness } from '../support/app';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

let h: Harness;
let expectedSha: string;

beforeAll(async () => {
  // Hashed before the proxy starts: seconds of synchronous hashing would stall its first
  // mint past the mint timeout on a busy machine, and the first request would get a 503.
  const hash = createHash('sha256');
  for (const chunk of patternChunks(0, GiB)) hash.update(chunk);
  expectedSha = hash.digest('hex');
  h = await startHarness();
});
afterAll(() => h.close());

/**
 * Buffer memory (Node's `arrayBuffers`: where a body held whole would be) above its level
 * before `run`, at its highest while `run` goes on, sampled every 20 ms.
 */
async function peakBufferGrowth<T>(run: () => Promise<T>): Promise<{ result: T; peak: number }> {
  const before = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
  };
  const sampler = setInterval(sample, 20);
  try {
    const result = await run();
    sample();
    return { result, peak };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Streaming holds a few chunks per hop, plus chunks not yet collected (V8 collects them once
 * some 64 MiB of external memory piled up); a body held whole would be 1 GiB.
 */
const STREAMING_BUFFERS = 256 * MiB;

function report(what: string, startedAt: number, peak: number): void {
  const seconds = (performance.now() - startedAt) / 1000;
  const peakMiB = Math.round(peak / MiB);
  process.stdout.write(
    `${what}: ${(GiB / MiB / seconds).toFixed(0)} MiB/s, buffers peaked ${peakMiB} MiB above the start\n`,
  );
}

it('uploads 1 GiB with Expect: 100-continue, byte-exact', async () => {
  const started = performance.now();
  const { result: reply, peak } = await peakBufferGrowth(() =>
    uploadPattern(h.port, GiB, {
      method: 'PUT',
      path: '/API/import/raw?transferId=gib&filename=big.mxf',
      headers: { expect: '100-continue', index: '0', size: String(GiB) },
    }),
  );
  report('upload 1 GiB', started, peak);
  expect(reply.status).toBe(200);
  expect(JSON.parse(reply.text)).toMatchObject({
    bytes: GiB,
    size: GiB,
    index: 0,
    sha256: expectedSha,
  });
  expect(peak).toBeLessThan(STREAMING_BUFFERS);
}, 120_000);

it('downloads 1 GiB byte-exact', async () => {
  const started = performance.now();
  const download = (): Promise<{ status: number; bytes: number; sha: string }> =>
    new Promise((resolve, reject) => {
      http
        .get(
          {
            host: '127.0.0.1',
            port: h.port,
            path: `/API/storage/file/VX-1/data?size=${GiB}`,
            agent: false,
          },
          (res) => {
            const hash = createHash('sha256');
            let bytes = 0;
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              hash.update(chunk);
            });
            res.on('error', reject);
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, bytes, sha: hash.digest('hex') }),
            );
          },
        )
        .on('error', reject);
    });
  const { result, peak } = await peakBufferGrowth(download);
  report('download 1 GiB', started, peak);
  expect(result).toEqual({ status: 200, bytes: GiB, sha: expectedSha });
  expect(peak).toBeLessThan(STREAMING_BUFFERS);
}, 120_000);

/**
 * The same boundaries at the cost of a few bytes: a length past 2^32 (where a 32-bit length
 * would wrap) whose body stops short, and one past 2^53 − 1 (where a JavaScript number
 * stops counting bytes one by one). `npm run bench:large-bodies` moves 5 GiB each way.
 */
describe('lengths past 32 bits, without sending them', () => {
  let upstream: RawUpstream;
  let proxy: Harness;
  beforeAll(async () => {
    upstream = await startRawUpstream();
    proxy = await startHarness({ forwardTo: upstream.url });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('a Content-Length of 2^32 + 1 reaches Vidispine digit for digit, and a client that stops short aborts it there', async () => {
    const client = net.connect(proxy.port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write(
      `PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 ** 32 + 1}\r\n\r\n`,
    );
    client.write(Buffer.alloc(MiB, 'b'));
    await until(() => upstream.heads.length === 1);
    expect(header(upstream.heads[0], 'content-length')).toBe('4294967297');
    client.destroy();
    // Closed before the declared length: never taken for a whole request.
    await until(() => upstream.open() === 0);
    expect(upstream.requests).toEqual([]);
    await until(() => proxy.listeners[0].inFlight() === 0);
  });

  it.each(['9007199254740993', '18446744073709551615'])(
    'a Content-Length of %s: 413 on a closed connection, nothing forwarded',
    async (length) => {
      const answer = await rawExchange(
        proxy.port,
        `PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\nabc`,
      );
      expect(answer.status).toBe(413);
      expect(answer.closed).toBe(true);
      expect(answer.text).toContain(
        'a Content-Length above 9007199254740991 bytes is not forwarded',
      );
      expect(upstream.heads.filter((r) => header(r, 'content-length') !== '4294967297')).toEqual(
        [],
      );
    },
  );
});
