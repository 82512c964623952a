/** Byte-exact 1 GiB through the proxy both ways, streamed: nothing is ever held whole. */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { patternChunks } from '../../src/simulator/pattern';
import { uploadPattern } from '../support/http';
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
