/**
 * The import rules of eslint.config.mjs bite: a wrong import fails `npm run lint`. Each case
 * is linted as if it were a file at that path, with the project's own configuration.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * ESLint loads its configuration with import(), which jest's module sandbox cannot run, so
 * the cases are linted by a plain Node.js child with the project's own configuration, all
 * in one process.
 */
const LINT_CASES = `
const { ESLint } = require('eslint');
const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const eslint = new ESLint({ cwd: process.cwd() });
Promise.all(cases.map(async ([filePath, code]) => {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.map((m) => m.message);
})).then((all) => process.stdout.write(JSON.stringify(all)));
`;

type Case = readonly [file: string, code: string];

function lint(cases: readonly Case[]): string[][] {
  const out = execFileSync(process.execPath, ['-e', LINT_CASES], {
    cwd: ROOT,
    input: JSON.stringify(cases),
    encoding: 'utf8',
  });
  return JSON.parse(out) as string[][];
}

const use = (specifier: string): string =>
  `import { x } from '${specifier}';\nexport const y = x;\n`;

const FORBIDDEN: readonly (readonly [string, string])[] = [
  ['src/ops/probe.ts', '../proxy/observer'],
  ['src/ops/probe.ts', '../tokens/store'],
  ['src/config/probe.ts', '../vidispine/failures'],
  ['src/vidispine/probe.ts', '../tokens/types'],
  ['src/tokens/probe.ts', '../proxy/forwarder'],
  ['src/proxy/probe.ts', '../tokens/store'],
  ['src/proxy/probe.ts', '../app'],
  ['src/proxy/probe.ts', '../simulator'],
  ['src/app.ts', './commands/run'],
  ['src/cli.ts', './app'],
  ['src/inject/probe.ts', '../proxy/listener'],
  ['src/visible-text.ts', './config/types'],
  ['src/abortable.ts', './tokens/types'],
];

const CASES = {
  forbidden: FORBIDDEN.map(([file, specifier]): Case => [file, use(specifier)]),
  simulatorOut: ['src/simulator/probe.ts', use('../config/errors')],
  simulatorDeepOut: ['src/simulator/routes/probe.ts', use('../../ops/logger')],
  simulatorInside: ['src/simulator/routes/probe.ts', use('../http')],
  simulatorInternals: ['src/commands/probe.ts', use('../simulator/server')],
  simulatorEntry: ['src/commands/probe.ts', use('../simulator')],
  folderIndex: ['src/app.ts', use('./ops')],
  dynamicImport: [
    'src/ops/probe.ts',
    "export const load = async () => (await import('../proxy/listener')).x;\n",
  ],
  allowed: [
    ['src/proxy/probe.ts', use('../tokens/types')],
    ['src/ops/probe.ts', use('../tokens/types')],
    ['src/commands/probe.ts', use('../app')],
    ['src/cli.ts', use('./commands/registry')],
    ['src/config/probe.ts', use('../visible-text')],
    ['src/tokens/probe.ts', use('../abortable')],
  ],
} satisfies Record<string, Case | readonly Case[]>;

const isCase = (c: Case | readonly Case[]): c is Case => typeof c[0] === 'string';

let results: Map<Case, string[]>;
beforeAll(() => {
  const all = Object.values(CASES).flatMap((c) => (isCase(c) ? [c] : c));
  const answers = lint(all);
  results = new Map(all.map((c, i) => [c, answers[i]]));
}, 60_000);
const problems = (c: Case): string[] => results.get(c) ?? ['not linted'];

describe('import boundaries (npm run lint)', () => {
  it.each(FORBIDDEN.map((f, i) => [...f, i] as const))(
    '%s may not import %s',
    (_file, _specifier, i) => {
      expect(problems(CASES.forbidden[i])).toEqual([
        expect.stringContaining('(README, Development)'),
      ]);
    },
  );

  it('keeps the simulator apart, at any depth', () => {
    expect(problems(CASES.simulatorOut)).toEqual([expect.stringContaining('separate program')]);
    expect(problems(CASES.simulatorDeepOut)).toEqual([expect.stringContaining('separate program')]);
    expect(problems(CASES.simulatorInside)).toEqual([]);
  });

  it('reaches the simulator only through its entry, and no folder through an index', () => {
    expect(problems(CASES.simulatorInternals)).toEqual([expect.stringContaining('its entry')]);
    expect(problems(CASES.simulatorEntry)).toEqual([]);
    expect(problems(CASES.folderIndex)).toEqual([expect.stringContaining('no index.ts')]);
  });

  it('checks import() as well', () => {
    expect(problems(CASES.dynamicImport)).toEqual([
      expect.stringContaining('(README, Development)'),
    ]);
  });

  it('lets each part import what the rule allows', () => {
    for (const c of CASES.allowed) expect([c[0], problems(c)]).toEqual([c[0], []]);
  });
});
