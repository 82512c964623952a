/**
 * Everything wrong at start, said in one start, against the real CLI: the keys that do not
 * validate, the secret files and the CA file that cannot be used, and the files whose volume
 * did not answer, each named by its key. An operator with three mistakes restarts once.
 */
import { createSimulator, type Simulator } from '../../src/simulator';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { tempFolder } from '../support/files';
import { stuckFile, stuckVolumeEnv, within } from '../support/stuck-files';

let sim: Simulator;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

const children: ChildProxy[] = [];
afterEach(() => children.splice(0).forEach((child) => child.kill()));

/** What must never reach the output: a file's content may be a secret. */
const SECRET = 'hunter2-not-a-certificate';

async function ended(args: string[], env: NodeJS.ProcessEnv): Promise<ChildProxy> {
  const proxy = ChildProxy.start(args, env);
  children.push(proxy);
  await within(proxy.exited, 20_000);
  return proxy;
}

describe.each(['run', 'check'])('%s', (command) => {
  it('lists a bad key, a secret file and a CA file that cannot be used, together: exit 2', async () => {
    const folder = tempFolder('start-problems');
    const missing = folder.path('password');
    const notPem = folder.file(`${SECRET}\n`);
    const proxy = await ended(
      [command],
      aliceEnv(sim.url, {
        TOKEN_SECONDS: 'soon',
        VIDISPINE_PASSWORD: undefined,
        VIDISPINE_PASSWORD_FILE: missing,
        VIDISPINE_CA_FILE: notPem,
      }),
    );
    expect(await proxy.exited).toEqual({ code: 2, signal: null });
    expect(proxy.stderr).toBe(
      'vidispine-auth-proxy: configuration error\n' +
        '  TOKEN_SECONDS: must be a positive integer\n' +
        `  VIDISPINE_PASSWORD_FILE: cannot read file ${missing} (ENOENT)\n` +
        `  VIDISPINE_CA_FILE: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE----- …)\n`,
    );
    expect(proxy.lines).toEqual([]);
  }, 30_000);

  it('names every file of a YAML file that cannot be used, with its other bad keys: exit 2', async () => {
    const folder = tempFolder('start-problems-yaml');
    const missing = folder.path('bob');
    const notPem = folder.file(`${SECRET}\n`);
    const runAsKey = folder.path('runas-key');
    const good = folder.file('alice-password\n');
    const config = folder.file(
      JSON.stringify({
        vidispine: {
          url: sim.url,
          caFile: notPem,
          mintTimeoutSeconds: 'soon',
          runAs: { username: 'svc', accessKey: { id: 'VSID1', secretFile: runAsKey } },
        },
        users: [
          { name: 'alice', passwordFile: good, listen: '127.0.0.1:0' },
          { name: 'bob', passwordFile: missing, listen: 'nowhere' },
          { name: 'carol', passwordFile: 42 },
        ],
      }),
    );
    const proxy = await ended([command, '--config', config], {});
    expect(await proxy.exited).toEqual({ code: 2, signal: null });
    const lines = proxy.stderr.split('\n');
    expect(lines[0]).toBe('vidispine-auth-proxy: configuration error');
    expect(lines.filter((l) => l.startsWith('  vidispine.mintTimeoutSeconds: '))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('  users[1].listen: '))).toHaveLength(1);
    expect(lines).toContain(`  users[1].passwordFile: cannot read file ${missing} (ENOENT)`);
    expect(lines).toContain(
      `  vidispine.runAs.accessKey.secretFile: cannot read file ${runAsKey} (ENOENT)`,
    );
    // A key that is not a file name is refused as such, and nothing is read for it.
    expect(lines).toContain('  users[2].passwordFile: must be a non-empty string');
    expect(lines.filter((l) => l.includes('users[2]'))).toHaveLength(1);
    expect(lines).toContain(
      `  vidispine.caFile: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE----- …)`,
    );
    expect(lines.some((l) => l.includes('users[0]'))).toBe(false);
    expect(proxy.stderr).not.toContain(SECRET);
    expect(proxy.stderr).not.toContain('alice-password');
  }, 30_000);
});

// A block left empty (`accessKey:` on a line of its own) is as if not written, as when the
// keys validate: the account still gives one source for its secret, read beside bad keys.
it('reads the secret file of an account with an empty accessKey block, beside a bad key', async () => {
  const missing = tempFolder('start-problems-empty').path('password');
  const config = tempFolder('start-problems-empty-yaml').file(
    JSON.stringify({
      vidispine: { url: sim.url, mintTimeoutSeconds: 'soon' },
      users: [{ name: 'alice', passwordFile: missing, accessKey: null, listen: '127.0.0.1:0' }],
    }),
  );
  const proxy = await ended(['check', '--config', config], {});
  expect(await proxy.exited).toEqual({ code: 2, signal: null });
  expect(proxy.stderr.split('\n')).toContain(
    `  users[0].passwordFile: cannot read file ${missing} (ENOENT)`,
  );
}, 30_000);

describe('a file whose volume hangs, beside bad configuration', () => {
  const endLine =
    "vidispine-auth-proxy: a file's read is stuck in its volume and Node.js would wait for it before exiting: ending by SIGTERM instead of exit 2\n";

  /** The line that names `key`'s file `path` as stuck, given up on after 0.5 s. */
  const stuckLine = (key: string, path: string): string =>
    `vidispine-auth-proxy: ${key}: file ${path} was not read within 0.5 s (VIDISPINE_MINT_TIMEOUT_SECONDS): is its volume stuck?\n`;

  /** `command` with alice and `env`, ended: its file `stuck` hangs, given up on after 0.5 s. */
  const endedBesideStuck = (
    command: string,
    stuck: string,
    env: NodeJS.ProcessEnv,
  ): Promise<ChildProxy> =>
    ended(
      [command],
      aliceEnv(sim.url, {
        ...env,
        VIDISPINE_MINT_TIMEOUT_SECONDS: '0.5',
        ...stuckVolumeEnv(stuck),
      }),
    );

  /**
   * `run` with a bad key and a CA file `ca` whose read hangs (60 s allowed), once that read
   * is under way; `env` says how the volume behaves.
   */
  async function waitingOnStuckCa(ca: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProxy> {
    const proxy = ChildProxy.start(
      ['run'],
      aliceEnv(sim.url, {
        TOKEN_SECONDS: 'soon',
        VIDISPINE_CA_FILE: ca,
        VIDISPINE_MINT_TIMEOUT_SECONDS: '60',
        ...stuckVolumeEnv(ca),
        ...env,
      }),
    );
    children.push(proxy);
    await proxy.waitForEvent('test_volume_stuck');
    return proxy;
  }

  it.each(['run', 'check'])(
    '%s says the bad keys, then names the stuck CA file by its key, and ends',
    async (command) => {
      const ca = stuckFile('stuck-beside', 'ca.pem');
      const proxy = await endedBesideStuck(command, ca, {
        TOKEN_SECONDS: 'soon',
        VIDISPINE_CA_FILE: ca,
      });
      expect(await proxy.exited).toEqual({ code: null, signal: 'SIGTERM' });
      expect(proxy.stderr).toBe(
        'vidispine-auth-proxy: configuration error\n' +
          '  TOKEN_SECONDS: must be a positive integer\n' +
          stuckLine('VIDISPINE_CA_FILE', ca) +
          endLine,
      );
      expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
    },
    30_000,
  );

  it('run says a secret file that cannot be used, then names the stuck CA file', async () => {
    const ca = stuckFile('stuck-beside', 'ca.pem');
    const missing = tempFolder('missing-secret').path('password');
    const proxy = await endedBesideStuck('run', ca, {
      VIDISPINE_PASSWORD: undefined,
      VIDISPINE_PASSWORD_FILE: missing,
      VIDISPINE_CA_FILE: ca,
    });
    expect(await proxy.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(proxy.stderr).toBe(
      'vidispine-auth-proxy: configuration error\n' +
        `  VIDISPINE_PASSWORD_FILE: cannot read file ${missing} (ENOENT)\n` +
        stuckLine('VIDISPINE_CA_FILE', ca) +
        endLine,
    );
  }, 30_000);

  it('run says a CA file that cannot be used, then names the stuck secret file', async () => {
    const password = stuckFile('stuck-beside', 'password');
    const missing = tempFolder('missing-ca').path('ca.pem');
    const proxy = await endedBesideStuck('run', password, {
      VIDISPINE_PASSWORD: undefined,
      VIDISPINE_PASSWORD_FILE: password,
      VIDISPINE_CA_FILE: missing,
    });
    expect(await proxy.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(proxy.stderr).toBe(
      'vidispine-auth-proxy: configuration error\n' +
        `  VIDISPINE_CA_FILE: cannot read file ${missing} (ENOENT)\n` +
        stuckLine('VIDISPINE_PASSWORD_FILE', password) +
        endLine,
    );
  }, 30_000);

  // The bad keys were known before the signal came: ending without them left the operator to
  // find them on the next start (stderr was empty, and exit 0 where the volume was slow).
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'run, told to stop by %s while it waits for the read, says the bad keys and ends at once by it',
    async (signal) => {
      const proxy = await waitingOnStuckCa(stuckFile('stuck-beside', 'ca.pem'));
      proxy.kill(signal);
      expect(await within(proxy.exited, 10_000)).toEqual({ code: null, signal });
      // Only what is known: the file was given up on by the signal, not found stuck.
      expect(proxy.stderr).toBe(
        'vidispine-auth-proxy: configuration error\n' +
          '  TOKEN_SECONDS: must be a positive integer\n',
      );
      expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
    },
    30_000,
  );

  it('run, told to stop while a slow read is under way, says the bad keys: exit 2', async () => {
    const proxy = await waitingOnStuckCa(stuckFile('stuck-beside', 'ca.pem'), {
      // The volume answers just after the signal: the read was slow, not stuck.
      STUCK_VOLUME_ANSWERS_ON: 'SIGTERM',
      STUCK_VOLUME_TEXT: SECRET,
    });
    proxy.kill('SIGTERM');
    expect(await within(proxy.exited, 10_000)).toEqual({ code: 2, signal: null });
    expect(proxy.stderr).toBe(
      'vidispine-auth-proxy: configuration error\n' +
        '  TOKEN_SECONDS: must be a positive integer\n',
    );
  }, 30_000);
});
