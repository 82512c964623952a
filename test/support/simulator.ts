import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator';

import { basic, readReply, type Reply } from './http';

export { basic, type Reply };

export interface RequestOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
}

/** One request on a fresh connection, answer fully read. */
export function call(base: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => readReply(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function tokenAuth(value: string): string {
  return `token ${value}`;
}

/** A simulator on an ephemeral port with a hand-driven clock. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<{
  sim: Simulator;
  clock: { t: number };
  get: (path: string, opts?: RequestOptions) => Promise<Reply>;
  mint: (user: string, secret: string, query?: string) => Promise<string>;
}> {
  const clock = { t: 1_000_000 };
  const sim = createSimulator({ now: () => clock.t, ...options });
  const base = await sim.listen();
  const get = (path: string, opts?: RequestOptions): Promise<Reply> => call(base, path, opts);
  const mint = async (user: string, secret: string, query = ''): Promise<string> => {
    const r = await get(`/API/token${query}`, { headers: { authorization: basic(user, secret) } });
    if (r.status !== 200) throw new Error(`mint failed: ${r.status} ${r.text}`);
    return r.text;
  };
  return { sim, clock, get, mint };
}
