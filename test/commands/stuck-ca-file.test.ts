/**
 * `vidispine.caFile` on a volume that stops answering (a network or CSI mount gone away),
 * against the real CLI: test/support/stuck-volume.cjs makes opening the file block the thread
 * that opens it, for good. The file is read once, before anything listens, as the secret
 * files are: bounded by the mint timeout, and never on the main thread, which must stay free
 * for the signals that end the process.
 */
import { rmSync } from 'node:fs';
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { createTestCa } from '../support/certificates';
import { tempFolder } from '../support/files';
import { call } from '../support/http';
import { startHttpsFront } from '../support/https-front';
import { expectEndedWhileStuck, stuckFile, stuckVolumeEnv, within } from '../support/stuck-files';

let sim: Simulator;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

const children: ChildProxy[] = [];
afterEach(() => children.splice(0).forEach((child) => child.kill()));

const stuckEnv = (path: string, timeout: string): NodeJS.ProcessEnv =>
  aliceEnv(sim.url, {
    VIDISPINE_CA_FILE: path,
    VIDISPINE_MINT_TIMEOUT_SECONDS: timeout,
    ...stuckVolumeEnv(path),
  });

describe('a CA file whose volume hangs from the start', () => {
  it.each(['check', 'run'])(
    '%s gives up at the mint timeout, naming the key and the file, and ends',
    async (command) => {
      const path = stuckFile('stuck-ca', 'ca.pem');
      const proxy = ChildProxy.start([command], stuckEnv(path, '0.5'));
      children.push(proxy);
      expect(await within(proxy.exited, 10_000)).toEqual({ code: null, signal: 'SIGTERM' });
      expect(proxy.stderr).toBe(
        `vidispine-auth-proxy: VIDISPINE_CA_FILE: file ${path} was not read within 0.5 s (VIDISPINE_MINT_TIMEOUT_SECONDS): is its volume stuck?\n` +
          "vidispine-auth-proxy: a file's read is stuck in its volume and Node.js would wait for it before exiting: ending by SIGTERM instead of exit 1\n",
      );
      // Nothing listened, and nothing was minted.
      expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
    },
    30_000,
  );

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'run, told to stop by %s while it waits for the read, ends at once by it',
    async (signal) => {
      const path = stuckFile('stuck-ca', 'ca.pem');
      const proxy = ChildProxy.start(['run'], stuckEnv(path, '60'));
      children.push(proxy);
      await expectEndedWhileStuck(proxy, signal);
    },
    30_000,
  );
});

describe('a CA file that cannot be used is bad configuration, named by its key: exit 2', () => {
  it.each([
    ['missing', () => '/nonexistent/ca.pem', 'cannot read file /nonexistent/ca.pem (ENOENT)'],
    ['not PEM', () => tempFolder('bad-ca').file('not a certificate\n'), 'holds no PEM certificate'],
  ])(
    '%s',
    async (_, file, problem) => {
      const path = file();
      for (const command of ['run', 'check']) {
        const proxy = ChildProxy.start([command], aliceEnv(sim.url, { VIDISPINE_CA_FILE: path }));
        children.push(proxy);
        expect(await within(proxy.exited, 10_000)).toEqual({ code: 2, signal: null });
        expect(proxy.stderr).toContain(`configuration error\n  VIDISPINE_CA_FILE: `);
        expect(proxy.stderr).toContain(problem);
        expect(proxy.lines.filter((l) => l.event === 'listening')).toEqual([]);
      }
    },
    30_000,
  );

  // A device never ends: read whole, /dev/zero filled memory (1.4 GB in 2 s) until the mint
  // timeout gave up on it (check), or for good (run), and said nothing about the key.
  it.each(['check', 'run'])(
    '%s: a device, never read (/dev/zero)',
    async (command) => {
      const proxy = ChildProxy.start(
        [command],
        aliceEnv(sim.url, { VIDISPINE_CA_FILE: '/dev/zero', VIDISPINE_MINT_TIMEOUT_SECONDS: '2' }),
      );
      children.push(proxy);
      expect(await within(proxy.exited, 10_000)).toEqual({ code: 2, signal: null });
      expect(proxy.stderr).toBe(
        'vidispine-auth-proxy: configuration error\n' +
          '  VIDISPINE_CA_FILE: file /dev/zero is not a regular file (a FIFO, device or directory is never read)\n',
      );
      expect(proxy.lines).toEqual([]);
    },
    30_000,
  );

  it('a good one is opened once, at start: the TLS pools get its bytes, and the proxy serves with it gone', async () => {
    const ca = await createTestCa();
    const front = await startHttpsFront(ca, Number(new URL(sim.url).port));
    try {
      const path = tempFolder('good-ca').file(ca.certPem);
      // The preload logs every open of the file (a regular file opens as ever).
      const proxy = ChildProxy.start(
        ['run'],
        aliceEnv(front.url, {
          VIDISPINE_CA_FILE: path,
          ...stuckVolumeEnv(path),
        }),
      );
      children.push(proxy);
      // The token's mint went over TLS, verified against the file's CA.
      const listening = await proxy.waitForEvent('listening');
      await proxy.waitForEvent('token_minted');
      // Forwarded requests too, without a body (undici's pool, made at the first) and with
      // one (node:http's agent), with the file gone: they verify against the bytes read.
      rmSync(path);
      const port = (listening.listeners as { port: number }[])[0].port;
      const replies = [
        await call(port, { path: '/API/whoami' }),
        await call(port, { method: 'PUT', path: '/API/item/VX-1/metadata', body: '{}' }),
      ];
      expect(replies.map((r) => [r.status, r.text])).toEqual([
        [200, 'alice'],
        [200, expect.any(String)],
      ]);
      const opens = proxy.lines.filter((l) => l.event === 'test_volume_stuck');
      expect(opens).toEqual([{ event: 'test_volume_stuck', path }]);
    } finally {
      front.close();
    }
  }, 30_000);
});
