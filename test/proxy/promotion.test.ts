/**
 * What the proxy holds for a request must die young: V8 collects the young generation in a
 * pause that grows with what survives it, and every request in flight waits out that pause.
 * Measured in the built CLI as a child process, by V8's own account of each young collection
 * (`--trace-gc-nvp`), over concurrent keep-alive requests. A structure that outlives requests
 * must not keep them: a Set of the exchanges in flight had every request's objects promoted.
 */
import { Agent, request } from 'node:http';
import { createSimulator } from '../../src/simulator';
import { aliceAgainst, ChildProxy } from '../support/child-proxy';

const REQUESTS = 12_000;
const CONCURRENCY = 16;
/** Bytes promoted per request: about 180 as the proxy is, about 1,900 with that Set. */
const MOST_PROMOTED_PER_REQUEST = 600;

function get(port: number, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/API/whoami', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** `count` requests, `CONCURRENCY` at a time. */
async function load(port: number, agent: Agent, count: number): Promise<void> {
  let sent = 0;
  const worker = async (): Promise<void> => {
    for (; sent < count; sent += 1) await get(port, agent);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Bytes V8 promoted in the young collections its trace reports in `lines`. */
const promotedIn = (lines: readonly string[]): number =>
  lines
    .filter((l) => l.includes('gc=s '))
    .reduce((sum, l) => sum + Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0), 0);

it('requests served at once leave next to nothing to the old generation', async () => {
  const sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
  const proxy = ChildProxy.start(['run'], aliceAgainst(sim.url), ['--trace-gc-nvp']);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const listening = await proxy.waitForEvent('listening');
    const port = (listening.listeners as { port: number }[])[0].port;
    await proxy.waitForEvent('token_minted');
    // The connections and what the first requests make once are promoted whatever happens.
    await load(port, agent, CONCURRENCY);
    const from = proxy.stdout.length;
    await load(port, agent, REQUESTS);
    // V8 writes its trace through C's buffered stdout: all of it is there once it exited.
    proxy.kill('SIGTERM');
    await proxy.exited;
    const promoted = promotedIn(proxy.stdout.slice(from));
    expect(promoted / REQUESTS).toBeLessThan(MOST_PROMOTED_PER_REQUEST);
  } finally {
    agent.destroy();
    proxy.kill('SIGKILL');
    await proxy.exited;
    await sim.close();
  }
}, 60_000);
