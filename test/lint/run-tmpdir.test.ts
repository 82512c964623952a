/** A test run keeps its temporary files in a directory of its own, removed when it ends. */
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { leaveRunTmpdir } from '../support/run-tmpdir';

it("the tests' temporary directory is the run's own, and anyone may pass through it", () => {
  expect(basename(tmpdir())).toMatch(/^vap-test-run-/);
  expect(statSync(tmpdir()).mode & 0o777).toBe(0o755);
});

describe('leaving', () => {
  const saved = process.env.TMPDIR;
  afterEach(() => {
    process.env.TMPDIR = saved;
  });

  it("removes the run's directory with all that was left in it", () => {
    const run = mkdtempSync(join(tmpdir(), 'vap-test-run-'));
    mkdirSync(join(run, 'forgotten'));
    writeFileSync(join(run, 'forgotten', 'file'), 'x');
    process.env.TMPDIR = run;
    leaveRunTmpdir();
    expect(existsSync(run)).toBe(false);
  });

  it('leaves a temporary directory that is not a run of its own alone', () => {
    const other = mkdtempSync(join(tmpdir(), 'elsewhere-'));
    process.env.TMPDIR = other;
    leaveRunTmpdir();
    expect(existsSync(other)).toBe(true);
  });
});
