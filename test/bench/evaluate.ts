import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const LIB = join(__dirname, '..', '..', 'bench', 'lib');

/**
 * The benchmark's modules are ES modules, which jest's module sandbox cannot load: each
 * expression is evaluated by one plain Node.js child, in which each of `modules` (a file of
 * bench/lib without `.mjs`) is imported under its own name. `undefined` comes back as null.
 */
export function evaluateIn(modules: string[], ...expressions: string[]): unknown[] {
  const imports = modules.map(
    (name) =>
      `import * as ${name} from ${JSON.stringify(pathToFileURL(join(LIB, `${name}.mjs`)).href)};`,
  );
  const script = `
    ${imports.join('\n')}
    const values = [${expressions.join(',\n')}];
    process.stdout.write(JSON.stringify(values.map((v) => v ?? null)));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as unknown[];
}
