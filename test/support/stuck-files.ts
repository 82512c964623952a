/**
 * Files on a volume that stops answering (a network or CSI mount gone away), for tests of the
 * real CLI: the preload stuck-volume.cjs makes opening any of the named files block the thread
 * that opens it, for good, as on such a volume.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ChildProxy } from './child-proxy';
import { tempFolder } from './files';

const PRELOAD = join(__dirname, 'stuck-volume.cjs');

/** The environment that loads the preload, naming the files whose opens hang. */
export function stuckVolumeEnv(...paths: string[]): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `--require ${PRELOAD}`, STUCK_VOLUME: paths.join(':') };
}

/** Makes `path` a FIFO no one writes to: the preload opens it as a hung volume's file. */
export function mkfifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

/** A fresh path after `name` in a new temporary folder `folder`, made a FIFO no one writes to. */
export function stuckFile(folder: string, name: string): string {
  return mkfifo(tempFolder(folder).path(name));
}

/** What `promise` settled to, or 'still running' once `ms` have passed (a bound, not a sleep). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((resolve) => {
    timer = setTimeout(() => resolve('still running'), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Sends `signal` to `proxy` once its read of a stuck file is under way, and checks that the
 * signal ends it, having said nothing but that the read is stuck: nothing listens yet, so
 * there is nothing to drain, and the read stays stuck in its thread, which Node.js's exit
 * would wait for.
 */
export async function expectEndedWhileStuck(
  proxy: ChildProxy,
  signal: NodeJS.Signals,
): Promise<void> {
  await proxy.waitForEvent('test_volume_stuck');
  proxy.kill(signal);
  expect(await within(proxy.exited, 10_000)).toEqual({ code: null, signal });
  expect(proxy.stderr).toBe('');
  expect(proxy.lines.map((l) => l.event)).toEqual(['test_volume_stuck']);
}
