/**
 * The monitoring check's hold on the children it starts (scripts/monitoring/listening.mjs):
 * stopping one always ends, even one that a signal already ended, so the check's cleanup
 * never waits forever on a proxy or webhook that was killed under it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const LISTENING = pathToFileURL(
  join(__dirname, '..', '..', 'scripts', 'monitoring', 'listening.mjs'),
);

/**
 * Runs `body` (an ES module's statements, with `watchChild` and `spawn` in scope) in a plain
 * Node.js child: its exit code and stdout. A stop that never resolves leaves the module's
 * await unsettled: Node.js then exits with 13 as soon as nothing else is pending.
 */
function run(body: string): { status: number | null; out: string } {
  const script = `
    import { spawn } from 'node:child_process';
    import { watchChild } from ${JSON.stringify(LISTENING.href)};
    ${body}
  `;
  const { status, stdout } = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 10_000,
    killSignal: 'SIGKILL',
  });
  return { status, out: stdout };
}

describe('stopping a watched child', () => {
  it('ends a running one with SIGTERM, and a second stop ends at once', () => {
    expect(
      run(`
      const child = spawn(process.execPath, ['-e', "console.log(JSON.stringify({ event: 'listening' })); setInterval(() => {}, 1000)"]);
      const watched = watchChild(child, 'probe');
      await watched.listening;
      await watched.stop();
      process.stdout.write(child.signalCode + ' ');
      await watched.stop();
      process.stdout.write('stopped twice');
    `),
    ).toEqual({ status: 0, out: 'SIGTERM stopped twice' });
  });

  it('ends at once for one a signal already ended', () => {
    expect(
      run(`
      const child = spawn(process.execPath, ['-e', "process.kill(process.pid, 'SIGKILL')"]);
      const watched = watchChild(child, 'probe');
      const error = await watched.listening.catch((err) => err);
      process.stdout.write(error.message.split('\\n')[0] + ' ');
      await watched.stop();
      process.stdout.write('stopped');
    `),
    ).toEqual({ status: 0, out: 'probe exited (null): stopped' });
  });
});
