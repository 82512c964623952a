import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import regexp from 'eslint-plugin-regexp';

/** Files at the bottom of src/ that every part but the CLI's entry may import. */
const SHARED = ['error-message', 'visible-text', 'abortable'];

/**
 * The parts of src/ and what each may import: dependencies point one way, cli → commands →
 * app → proxy / tokens / ops → vidispine / config (README, "Development"); `inject` is the
 * webhook's part beside the proxy's; `part/module` allows that one module of a part (the
 * token store's contract, not the store). The proxy's folders have no index.ts: a module is
 * imported by its own name. The simulator is a separate program: it imports nothing from
 * outside its folder, and the commands use it only through its entry (src/simulator/index.ts).
 */
export const MAY_IMPORT = {
  // The process's signal dispositions are set before any command loads.
  cli: ['commands', 'ops/signals', 'version'],
  commands: [
    'app',
    'inject',
    'simulator',
    'ops',
    'proxy',
    'tokens',
    'vidispine',
    'config',
    'version',
    ...SHARED,
  ],
  app: ['proxy', 'ops', 'tokens', 'vidispine', 'config', 'version', ...SHARED],
  inject: ['ops', 'config', 'version', ...SHARED],
  proxy: ['tokens/types', 'vidispine', 'config', 'clock-text', 'idle-close', ...SHARED],
  ops: ['tokens/types', 'vidispine', 'config', 'clock-text', 'idle-close', ...SHARED],
  tokens: ['vidispine', 'config', ...SHARED],
  vidispine: ['config', ...SHARED],
  config: SHARED,
  version: [],
  // What a thrown value says: the one helper every part shares.
  'error-message': [],
  // Text from elsewhere as a message or a table may show it, secrets blanked out.
  'visible-text': [],
  // One waiter's share of a shared promise, given up on its own signal.
  abortable: [],
  // Instants as text without \`Date\`'s formatting, for the proxy's answers and the ops logs.
  'clock-text': [],
  // Closing a closed listener's idle connections without cutting an answer still going out.
  'idle-close': [],
};
export const PARTS = [...Object.keys(MAY_IMPORT), 'simulator'];
/** Parts that are one file at the top of src/; the others are folders. */
const FILES = new Set(['cli', 'app', 'version', 'clock-text', 'idle-close', ...SHARED]);
const FOLDERS = PARTS.filter((p) => !FILES.has(p) && p !== 'simulator');

/** `regex` for a relative import from a file of `part` into one of `targets`, then `tail`. */
function into(part, targets, tail) {
  const up = FILES.has(part) ? String.raw`\./` : String.raw`(\.\./)+`;
  return `^${up}(${targets.join('|')})${tail}`;
}

function boundaries(part) {
  const allowed = MAY_IMPORT[part];
  const forbidden = PARTS.filter((p) => p !== part && !allowed.includes(p));
  const whole = forbidden.filter((p) => !allowed.some((a) => a.startsWith(`${p}/`)));
  const partly = forbidden.filter((p) => !whole.includes(p));
  const rule = `${part} may import ${allowed.join(', ') || 'no other part'} (README, Development).`;
  const patterns = [
    ...partly.map((p) => {
      const modules = allowed
        .filter((a) => a.startsWith(`${p}/`))
        .map((a) => a.slice(p.length + 1));
      return { regex: into(part, [p], `/(?!(${modules.join('|')})$)`), message: rule };
    }),
    {
      regex: into(part, FOLDERS, '$'),
      message: 'Folders have no index.ts: import the module that holds the name.',
    },
    {
      regex: into(part, ['simulator'], '/'),
      message: 'The simulator is a separate program: use its entry, src/simulator.',
    },
  ];
  if (whole.length > 0) patterns.unshift({ regex: into(part, whole, '(/|$)'), message: rule });
  // `import()` is not an import declaration: the same rules as syntax rules.
  const expressions = patterns.map(({ regex, message }) => ({
    selector: `ImportExpression[source.value=/${regex.replaceAll('/', String.raw`\/`)}/]`,
    message,
  }));
  return {
    files: FILES.has(part) ? [`src/${part}.ts`] : [`src/${part}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns }],
      'no-restricted-syntax': ['error', ...expressions],
    },
  };
}

const SIMULATOR_APART = 'The simulator is a separate program: it imports nothing of the proxy.';

export default tseslint.config(
  {
    ignores: ['dist/', 'coverage/', 'reports/', '.stryker-tmp/', 'node_modules/', 'bench/results/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      eqeqeq: ['error', 'smart'],
    },
  },
  ...Object.keys(MAY_IMPORT).map(boundaries),
  // The simulator, at any depth, never reaches above src/simulator/.
  ...[1, 2, 3].map((depth) => ({
    files: [`src/simulator/${'*/'.repeat(depth - 1)}*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: `^(\\.\\./){${depth}}`, message: SIMULATOR_APART }] },
      ],
    },
  })),
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The code that runs on text from outside: paths and headers of clients, answers of
  // Vidispine, files an operator wrote. A regular expression that can take quadratic time
  // (or worse) on such text holds the one thread for every client; these rules prove each
  // pattern linear where V8's backtracking engine runs it, as `replace` with `g` does at
  // every position of a logged path.
  {
    files: ['src/**/*.ts'],
    plugins: { regexp },
    rules: {
      'regexp/no-super-linear-backtracking': 'error',
      'regexp/no-super-linear-move': 'error',
    },
  },
);
