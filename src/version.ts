import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version, read from package.json beside `dist/` (or `src/` under tests). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
