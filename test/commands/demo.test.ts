/** `demo` as a real child process: the printed curl lines work without any credentials. */
import { ChildProxy } from '../support/child-proxy';
import { call } from '../support/http';

function portOf(text: string, label: RegExp): number {
  const line = text.split('\n').find((l) => label.test(l));
  const match = line && /http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
  if (!match) throw new Error(`no address for ${label} in:\n${text}`);
  return Number(match[1]);
}

/** `demo` on free ports. */
const startDemo = (): ChildProxy =>
  ChildProxy.start(
    [
      'demo',
      '--listen',
      '127.0.0.1:0',
      '--ops-listen',
      '127.0.0.1:0',
      '--simulator-listen',
      '127.0.0.1:0',
    ],
    {},
  );
const saysReady = (line: string): boolean => line.startsWith('Press Ctrl-C');

describe('demo', () => {
  let demo: ChildProxy | undefined;
  afterEach(async () => {
    demo?.kill();
    await demo?.exited;
  });

  it('wires the simulator and the proxy together and prints working curl lines', async () => {
    demo = startDemo();
    await demo.waitForText(saysReady);
    const text = demo.stdout.join('\n');
    const alice = portOf(text, /proxy as alice/);
    const bob = portOf(text, /proxy as bob/);
    const ops = portOf(text, /ops \(health/);
    expect(text).toContain(`curl http://127.0.0.1:${alice}/API/whoami`);

    expect((await call(alice, { path: '/API/whoami' })).text).toBe('alice');
    expect((await call(bob, { path: '/API/whoami' })).text).toBe('bob');
    const created = await call(alice, {
      method: 'POST',
      path: '/API/item',
      headers: { 'content-type': 'application/json' },
      body: '{"title":"demo"}',
    });
    expect(created.status).toBe(201);
    expect(created.headers.location).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${alice}/API/item/`),
    );
    expect((await call(ops, { path: '/readyz' })).status).toBe(200);

    demo.child.kill('SIGINT');
    expect((await demo.exited).code).toBe(0);
  });

  it('stops on SIGHUP, as when its terminal is closed, rather than linger holding its ports', async () => {
    demo = startDemo();
    await demo.waitForText(saysReady);
    demo.child.kill('SIGHUP');
    expect((await demo.exited).code).toBe(0);
  });

  it.each([
    ['127.0.0.1:47812', "--listen (bob's listener, the port after alice's)"],
    ['127.0.0.1:47811', '--listen'],
    ['0.0.0.0:47813', '--ops-listen'],
  ])(
    'exits 2, binding nothing, when --simulator-listen %s takes the address of %s',
    async (simulator, taken) => {
      demo = ChildProxy.start(
        [
          'demo',
          '--listen',
          '127.0.0.1:47811',
          '--ops-listen',
          '127.0.0.1:47813',
          '--simulator-listen',
          simulator,
        ],
        {},
      );
      expect((await demo.exited).code).toBe(2);
      expect(demo.stderr).toContain(`--simulator-listen: address already used by ${taken}`);
      expect(demo.stdout).toEqual([]);
    },
  );

  it.each([
    [
      ['--listen', '127.0.0.1:9090'],
      "--listen: 127.0.0.1:9090 overlaps the ops listener's default address, 127.0.0.1:9090 (--ops-listen): choose another port, or set --ops-listen",
    ],
    [
      ['--ops-listen', '127.0.0.1:8080'],
      "--ops-listen: 127.0.0.1:8080 overlaps the data listener's default address, 127.0.0.1:8080 (--listen): choose another port, or set --listen",
    ],
    [
      ['--listen', '127.0.0.1:9090', '--ops-listen', '127.0.0.1:9090'],
      '--ops-listen: address already used by --listen',
    ],
  ])(
    'exits 2 naming the option given when %j takes the address of a default',
    async (args, message) => {
      demo = ChildProxy.start(['demo', ...args, '--simulator-listen', '127.0.0.1:0'], {});
      expect((await demo.exited).code).toBe(2);
      expect(demo.stderr).toContain(message);
    },
  );

  it.each([
    [
      ['--ops-listen', '127.0.0.1:18080'],
      "--ops-listen: 127.0.0.1:18080 overlaps the simulator's default address, 127.0.0.1:18080 (--simulator-listen): choose another port, or set --simulator-listen",
    ],
    [
      ['--listen', '0.0.0.0:18080'],
      "--listen: 0.0.0.0:18080 overlaps the simulator's default address, 127.0.0.1:18080 (--simulator-listen): choose another port, or set --simulator-listen",
    ],
  ])(
    "exits 2, binding nothing, naming the option given when %j takes the simulator's default address",
    async (args, message) => {
      demo = ChildProxy.start(['demo', ...args], {});
      expect((await demo.exited).code).toBe(2);
      expect(demo.stderr).toContain(message);
      expect(demo.stdout).toEqual([]);
    },
  );

  it('exits 2 on a bad address', async () => {
    demo = ChildProxy.start(['demo', '--listen', 'nowhere'], {});
    expect((await demo.exited).code).toBe(2);
    expect(demo.stderr).toContain('--listen');
  });
});
