/**
 * Secret files are read again at every mint: a rotation takes effect without a restart, and
 * a missing file costs only the mints that need it. (Everything else in the configuration
 * is read once, at start: changing it takes a restart.)
 */
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import fsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stuckSecretReads } from '../../src/config/secrets';
import { expectOutageThenRecovery } from '../support/reliability-faults';
import { startApp, type RunningApp } from '../support/app';
import { call } from '../support/http';
import { startTraffic } from '../support/reliability-clients';
import { nextEvent } from '../support/token-events';
import { until } from '../support/wait';

const dir = mkdtempSync(join(tmpdir(), 'vap-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A secret file in a folder of its own: the proxy reads one folder's files one after another
 * (a folder is a volume), so the test whose volume hangs must not hold the others' reads.
 */
function secretPath(name: string): string {
  mkdirSync(join(dir, name));
  return join(dir, name, 'password');
}

/**
 * The proxy in this process beside the simulator and the traffic, so a busy CI machine can
 * hold a mint's answer up: only the test about a hanging volume needs a short mint timeout.
 */
async function startWithFile(file: string, mintTimeoutSeconds = 5): Promise<RunningApp> {
  writeFileSync(file, 'alice-password\n');
  return startApp({
    raw: { users: [{ name: 'alice', passwordFile: file, listen: '127.0.0.1:0' }] },
    vidispine: { mintTimeoutSeconds },
  });
}

test.concurrent(
  'a password rotated mid-run (Vidispine, then the file) costs no request',
  async () => {
    const file = secretPath('rotated');
    const r = await startWithFile(file);
    try {
      const traffic = startTraffic(r.port());
      await until(() => traffic.answers.length > 0, 5000, 'traffic');
      r.sim.setUserPassword('alice', 'alice-rotated-1');
      writeFileSync(file, 'alice-rotated-1\n');
      // Vidispine restarts: the old token is gone, the next mint must read the new file.
      r.sim.revokeAllTokens();
      await nextEvent(r.app.store, 'minted');
      const mintedAt = Date.now();
      await until(
        () => traffic.answers.some((a) => a.at > mintedAt),
        5000,
        'a request after the new token',
      );
      const answers = await traffic.stop();
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
      expect(r.sim.calls({ endpoint: 'token', user: 'alice' })).toBe(2);
      expect(r.logs.join('\n')).not.toContain('alice-rotated-1');
    } finally {
      await r.close();
    }
  },
);

/**
 * A Secret volume as the kubelet lays it out and updates it (its AtomicWriter): the files in
 * a timestamped folder, `..data` linking to it, `password` linking through `..data`; an
 * update writes a new folder, swaps `..data` by a rename, then removes the old folder.
 */
function kubeletMount(name: string, password: string): { file: string; update(p: string): void } {
  const mount = join(dir, name);
  mkdirSync(mount);
  let version = 0;
  const write = (p: string): string => {
    version += 1;
    const folder = `..2026_12_05_03_00_0${version}.000000001`;
    mkdirSync(join(mount, folder));
    writeFileSync(join(mount, folder, 'password'), `${p}\n`);
    return folder;
  };
  let current = write(password);
  symlinkSync(current, join(mount, '..data'));
  symlinkSync(join('..data', 'password'), join(mount, 'password'));
  return {
    file: join(mount, 'password'),
    update(p) {
      const old = current;
      current = write(p);
      symlinkSync(current, join(mount, '..data_tmp'));
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      rmSync(join(mount, old), { recursive: true });
    },
  };
}

test.concurrent(
  'a password rotated in Vidispine before its Secret: the update of the Secret is tried at once, not after the backoff',
  async () => {
    const mount = kubeletMount('kubelet', 'alice-password');
    const r = await startApp({
      raw: { users: [{ name: 'alice', passwordFile: mount.file, listen: '127.0.0.1:0' }] },
      vidispine: { mintTimeoutSeconds: 5 },
    });
    try {
      expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(200);
      r.sim.setUserPassword('alice', 'alice-rotated-2');
      r.sim.revokeAllTokens();
      const failed = nextEvent(r.app.store, 'mintFailed');
      expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(503);
      const failure = await failed;
      const failedAt = Date.now();
      expect(failure.reason).toBe('unauthorized');
      // Credentials are a failure an operator fixes: the backoff starts at 8 s (6 s jittered).
      expect(failure.retryInMs).toBeGreaterThanOrEqual(6000);
      const minted = nextEvent(r.app.store, 'minted');
      mount.update('alice-rotated-2');
      await minted;
      // The new password was used on the Secret's update, well before the retry planned.
      expect(Date.now() - failedAt).toBeLessThan(failure.retryInMs);
      expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(200);
      expect(r.sim.calls({ endpoint: 'token', user: 'alice' })).toBe(3);
      expect(r.logs.join('\n')).not.toContain('alice-rotated-2');
    } finally {
      await r.close();
    }
  },
  25_000,
);

test.concurrent(
  'a secret file missing when a mint is needed: 503 + Retry-After, then recovery once it is back',
  async () => {
    const file = secretPath('missing');
    const r = await startWithFile(file);
    try {
      await expectOutageThenRecovery(
        r,
        { reason: 'secret_unreadable' },
        () => {
          unlinkSync(file);
          r.sim.revokeAllTokens();
        },
        () => writeFileSync(file, 'alice-password\n'),
        0,
      );
    } finally {
      await r.close();
    }
  },
  25_000,
);

test('a secret file whose volume hangs: the mint gives up at the mint timeout, 503, one read at a time', async () => {
  const file = secretPath('stuck');
  const r = await startWithFile(file, 0.5);
  const open = fsPromises.open;
  let release = (): void => undefined;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  let opened = 0;
  // A stuck network or CSI volume: opening the file does not finish until it is released.
  const spy = jest.spyOn(fsPromises, 'open').mockImplementation(async (path, ...rest) => {
    if (path !== file) return open(path, ...rest);
    opened += 1;
    await stuck;
    return open(path, ...rest);
  });
  try {
    const failed = nextEvent(r.app.store, 'mintFailed');
    r.sim.revokeAllTokens();
    const answer = await call(r.port(), { path: '/API/whoami' });
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBeDefined();
    const failure = await failed;
    expect(failure).toMatchObject({ reason: 'timeout' });
    expect(failure.message).toBe(
      `the password of "alice" (users[0].passwordFile): file ${file} was not read within 0.5 s (vidispine.mintTimeoutSeconds): is its volume stuck?`,
    );
    // The retries join the read that hangs instead of piling more onto Node's thread pool.
    await nextEvent(r.app.store, 'mintFailed');
    expect(opened).toBe(1);
    // One stuck read, which the exit must not wait for (ops/shutdown).
    expect(stuckSecretReads()).toBe(1);
    release();
    await nextEvent(r.app.store, 'minted');
    expect(stuckSecretReads()).toBe(0);
    expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(200);
    expect(r.logs.join('\n')).not.toContain('alice-password');
  } finally {
    release();
    spy.mockRestore();
    await r.close();
  }
}, 20_000);
