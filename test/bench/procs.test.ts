import { evaluateIn } from './evaluate';

// How the benchmark stops a child (bench/lib/procs.mjs): SIGTERM, SIGKILL after a grace
// period, and what ended it, so a harness (the soak) can tell a clean stop from a crash or
// a hang, and never waits for an exit that is already past.

/** `body` ends a child started as `startProcess('child', node, ['-e', script])`: its outcome. */
const stopped = (script: string, body: string) =>
  evaluateIn(
    ['procs'],
    `await (async () => {
      const proc = procs.startProcess('child', process.execPath, ['-e', ${JSON.stringify(script)}]);
      ${body}
    })()`,
  )[0];

const SERVING = "console.log('ready'); setInterval(() => {}, 1000)";

describe('stopping a child', () => {
  it('tells the exit code of one that ends on SIGTERM', () => {
    const script = `process.on('SIGTERM', () => process.exit(0)); ${SERVING}`;
    expect(stopped(script, `await procs.lineReader(proc).next(); return proc.stop();`)).toBe(0);
  });

  it('tells the signal that ended one', () => {
    expect(stopped(SERVING, `await procs.lineReader(proc).next(); return proc.stop();`)).toBe(
      'SIGTERM',
    );
  });

  it('tells a timeout for one that outlives the grace period, and kills it', () => {
    const script = `process.on('SIGTERM', () => {}); ${SERVING}`;
    expect(
      stopped(
        script,
        `await procs.lineReader(proc).next();
        const outcome = await proc.stop(100);
        return [outcome, await proc.exited];`,
      ),
    ).toEqual(['timeout', 'SIGKILL']);
  });

  it('tells at once the signal that already ended one (the OOM killer, say), however long the grace', () => {
    const script = "process.kill(process.pid, 'SIGKILL')";
    expect(stopped(script, `await proc.exited; return proc.stop(600_000);`)).toBe('SIGKILL');
  });
});
