/**
 * The configuration file (`--config`, `CONFIG_FILE`) on a volume that stops answering (a
 * network or CSI mount gone away), against the real CLI: test/support/stuck-volume.cjs makes
 * opening the file block the thread that opens it, for good. `run` and `inject` hold SIGTERM
 * and SIGINT from their first instruction, for their shutdown sequence: the file must be read
 * off the main thread, so that their handlers run and end the process. A FIFO fed by the
 * shell (`--config <(…)`) is read to its end as before.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createSimulator, type Simulator } from '../../src/simulator';
import { ChildProxy } from '../support/child-proxy';
import { CLI } from '../support/cli';
import { expectEndedWhileStuck, stuckFile, stuckVolumeEnv, within } from '../support/stuck-files';

let sim: Simulator;
beforeAll(async () => {
  sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
});
afterAll(() => sim.close());

const children: ChildProxy[] = [];
afterEach(() => children.splice(0).forEach((child) => child.kill()));

describe('a configuration file whose volume hangs from the start', () => {
  it.each([
    ['run', 'SIGTERM'],
    ['run', 'SIGINT'],
    ['inject', 'SIGTERM'],
    ['inject', 'SIGINT'],
  ] as const)(
    '%s, told to stop by %s while it waits for the read, ends by it',
    async (command, signal) => {
      const path = stuckFile('stuck-config', 'config.yaml');
      const proxy = ChildProxy.start([command, '--config', path], {
        ...stuckVolumeEnv(path),
      });
      children.push(proxy);
      await expectEndedWhileStuck(proxy, signal);
    },
    30_000,
  );
});

describe('a configuration file whose volume is slow at the start', () => {
  it.each([
    ['run', 'SIGTERM'],
    ['inject', 'SIGINT'],
  ] as const)(
    '%s, told to stop by %s while the read is under way, ends with exit 0 once it comes back',
    async (command, signal) => {
      const path = stuckFile('stuck-config', 'config.yaml');
      const proxy = ChildProxy.start([command, '--config', path], {
        ...stuckVolumeEnv(path),
        // The volume answers just after the signal: the read was slow, not stuck.
        STUCK_VOLUME_ANSWERS_ON: signal,
        STUCK_VOLUME_TEXT: 'log:\n  level: info\n',
      });
      children.push(proxy);
      await proxy.waitForEvent('test_volume_stuck');
      proxy.kill(signal);
      // Nothing listens yet and no read is left behind: an ordinary exit, as Kubernetes
      // expects of a container told to stop, not the 128 + signal of a stuck volume.
      expect(await within(proxy.exited, 10_000)).toEqual({ code: 0, signal: null });
      expect(proxy.stderr).toBe('');
      expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
    },
    30_000,
  );
});

/** `args` of the CLI run by bash, which puts `<(printf %s "$CONFIG")` where `{}` stands. */
function throughBash(args: string, env: NodeJS.ProcessEnv) {
  const child = spawn('bash', ['-c', `exec "$0" "$1" ${args}`, process.execPath, CLI], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  const listening = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"event":"listening"')) resolve();
    });
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }) as const);
  return { child, lines, listening, exited, stderr: () => stderr };
}

describe('a configuration fed by the shell through a FIFO (--config <(…))', () => {
  const config = (): string => `
vidispine:
  url: ${sim.url}
users:
  - name: alice
    password: alice-password
    listen: 127.0.0.1:0
ops:
  listen: 127.0.0.1:0
shutdown:
  delaySeconds: 0
`;

  it('check reads it to its end and checks the users it names', async () => {
    const bash = throughBash('check --config <(printf %s "$CONFIG")', { CONFIG: config() });
    expect(await within(bash.exited, 20_000)).toEqual({ code: 0, signal: null });
    expect(bash.stderr()).toBe('');
    expect(bash.lines.at(-1)).toBe(`1 user OK against ${sim.url}`);
  }, 30_000);

  it('run reads it, listens, and drains on SIGTERM', async () => {
    const bash = throughBash('run --config <(printf %s "$CONFIG")', { CONFIG: config() });
    try {
      await bash.listening;
      bash.child.kill('SIGTERM');
      expect(await within(bash.exited, 20_000)).toEqual({ code: 0, signal: null });
      expect(bash.stderr()).toBe('');
    } finally {
      bash.child.kill('SIGKILL');
    }
  }, 30_000);
});
