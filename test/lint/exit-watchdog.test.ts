/**
 * A test that leaves a server open must fail the run, not hang it: Jest, run in band on two
 * cores, would otherwise wait on the server for ever after its summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const JEST = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const WATCHDOG = join(ROOT, 'test', 'support', 'exit-watchdog.js');

let dir: string;
/** A Jest that did not end (the watchdog failing) must not outlive its test. */
const running = new Set<ChildProcess>();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vap-watchdog-'));
});
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Jest in a child process on one test file whose body is `body`, with the watchdog at 1 s. */
async function jestOn(name: string, body: string): Promise<{ code: number | null; err: string }> {
  const root = mkdtempSync(join(dir, `${name}-`));
  writeFileSync(join(root, `${name}.spec.js`), body);
  const config = {
    rootDir: root,
    testMatch: ['**/*.spec.js'],
    testEnvironment: 'node',
    transform: {},
    reporters: [[WATCHDOG, { graceSeconds: 1 }]],
  };
  const child = spawn(
    process.execPath,
    [JEST, '--runInBand', '--ci', '--config', JSON.stringify(config)],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  running.add(child);
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  running.delete(child);
  return { code, err };
}

it('a run whose test leaves a server listening ends, failed, naming what was left open', async () => {
  const leaky = `
    const net = require('node:net');
    it('listens and forgets', (done) => { net.createServer().listen(0, '127.0.0.1', done); });
  `;
  const { code, err } = await jestOn('leaky', leaky);
  expect(code).toBe(1);
  expect(err).toMatch(
    /The tests are over, but what they left open kept Jest running 1 s after its summary: .*TCPServerWrap/,
  );
});

it('a run that closes what it opened ends as its tests say, with nothing added', async () => {
  const tidy = `
    const net = require('node:net');
    it('listens and closes', (done) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => server.close(done));
    });
  `;
  const { code, err } = await jestOn('tidy', tidy);
  expect(code).toBe(0);
  expect(err).not.toMatch(/kept Jest running/);
});
