import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests spawn the built CLI (`dist/cli.js`, the bundle users run), so dist/ is brought up to
 * date before any test runs and a bare `npx jest` can never test a stale build. The build
 * (scripts/build.mjs: tsc, then esbuild) does nothing when every output is newer than its
 * sources (about half a second), and rebuilds otherwise.
 */
export function buildDist(): void {
  const result = spawnSync(process.execPath, ['scripts/build.mjs'], {
    cwd: join(__dirname, '..', '..'),
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    throw new Error(`building dist/ failed (scripts/build.mjs exited ${result.status})`);
  }
}
