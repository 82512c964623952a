import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder of one test file's own, and fresh names in it. */
export function tempFolder(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `vap-${name}-`));
  let count = 0;
  /** A path no earlier call returned: `stem` and a number. */
  const path = (stem = 'f'): string => join(dir, `${stem}${++count}`);
  return {
    path,
    /** Writes `content` to a new file and returns its path. */
    file(content: string | Buffer): string {
      const written = path();
      writeFileSync(written, content);
      return written;
    },
  };
}
