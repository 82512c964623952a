/**
 * What the per-part import rules of eslint.config.mjs cannot see: a cycle among the modules
 * of src/ (inside one part, or through parts the rules let import each other), and a file of
 * src/ in no part at all, which those rules would leave free to import anything. Every
 * import counts, `import type`, `export … from` and `import()` too: dependencies point one
 * way (README, Development). No cycle is excepted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { preProcessFile } from 'typescript';

const ROOT = join(__dirname, '..', '..');
const SRC = join(ROOT, 'src');

/** Every `.ts` file below `dir`, as absolute paths. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The module a relative specifier names, as Node's resolution of the build finds it. */
function resolved(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  const found = [`${base}.ts`, join(base, 'index.ts')].find((path) => existsSync(path));
  if (found === undefined) throw new Error(`${relative(ROOT, from)}: ${specifier} not found`);
  return found;
}

type Graph = ReadonlyMap<string, readonly string[]>;

/** Each module of `files` → the modules of src/ it imports. */
function importGraph(files: readonly string[]): Graph {
  return new Map(
    files.map((file) => {
      const { importedFiles } = preProcessFile(readFileSync(file, 'utf8'), true, true);
      const relatives = importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('.'));
      return [file, relatives.map((specifier) => resolved(file, specifier))];
    }),
  );
}

/** The cycles of `graph`: its strongly connected components of more than one module, or one importing itself (Tarjan). */
function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) {
      found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The parts eslint.config.mjs names (an ES module: read by a plain Node.js child). */
function lintedParts(): string[] {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const { PARTS } = await import('./eslint.config.mjs'); process.stdout.write(JSON.stringify(PARTS));",
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return JSON.parse(out) as string[];
}

const shown = (found: string[][]): string[] =>
  found.map((cycle) => cycle.map((file) => relative(SRC, file)).join(' ↔ '));

describe('the import graph of src/', () => {
  it('has no cycle', () => {
    const graph = importGraph(sources(SRC));
    expect(graph.size).toBeGreaterThan(100);
    expect(shown(cycles(graph))).toEqual([]);
  });

  it('puts every file in a part the import rules name', () => {
    const parts = new Set(lintedParts());
    const entries = readdirSync(SRC, { withFileTypes: true }).map((entry) =>
      entry.isDirectory() ? entry.name : entry.name.replace(/\.ts$/, ''),
    );
    expect(entries.filter((entry) => !parts.has(entry))).toEqual([]);
  });

  it('finds a cycle however long, and a module importing itself', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
      ['f', ['d']],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c'], ['e']]);
  });
});
