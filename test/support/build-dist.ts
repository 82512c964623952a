import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests spawn the built CLI (`dist/cli.js`), so dist/ is brought up to date before any test
 * runs and a bare `npx jest` can never test a stale build. `tsc -b` does nothing when every
 * output is newer than its sources (about half a second), and recompiles otherwise.
 */
export function buildDist(): void {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
    cwd: join(__dirname, '..', '..'),
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    throw new Error(`building dist/ failed (tsc -b tsconfig.build.json exited ${result.status})`);
  }
}
