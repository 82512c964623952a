/**
 * A secret file whose volume stops answering (a network or CSI mount gone away), against the
 * real CLI: test/support/stuck-volume.cjs makes opening the named files block the thread that
 * opens them, as on such a volume, for good. The mint gives up at its timeout and says why,
 * and the process still ends when told to, though Node.js cannot leave while one of its pool
 * threads is stuck in that read.
 */
import { closeSync, constants, openSync, renameSync, writeFileSync } from 'node:fs';
import { createSimulator, type Simulator } from '../../src/simulator';
import { execveOf } from '../../src/ops/signals';
import { aliceEnv, ChildProxy, pid1Unavailable } from '../support/child-proxy';
import { tempFolder } from '../support/files';
import {
  expectEndedWhileStuck,
  mkfifo,
  stuckFile,
  stuckVolumeEnv,
  within,
} from '../support/stuck-files';

let sim: Simulator;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

const children: ChildProxy[] = [];
const killChildren = (): void => children.splice(0).forEach((child) => child.kill());
afterEach(killChildren);
// Concurrent tests run no afterEach hooks, and one that timed out never reaches its finally.
afterAll(killChildren);

/** A regular secret file now, for the start; `stick()` turns it into one whose volume hangs. */
function secretFile(name: string): { path: string; stick: () => void } {
  const folder = tempFolder('stuck-secret');
  const path = folder.path(name);
  writeFileSync(path, `${name}-password\n`);
  return {
    path,
    stick: () => {
      // Swapped atomically, as a Secret update is; the preload makes opening it block.
      const fifo = folder.path(`${name}.fifo`);
      mkfifo(fifo);
      renameSync(fifo, path);
    },
  };
}

/** Alice minting from a secret file the stuck-volume shim can hang, with short mint and drain times. */
function servingEnv(secretPath: string, delaySeconds: string): NodeJS.ProcessEnv {
  return aliceEnv(sim.url, {
    VIDISPINE_PASSWORD: undefined,
    VIDISPINE_PASSWORD_FILE: secretPath,
    VIDISPINE_MINT_TIMEOUT_SECONDS: '0.5',
    TOKEN_SECONDS: '4',
    SHUTDOWN_DELAY_SECONDS: delaySeconds,
    SHUTDOWN_DRAIN_SECONDS: '0.2',
    ...stuckVolumeEnv(secretPath),
  });
}

// Each waits in real time for its 4 s token, with a process of its own: side by side, the
// three take the time of one. Each ends its own child; the hooks above end one that timed out.
it.concurrent.each(['SIGTERM', 'SIGINT'] as const)(
  'a secret read stuck in its volume, then %s: the mint times out naming the file, readiness says why, and the process ends',
  async (signal) => {
    const secret = secretFile('alice');
    const proxy = ChildProxy.start(['run'], servingEnv(secret.path, '0.2'));
    children.push(proxy);
    try {
      const listening = await proxy.waitForEvent('listening');
      const ops = `http://127.0.0.1:${(listening.ops as { port: number }).port}`;
      await proxy.waitForEvent('token_minted');
      secret.stick();
      const failed = await proxy.waitFor((l) => l.event === 'token_mint_failed');
      expect(failed).toMatchObject({
        reason: 'timeout',
        error: `the password of "alice" (VIDISPINE_PASSWORD_FILE): file ${secret.path} was not read within 0.5 s (VIDISPINE_MINT_TIMEOUT_SECONDS): is its volume stuck?`,
      });
      // The event loop is free: the probes answer, and say why the proxy is not ready.
      await proxy.waitFor((l) => l.event === 'token_expired');
      const ready = await fetch(`${ops}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        users: [{ user: 'alice', ok: false, lastFailure: 'timeout' }],
      });
      const status = await (
        await fetch(`${ops}/status`, { headers: { accept: 'application/json' } })
      ).text();
      expect(status).toContain(`file ${secret.path} was not read within 0.5 s`);

      proxy.kill(signal);
      // Node.js's exit waits for its pool threads, one of which never comes back from the
      // read: the process must end all the same, right after its drain.
      const exited = await within(proxy.exited, 10_000);
      expect(exited).toEqual({ code: null, signal });
      expect(proxy.lines.filter((l) => l.event === 'shutdown').map((l) => l.step)).toEqual([
        'begin',
        'close_listeners',
        'drained',
        'exit',
      ]);
      expect(proxy.lines.find((l) => l.step === 'exit')).toMatchObject({
        exitCode: 0,
        stuckSecretReads: 1,
        endedBy: signal,
      });
      expect(proxy.stdout.join('\n') + proxy.stderr).not.toContain('alice-password');
    } finally {
      proxy.kill();
    }
  },
  30_000,
);

it.concurrent(
  'a read under way when SIGTERM came, which its volume answers after the drain, is waited for: exit 0',
  async () => {
    const secret = secretFile('alice');
    const proxy = ChildProxy.start(
      ['run'],
      aliceEnv(sim.url, {
        VIDISPINE_PASSWORD: undefined,
        VIDISPINE_PASSWORD_FILE: secret.path,
        // Far from given up: the read is merely slow when the signal comes.
        VIDISPINE_MINT_TIMEOUT_SECONDS: '60',
        TOKEN_SECONDS: '4',
        SHUTDOWN_DELAY_SECONDS: '0',
        SHUTDOWN_DRAIN_SECONDS: '0.2',
        ...stuckVolumeEnv(secret.path),
      }),
    );
    children.push(proxy);
    try {
      await proxy.waitForEvent('token_minted');
      const opens = (): number => proxy.lines.filter((l) => l.event === 'test_volume_stuck').length;
      const before = opens();
      secret.stick();
      // The renewal's read, blocked in its open.
      await proxy.waitForText(() => opens() > before);
      proxy.kill('SIGTERM');
      // The token store stops (aborting the renewal, read and all) right after this line.
      await proxy.waitFor((l) => l.event === 'shutdown' && l.step === 'drained');
      // The volume answers: opening the FIFO for writing lets the read's open return.
      closeSync(openSync(secret.path, constants.O_WRONLY | constants.O_NONBLOCK));
      expect(await within(proxy.exited, 10_000)).toEqual({ code: 0, signal: null });
      const exit = proxy.lines.find((l) => l.step === 'exit');
      expect(exit).toMatchObject({ level: 'info', exitCode: 0 });
      expect(exit).not.toHaveProperty('stuckSecretReads');
    } finally {
      proxy.kill();
    }
  },
  30_000,
);

describe("Node's pool threads, which DNS lookups and file reads share", () => {
  const USERS = ['u1', 'u2', 'u3', 'u4', 'u5'];
  let many: Simulator;
  beforeAll(async () => {
    many = createSimulator({
      users: USERS.map((name) => ({ name, password: `${name}-password` })),
    });
    await many.listen(0, '127.0.0.1');
  });
  afterAll(() => many.close());

  it('one volume that hangs holds one of them, however many users read from it', async () => {
    // u1…u4 read their secrets from one volume, which stops answering; u5 from another.
    const hung = tempFolder('hung-volume');
    const files = USERS.map((name) => {
      const path = name === 'u5' ? tempFolder('healthy-volume').path(name) : hung.path(name);
      writeFileSync(path, `${name}-password\n`);
      return path;
    });
    const config = tempFolder('stuck-config').file(
      JSON.stringify({
        // A host name: every new connection to Vidispine waits for a lookup in the pool.
        vidispine: { url: many.url.replace('127.0.0.1', 'localhost'), mintTimeoutSeconds: 0.5 },
        token: { seconds: 4 },
        users: USERS.map((name, i) => ({ name, passwordFile: files[i], listen: '127.0.0.1:0' })),
        ops: { listen: '127.0.0.1:0' },
        shutdown: { delaySeconds: 0, drainSeconds: 0.2 },
      }),
    );
    const proxy = ChildProxy.start(['run', '--config', config], {
      ...stuckVolumeEnv(...files),
      UV_THREADPOOL_SIZE: '4',
    });
    children.push(proxy);
    const minted = (user: string): number =>
      proxy.lines.filter((l) => l.event === 'token_minted' && l.user === user).length;
    await proxy.waitForText(() => USERS.every((u) => minted(u) > 0));
    for (const path of files.slice(0, 4)) {
      const fifo = `${path}.fifo`;
      mkfifo(fifo);
      renameSync(fifo, path);
    }
    const failedUsers = (): Set<unknown> =>
      new Set(
        proxy.lines.filter((l) => l.event === 'token_mint_failed').map((l) => l.user as unknown),
      );
    await proxy.waitForText(() => failedUsers().size === 4);
    // The first read to hang is given up at the mint timeout; the others wait behind it.
    const firstFailures = USERS.slice(0, 4).map((user) =>
      String(proxy.lines.find((l) => l.event === 'token_mint_failed' && l.user === user)?.error),
    );
    expect(firstFailures.filter((e) => e.includes('was not read within 0.5 s'))).toHaveLength(1);
    expect(
      firstFailures.filter((e) =>
        e.endsWith('in its folder has not come back; is their volume stuck?'),
      ),
    ).toHaveLength(3);
    // u5's secret is read, and its token renewed, on a thread the hung volume left free. A
    // loaded machine may make one of its mints miss the 0.5 s timeout on the connection or
    // the answer; none may fail on its secret's read, and a renewal must come through.
    const before = minted('u5');
    await proxy.waitFor(
      (l) => l.user === 'u5' && l.event === 'token_minted' && minted('u5') > before,
    );
    const u5Failures = proxy.lines
      .filter((l) => l.event === 'token_mint_failed' && l.user === 'u5')
      .map((l) => String(l.error));
    expect(u5Failures.filter((e) => /was not read within|has not come back/.test(e))).toEqual([]);
    proxy.kill('SIGTERM');
    expect(await within(proxy.exited, 10_000)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(proxy.lines.find((l) => l.step === 'exit')).toMatchObject({ stuckSecretReads: 1 });
  }, 60_000);
});

describe('a secret file whose volume hangs from the start', () => {
  const stuckEnv = (path: string, timeout: string): NodeJS.ProcessEnv =>
    aliceEnv(sim.url, {
      VIDISPINE_PASSWORD: undefined,
      VIDISPINE_PASSWORD_FILE: path,
      VIDISPINE_MINT_TIMEOUT_SECONDS: timeout,
      ...stuckVolumeEnv(path),
    });

  /**
   * What Node.js can do once one of its pool threads is stuck in a read: end by a signal (its
   * exit would wait for the thread for good), saying why on stderr.
   */
  const stuckMessage = (path: string): string =>
    'vidispine-auth-proxy: VIDISPINE_PASSWORD_FILE: ' +
    `file ${path} was not read within 0.5 s (VIDISPINE_MINT_TIMEOUT_SECONDS): is its volume stuck?\n` +
    "vidispine-auth-proxy: a file's read is stuck in its volume and Node.js would wait for it before exiting: ending by SIGTERM instead of exit 1\n";

  it.each(['check', 'run'])(
    '%s gives up at the mint timeout, naming the file, and ends',
    async (command) => {
      const path = stuckFile('stuck-at-start', 'password');
      const proxy = ChildProxy.start([command], stuckEnv(path, '0.5'));
      children.push(proxy);
      await proxy.waitForEvent('test_volume_stuck');
      expect(await within(proxy.exited, 10_000)).toEqual({ code: null, signal: 'SIGTERM' });
      expect(proxy.stderr).toBe(stuckMessage(path));
      // Nothing listened, and nothing was minted: as for any other bad secret file.
      expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
    },
    30_000,
  );

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'run, told to stop by %s while it waits for the read, ends at once by it',
    async (signal) => {
      const path = stuckFile('stuck-at-start', 'password');
      const proxy = ChildProxy.start(['run'], stuckEnv(path, '60'));
      children.push(proxy);
      await expectEndedWhileStuck(proxy, signal);
    },
    30_000,
  );
});

/**
 * In the image node is PID 1 (no shell, no init), and the kernel drops the signals a PID
 * namespace's init sends itself while their action is the default: the signal cannot end
 * it. Node.js 22.15 and later replace the process instead (process.execve), whose new image
 * exits with the signal's 128 + its number.
 */
describe('as PID 1, as in the image', () => {
  const unavailable =
    execveOf() === undefined
      ? `Node.js ${process.version} has no process.execve: as PID 1 the process waits for SIGKILL, as the README says`
      : pid1Unavailable();
  const itAsPid1 = unavailable === undefined ? it.each : it.skip.each;
  if (unavailable !== undefined) console.warn(`PID 1 tests skipped: ${unavailable}`);

  itAsPid1([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    'run, told to stop by %s while a secret read hangs at start, ends at once with %i',
    async (signal, code) => {
      const path = stuckFile('stuck-pid1', 'password');
      const proxy = ChildProxy.start(
        ['run'],
        aliceEnv(sim.url, {
          VIDISPINE_PASSWORD: undefined,
          VIDISPINE_PASSWORD_FILE: path,
          VIDISPINE_MINT_TIMEOUT_SECONDS: '60',
          ...stuckVolumeEnv(path),
        }),
        [],
        { pid1: true },
      );
      children.push(proxy);
      await proxy.waitForEvent('test_volume_stuck');
      // From the parent namespace, as the kubelet's runtime sends it: delivered, as a handler
      // is installed.
      process.kill(proxy.namespaceInit(), signal);
      // unshare exits with its child's code: the one Kubernetes would show.
      expect(await within(proxy.exited, 10_000)).toEqual({ code, signal: null });
      expect(proxy.stderr).toBe('');
      expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
    },
    30_000,
  );

  itAsPid1([['SIGTERM', 143]] as const)(
    'a read stuck while serving, then %s: the process ends after its drain with %i',
    async (signal, code) => {
      const secret = secretFile('alice');
      const proxy = ChildProxy.start(['run'], servingEnv(secret.path, '0'), [], { pid1: true });
      children.push(proxy);
      await proxy.waitForEvent('token_minted');
      secret.stick();
      await proxy.waitFor((l) => l.event === 'token_mint_failed');
      process.kill(proxy.namespaceInit(), signal);
      expect(await within(proxy.exited, 10_000)).toEqual({ code, signal: null });
      expect(proxy.lines.find((l) => l.step === 'exit')).toMatchObject({
        exitCode: 0,
        stuckSecretReads: 1,
        endedBy: signal,
      });
      // The new image says nothing: the exit line is the last one.
      expect(proxy.stdout[proxy.stdout.length - 1]).toContain('"step":"exit"');
      expect(proxy.stderr).toBe('');
      expect(proxy.stdout.join('\n')).not.toContain('alice-password');
    },
    30_000,
  );
});
