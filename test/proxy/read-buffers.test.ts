/**
 * Every body the proxy passes on counts towards a young collection every 8 MiB, so the
 * buffers of the socket reads behind it are freed while the transfer goes on rather than
 * piling up until V8 collects on its own (`ReadBuffers`).
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { READ_BYTES_PER_COLLECTION, ReadBuffers } from '../../src/proxy/read-buffers';
import { createSimulator } from '../../src/simulator';
import { patternChunks } from '../../src/simulator/pattern';
import { startHarness, type Harness } from '../support/app';
import { aliceAgainst, ChildProxy } from '../support/child-proxy';
import { uploadPattern } from '../support/http';

const MiB = 1024 * 1024;

describe('ReadBuffers', () => {
  it('collects once `every` bytes were read since the last collection', () => {
    let collections = 0;
    const buffers = new ReadBuffers(() => (collections += 1), 10);
    for (const bytes of [3, 3, 3]) buffers.read(bytes);
    expect(collections).toBe(0);
    buffers.read(1);
    expect(collections).toBe(1);
    buffers.read(9);
    expect(collections).toBe(1);
    buffers.read(25);
    expect(collections).toBe(2);
  });

  it('collects every 8 MiB by default', () => {
    expect(READ_BYTES_PER_COLLECTION).toBe(8 * MiB);
  });
});

/** A GET's answer body: its length and SHA-256. */
function download(port: number, path: string): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** SHA-256 of the simulator's byte pattern, `length` bytes from its start. */
function patternSha(length: number): string {
  const hash = createHash('sha256');
  for (const chunk of patternChunks(0, length)) hash.update(chunk);
  return hash.digest('hex');
}

describe('the forwarder counts every body it reads', () => {
  let h: Harness | undefined;
  let collections = 0;
  const collectYoung = (): void => {
    collections += 1;
  };
  beforeEach(() => {
    collections = 0;
  });
  afterEach(() => h?.close());

  it('an answer to a request without a body (undici)', async () => {
    h = await startHarness({ collectYoung });
    const { bytes } = await download(h.port, `/API/storage/file/VX-1/data?size=${20 * MiB}`);
    expect(bytes).toBe(20 * MiB);
    expect(collections).toBe(2);
  });

  it('an upload streamed behind 100 Continue', async () => {
    h = await startHarness({ collectYoung });
    const reply = await uploadPattern(h.port, 20 * MiB, {
      method: 'PUT',
      path: '/API/import/raw?transferId=t&filename=f.mxf',
      headers: { expect: '100-continue', index: '0', size: String(20 * MiB) },
    });
    expect(reply.status).toBe(200);
    expect(collections).toBe(2);
  });

  it('a body held for replay and the answer to it (node:http)', async () => {
    const answer = Buffer.alloc(17 * MiB, 7);
    const upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(answer));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = upstream.address() as AddressInfo;
      h = await startHarness({ collectYoung, forwardTo: `http://127.0.0.1:${port}` });
      const reply = await uploadPattern(h.port, MiB, { method: 'POST', path: '/API/item' });
      expect(reply.status).toBe(200);
      expect(reply.text.length).toBe(answer.length);
      // 1 MiB held for replay, 17 MiB of answer.
      expect(collections).toBe(2);
    } finally {
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});

it('run collects the young generation through V8 itself every 8 MiB, bytes intact', async () => {
  const size = 40 * MiB;
  const sha256 = patternSha(size);
  const sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
  const proxy = ChildProxy.start(['run'], { ...aliceAgainst(sim.url), LOG_LEVEL: 'debug' }, [
    '--trace-gc',
  ]);
  try {
    const listening = await proxy.waitForEvent('listening');
    const port = (listening.listeners as { port: number }[])[0].port;
    await proxy.waitForEvent('token_minted');
    const down = await download(port, `/API/storage/file/VX-1/data?size=${size}`);
    expect(down).toEqual({ bytes: size, sha256 });
    const up = await uploadPattern(port, size, {
      method: 'PUT',
      path: '/API/import/raw?transferId=t&filename=f.mxf',
      headers: { expect: '100-continue', index: '0', size: String(size) },
    });
    expect(up.status).toBe(200);
    expect(JSON.parse(up.text)).toMatchObject({ bytes: size, sha256 });
    // V8 writes its trace through C's buffered stdout: all of it is there once it exited.
    proxy.kill('SIGTERM');
    await proxy.exited;
    // V8 names a collection asked for through its gc extension `testing`. What the read
    // that reached 8 MiB took beyond it is freed by that collection, not counted towards the
    // next one: 80 MiB make 9 or 10 (8 with larger reads than Node's 64 KiB). On a machine
    // slow enough for 10 s without a request starting or finishing, `AtRest` asks too, and
    // says so.
    const asked = proxy.stdout.filter((l) => / Scavenge .*\btesting\b/.test(l));
    const atRest = proxy.lines.filter((l) => l.event === 'at_rest').length;
    expect(asked.length - atRest).toBeGreaterThanOrEqual(8);
    expect(asked.length - atRest).toBeLessThanOrEqual(10);
  } finally {
    proxy.kill('SIGKILL');
    await proxy.exited;
    await sim.close();
  }
}, 30_000);
