/**
 * The built CLI as a real child process, shut down by SIGTERM or SIGINT while its newer parts
 * are busy: a Secret volume being updated, a mint the update brought forward still waiting
 * for Vidispine, the ops listener at its bound of connections. Each drains and exits 0; a
 * second signal exits at once with 128 + its number.
 */
import * as net from 'node:net';
import { join } from 'node:path';
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceEnv, ChildProxy, type LogLine } from '../support/child-proxy';
import { tempFolder } from '../support/files';
import { inotifyWatches, kubeletVolume } from '../support/secret-volume';
import { until } from '../support/wait';

const { path } = tempFolder('shutdown-lifecycle');

/** A Secret volume holding `alice/password`, updated as the kubelet's atomic writer does. */
function secretVolume(mount: string) {
  const volume = kubeletVolume(mount, 'alice');
  const files = (password: string) => ({ 'alice/password': `${password}\n` });
  return {
    file: join(mount, 'alice', 'password'),
    create: (password: string) => volume.create(files(password)),
    update: (password: string) => volume.update(files(password)),
  };
}

const steps = (proxy: ChildProxy) =>
  proxy.lines.filter((l) => l.event === 'shutdown').map((l) => l.step);
/** The error lines written once the shutdown began. */
const errorsInShutdown = (proxy: ChildProxy) =>
  proxy.lines
    .slice(proxy.lines.findIndex((l) => l.event === 'shutdown'))
    .filter((l: LogLine) => l.level === 'error' || l.level === 'fatal');

let sim: Simulator;
let proxy: ChildProxy | undefined;

beforeEach(async () => {
  sim = createSimulator();
  await sim.listen();
});
afterEach(async () => {
  proxy?.kill();
  await proxy?.exited;
  proxy = undefined;
  await sim.close();
});

/** The proxy minting alice's token from a Secret volume that holds a wrong password first. */
async function startWithStaleSecret(extra: NodeJS.ProcessEnv = {}) {
  const volume = secretVolume(path('users'));
  volume.create('stale-password');
  const env = aliceEnv(sim.url, {
    SHUTDOWN_DELAY_SECONDS: '0',
    SHUTDOWN_DRAIN_SECONDS: '5',
    ...extra,
  });
  delete env.VIDISPINE_PASSWORD;
  proxy = ChildProxy.start(['run'], { ...env, VIDISPINE_PASSWORD_FILE: volume.file });
  await proxy.waitForEvent('listening');
  await proxy.waitFor((l) => l.event === 'token_mint_failed' && l.reason === 'unauthorized');
  return { proxy, volume };
}

it('drains and exits 0 on SIGTERM while a mint brought forward by a Secret update waits, and updates go on', async () => {
  const { proxy: p, volume } = await startWithStaleSecret();
  // Vidispine holds the next mint: the one the update brings forward, inside the 8 s backoff.
  sim.failTokenEndpoints({ kind: 'delay', ms: 600_000 });
  volume.update('alice-password');
  await until(() => sim.inFlightRequests() > 0, 10_000, 'the mint brought forward');
  const watches = inotifyWatches(p.child.pid!);
  // The volume's watch, still there after the update.
  expect(watches).toBeGreaterThan(0);
  for (let i = 0; i < 20; i++) volume.update(i % 2 === 0 ? 'stale-password' : 'alice-password');
  expect(inotifyWatches(p.child.pid!)).toBe(watches);
  let updating = true;
  const updates = (async () => {
    for (let i = 0; updating; i++) {
      volume.update(`password-${i}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  p.child.kill('SIGTERM');
  const exit = await p.exited;
  updating = false;
  await updates;
  expect(exit).toEqual({ code: 0, signal: null });
  expect(steps(p)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
  expect(errorsInShutdown(p)).toEqual([]);
  expect(p.stdout.join('\n') + p.stderr).not.toMatch(/alice-password|stale-password|password-\d/);
});

it.each([
  ['SIGINT', 'SIGINT', 130],
  ['SIGTERM', 'SIGINT', 130],
  ['SIGINT', 'SIGTERM', 143],
] as const)(
  'on %s then %s during the drain of a mint brought forward, exits at once with %i',
  async (first, second, code) => {
    const { proxy: p, volume } = await startWithStaleSecret({ SHUTDOWN_DELAY_SECONDS: '30' });
    sim.failTokenEndpoints({ kind: 'delay', ms: 600_000 });
    volume.update('alice-password');
    await until(() => sim.inFlightRequests() > 0, 10_000, 'the mint brought forward');
    p.child.kill(first);
    await p.waitFor((l) => l.event === 'shutdown' && l.step === 'begin');
    p.child.kill(second);
    expect(await p.exited).toEqual({ code, signal: null });
  },
);

it('drains and exits 0 on SIGTERM with the ops listener at its bound of connections', async () => {
  proxy = ChildProxy.start(
    ['run'],
    aliceEnv(sim.url, { SHUTDOWN_DELAY_SECONDS: '0', SHUTDOWN_DRAIN_SECONDS: '5' }),
  );
  const listening = await proxy.waitForEvent('listening');
  const ops = (listening.ops as { port: number }).port;
  const sockets: net.Socket[] = [];
  const open = (first: string) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(ops, '127.0.0.1', () => {
        if (first !== '') socket.write(first);
        resolve();
      });
      socket.on('error', () => undefined);
      socket.once('error', reject);
      socket.pause(); // reads none of its answers
      sockets.push(socket);
    });
  // Idle, stuck in their headers, and asking for answers they never read: past the bound.
  for (let i = 0; i < 60; i++) await open('');
  for (let i = 0; i < 60; i++) await open('GET /metrics HTTP/1.1\r\nHost: x\r\n');
  for (let i = 0; i < 60; i++) await open('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50));
  await proxy.waitForEvent('ops_connections_full');
  proxy.child.kill('SIGTERM');
  const exit = await proxy.exited;
  for (const socket of sockets) socket.destroy();
  expect(exit).toEqual({ code: 0, signal: null });
  expect(steps(proxy)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
  expect(errorsInShutdown(proxy)).toEqual([]);
});
