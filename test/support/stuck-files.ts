/**
 * Files on a volume that stops answering (a network or CSI mount gone away), for tests of the
 * real CLI: the preload stuck-volume.cjs makes opening any of the named files block the thread
 * that opens it, for good, as on such a volume.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

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

/** What `promise` settled to, or 'still running' once `ms` have passed (a bound, not a sleep). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((resolve) => {
    timer = setTimeout(() => resolve('still running'), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
