/** A simulator on an ephemeral port whose clock moves only when the test says so. */
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator';
import { ManualClock } from './clock';
import { basic, call, type Reply, type RequestOptions } from './http';

export type SimulatorRequest = Omit<RequestOptions, 'path'>;

export interface SimulatorHandle {
  readonly sim: Simulator;
  readonly clock: ManualClock;
  /** One request to the simulator, on a fresh connection. */
  get(path: string, options?: SimulatorRequest): Promise<Reply>;
  /** A token for `user` from `GET /API/token`, with Basic credentials. */
  mint(user: string, secret: string, query?: string): Promise<string>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const clock = new ManualClock(1_000_000);
  const sim = createSimulator({ now: clock.now, ...options });
  const base = await sim.listen();
  const get = (path: string, request?: SimulatorRequest): Promise<Reply> =>
    call(base, { ...request, path });
  const mint = async (user: string, secret: string, query = ''): Promise<string> => {
    const r = await get(`/API/token${query}`, { headers: { authorization: basic(user, secret) } });
    if (r.status !== 200) throw new Error(`mint failed: ${r.status} ${r.text}`);
    return r.text;
  };
  return { sim, clock, get, mint };
}
