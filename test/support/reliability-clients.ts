/** Clients that misbehave on purpose, and a way to measure memory between them. */
import * as http from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap plus Buffer memory after a full collection, in bytes. */
export function settledMemory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export const MiB = 1024 * 1024;

/** Starts an upload that reaches the proxy, then vanishes mid-body. */
export function abortedUpload(port: number, expectContinue: boolean): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/API/import/raw',
      agent: false,
      headers: {
        'content-length': String(64 * MiB),
        ...(expectContinue ? { expect: '100-continue' } : {}),
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    const chunk = Buffer.alloc(64 * 1024, 1);
    const vanish = (): void => void req.write(chunk, () => setImmediate(() => req.destroy()));
    if (expectContinue) req.on('continue', vanish);
    else {
      req.flushHeaders();
      vanish();
    }
  });
}

/** Starts a large download and vanishes after the first bytes of the body. */
export function abortedDownload(port: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get({
      host: '127.0.0.1',
      port,
      path: `/API/storage/file/VX-1/data?size=${64 * MiB}`,
      agent: false,
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.on('response', (res) => {
      res.once('data', () => req.destroy());
    });
  });
}
