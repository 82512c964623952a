/** Clients that misbehave on purpose or just keep asking, and a way to measure memory between them. */
import * as http from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { call } from './http';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Two full collections: what nothing refers to any more is gone, WeakRefs to it cleared. */
export function collectGarbage(): void {
  gc();
  gc();
}

/** Heap plus Buffer memory after a full collection, in bytes. */
export function settledMemory(): number {
  collectGarbage();
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

export interface Answer {
  readonly status: number;
  readonly retryAfter?: string;
  readonly at: number;
  readonly text: string;
  readonly bytes: number;
}

export interface Traffic {
  readonly answers: Answer[];
  /** Stops after the request in progress; resolves with every answer. */
  stop(): Promise<Answer[]>;
}

/** One client sending `path` back to back (a short pause between), until stopped. */
export function startTraffic(port: number, path = '/API/whoami', pauseMs = 20): Traffic {
  const answers: Answer[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const reply = await call(port, { path, agent });
        const retryAfter = reply.headers['retry-after'];
        answers.push({
          status: reply.status,
          retryAfter,
          at: Date.now(),
          text: reply.text,
          bytes: reply.body.length,
        });
      } catch (err) {
        answers.push({ status: 0, at: Date.now(), text: (err as Error).message, bytes: 0 });
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    agent.destroy();
  })();
  return {
    answers,
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}
