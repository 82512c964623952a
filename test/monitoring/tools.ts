import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';

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

/** Runs promtool (installed: call it inside `describeWithPromtool`) in `cwd`. */
export function promtool(args: string[], cwd?: string): { code: number | null; output: string } {
  const r = spawnSync(PROMTOOL as string, args, { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * For a describe block: a directory holding `rules` as `rules.yaml` (made before its tests,
 * removed after them), and a function that writes a `promtool test rules` file there, runs
 * it, and fails with promtool's output unless every case passed.
 */
export function promtoolRuleTests(
  prefix: string,
  rules: string,
): (name: string, test: unknown) => void {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    writeFileSync(join(dir, 'rules.yaml'), rules);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return (name, test) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(file, stringify(test));
    const { code, output } = promtool(['test', 'rules', file], dir);
    if (code !== 0) throw new Error(`promtool test rules failed:\n${output}`);
    expect(output).toContain('SUCCESS');
  };
}
