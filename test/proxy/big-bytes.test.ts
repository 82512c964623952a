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

function report(what: string, startedAt: number): void {
  const seconds = (performance.now() - startedAt) / 1000;
  const rssMiB = Math.round(process.memoryUsage().rss / MiB);
  process.stdout.write(`${what}: ${(GiB / MiB / seconds).toFixed(0)} MiB/s, rss ${rssMiB} MiB\n`);
}

it('uploads 1 GiB with Expect: 100-continue, byte-exact', async () => {
  const started = performance.now();
  const reply = await uploadPattern(h.port, GiB, {
    method: 'PUT',
    path: '/API/import/raw?transferId=gib&filename=big.mxf',
    headers: { expect: '100-continue', index: '0', size: String(GiB) },
  });
  report('upload 1 GiB', started);
  expect(reply.status).toBe(200);
  expect(JSON.parse(reply.text)).toMatchObject({
    bytes: GiB,
    size: GiB,
    index: 0,
    sha256: expectedSha,
  });
  expect(process.memoryUsage().rss).toBeLessThan(600 * MiB);
}, 120_000);

it('downloads 1 GiB byte-exact', async () => {
  const started = performance.now();
  const { status, bytes, sha } = await new Promise<{ status: number; bytes: number; sha: string }>(
    (resolve, reject) => {
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
    },
  );
  report('download 1 GiB', started);
  expect(status).toBe(200);
  expect(bytes).toBe(GiB);
  expect(sha).toBe(expectedSha);
  expect(process.memoryUsage().rss).toBeLessThan(600 * MiB);
}, 120_000);
