/**
 * The run's own temporary directory. Global setup points `TMPDIR` at it, so every
 * `os.tmpdir()` of the tests, and of the programs they start (the proxy, Helm, nginx), is
 * inside it; global teardown removes it whole. A test that forgets a directory, or a program
 * killed before it could clean up, leaves nothing in the machine's own temporary directory.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const PREFIX = 'vap-test-run-';

export function enterRunTmpdir(): void {
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  // Anyone may pass through, as through /tmp: some tests run the proxy under other uids.
  chmodSync(dir, 0o755);
  process.env.TMPDIR = dir;
}

export function leaveRunTmpdir(): void {
  const dir = process.env.TMPDIR;
  if (dir === undefined || !basename(dir).startsWith(PREFIX)) return;
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
