import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A bench script stopped by a signal leaves no process and no temporary directory behind.
// Each runs with a temporary directory of its own (TMPDIR), so what it left there is seen.

const BENCH = join(__dirname, '..', '..', 'bench');

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'vap-bench-cleanup-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const start = (script: string, args: string[]): ChildProcessWithoutNullStreams =>
  spawn(process.execPath, [join(BENCH, script), ...args], {
    env: { ...process.env, TMPDIR: tmp },
  });

function stdoutLine(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const match = pattern.exec(out);
      if (match) resolve(match[0]);
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}): ${out}`)));
  });
}

/** Resolves once an entry whose name starts with `prefix` is in `dir`. */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function entryAppears(dir: string, prefix: string): Promise<void> {
  return new Promise((resolve) => {
    let found = false;
    const watcher = watch(dir, () => check());
    // A change event can still be delivered after the test has removed the directory:
    // once the entry was seen, or the directory is gone, there is nothing left to look at.
    const check = () => {
      if (found || !entries(dir).some((name) => name.startsWith(prefix))) return;
      found = true;
      watcher.close();
      resolve();
    };
    check();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A killed process whose parent exited is gone once init has reaped it. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

describe('stopped by a signal', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'npm run soak (%s) stops its proxy and removes the directory of its config',
    async (signal) => {
      const soak = start('soak.mjs', ['--minutes=1']);
      const line = await stdoutLine(soak, /proxy pid (\d+)/);
      const proxyPid = Number(/\d+/.exec(line)?.[0]);
      expect(readdirSync(tmp)).toEqual([expect.stringMatching(/^vap-soak-/)]);
      soak.kill(signal);
      await once(soak, 'exit');
      expect(await gone(proxyPid)).toBe(true);
      expect(readdirSync(tmp)).toEqual([]);
    },
    30_000,
  );

  it('npm run soak whose proxy a signal ended reports that signal at once, not a stop that timed out', async () => {
    const soak = start('soak.mjs', ['--minutes=1']);
    let out = '';
    soak.stdout.on('data', (d: string) => (out += d));
    const line = await stdoutLine(soak, /proxy pid (\d+)/);
    const exited = once(soak, 'exit');
    // The OOM killer, say: the soak's stop of the proxy finds it already ended.
    process.kill(Number(/\d+/.exec(line)?.[0]), 'SIGKILL');
    const [code] = await exited;
    expect(code).toBe(1);
    expect(out).toContain('soak: proxy exit after SIGTERM: SIGKILL\n');
    expect(readdirSync(tmp)).toEqual([]);
  }, 30_000);

  it('npm run bench (Ctrl-C in the traced starts) removes their trace directory', async () => {
    const bench = start('run.mjs', [
      '--only=start',
      '--contenders=proxy',
      '--starts=3',
      '--settle=0',
      `--out=${join(tmp, 'out.json')}`,
    ]);
    const exited = once(bench, 'exit');
    await entryAppears(tmp, 'bench-trace-');
    bench.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(130);
    expect(readdirSync(tmp)).toEqual([]);
  }, 60_000);
});
