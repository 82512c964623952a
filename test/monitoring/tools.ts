import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first executable `name` on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Prometheus's own rule checker and tester (Debian's `prometheus` package; CI installs it).
 * Where it is missing, the tests that need it are collected as skipped, never passed.
 */
export const PROMTOOL = process.env.PROMTOOL ?? onPath('promtool');

export const describeWithPromtool: (name: string, fn: () => void) => void =
  PROMTOOL === undefined
    ? (name, fn) => describe.skip(`${name} (skipped: promtool is not installed)`, fn)
    : describe;
