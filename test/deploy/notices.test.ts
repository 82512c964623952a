import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildDist } from '../support/build-dist';
import { tempFolder } from '../support/files';
import { ROOT } from './render';

// dist/ is built before the tests (test/support/global-setup.ts), notices included; the
// build runs again (at no cost when current) in case another checkout sharing node_modules
// has written the metafile since.
const NOTICES = join(ROOT, 'dist', 'THIRD_PARTY_NOTICES');
const METAFILE = join(ROOT, 'node_modules', '.cache', 'esbuild', 'cli.meta.json');
const RULE = '='.repeat(80);
const THIN = '-'.repeat(80);
const tmp = tempFolder('notices');

interface Entry {
  licence: string;
  body: string;
}

/** The notices file's entries, by `name version`. */
function entries(text: string): Map<string, Entry> {
  const found = new Map<string, Entry>();
  for (const part of text.split(`${RULE}\n`).slice(1)) {
    const match = /^(\S+ \S+)\nLicense: (.+)\n-{80}\n\n([\s\S]*)$/.exec(part);
    if (match === null) throw new Error(`not an entry: ${part.slice(0, 200)}`);
    expect(found.has(String(match[1]))).toBe(false);
    found.set(String(match[1]), {
      licence: String(match[2]),
      body: String(match[3]).replace(/\n+$/, ''),
    });
  }
  return found;
}

/** `name version` of each package folder (relative to `from`) in which `files` lie. */
function packagesOf(files: string[], from: string): Map<string, string> {
  const packages = new Map<string, string>();
  for (const file of files) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (match === null) continue;
    const dir = resolve(from, String(match[1]));
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
    };
    packages.set(`${manifest.name} ${manifest.version}`, dir);
  }
  return packages;
}

/** Calls scripts/notices.mjs in a child (it is an ES module of the build) and returns its answer. */
function notices(body: string): unknown {
  const script = `import * as notices from ${JSON.stringify(join(ROOT, 'scripts', 'notices.mjs'))};
    const result = await (async () => { ${body} })();
    process.stdout.write(JSON.stringify(result));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout) as unknown;
}

function fixturePackage(files: Record<string, string>): string {
  const dir = tmp.path('package');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

interface Metafile {
  root: string;
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

describe('dist/THIRD_PARTY_NOTICES', () => {
  let text = '';
  let listed = new Map<string, Entry>();
  let outputs: Metafile['outputs'] = {};
  beforeAll(() => {
    buildDist();
    const meta = JSON.parse(readFileSync(METAFILE, 'utf8')) as Metafile;
    expect(meta.root).toBe(ROOT);
    outputs = meta.outputs;
    text = readFileSync(NOTICES, 'utf8');
    listed = entries(text);
  }, 120_000);

  it('lists exactly the packages the metafiles say have code in a bundle, each once', () => {
    const shipped = Object.keys(outputs);
    expect(shipped).toEqual(
      expect.arrayContaining([
        'dist/cli.js',
        'dist/vendor/express.js',
        'dist/vendor/yaml.js',
        'dist/vendor/ws.js',
        'dist/vendor/undici.js',
        'dist/vendor/llhttp-wasm.wasm',
      ]),
    );
    const bundled = packagesOf(
      Object.values(outputs).flatMap(({ inputs }) =>
        Object.entries(inputs)
          .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
          .map(([input]) => input),
      ),
      ROOT,
    );
    expect([...listed.keys()].sort()).toEqual([...bundled.keys()].sort());
    // The dependencies in package.json, and some of theirs, are among them.
    const names = [...listed.keys()].map((key) => key.split(' ')[0]);
    for (const name of ['express', 'pino', 'sonic-boom', 'prom-client', 'zod', 'lru-cache']) {
      expect(names).toContain(name);
    }
    expect(text).toContain(`hold code of the ${listed.size} packages below`);
  });

  it('lists every package whose source the bundles’ source maps name', () => {
    // The maps are esbuild's own account of where each part of a bundle came from.
    const maps = [
      join(ROOT, 'dist', 'cli.js.map'),
      ...readdirSync(join(ROOT, 'dist', 'vendor'))
        .filter((file) => file.endsWith('.js.map'))
        .map((file) => join(ROOT, 'dist', 'vendor', file)),
    ];
    expect(maps.length).toBeGreaterThanOrEqual(5);
    const mapped = new Map<string, string>();
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const [key, dir] of packagesOf(sources, dirname(map))) mapped.set(key, dir);
    }
    expect([...listed.keys()].sort()).toEqual([...mapped.keys()].sort());
  });

  it('gives each package its licence identifier and the full text of the licence it ships', () => {
    const dirs = packagesOf(
      Object.values(outputs).flatMap(({ inputs }) => Object.keys(inputs)),
      ROOT,
    );
    for (const [key, dir] of dirs) {
      const entry = listed.get(key);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        license: string;
      };
      expect(entry?.licence).toBe(manifest.license);
      const files = readdirSync(dir).filter((f) => /^(licen[cs]e|copying)([.-]|$)/i.test(f));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        expect(entry?.body).toContain(readFileSync(join(dir, file), 'utf8').trim());
      }
    }
  });

  it('is in a stable order: by name, then version', () => {
    const keys = [...listed.keys()];
    expect(keys).toEqual([...keys].sort());
    expect(text.startsWith('Third-party software in vidispine-auth-proxy ')).toBe(true);
  });

  it('ships with the npm package, in dist/', () => {
    const { files } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      files: string[];
    };
    expect(files).toContain('dist');
  });
});

describe('scripts/notices.mjs', () => {
  it('allows only the permissive licences, reading SPDX expressions', () => {
    const cases = [
      'MIT',
      'ISC',
      'BlueOak-1.0.0',
      '(MIT OR Apache-2.0)',
      'MIT OR GPL-3.0-only',
      'GPL-3.0-only OR MIT',
      'MIT AND BSD-3-Clause',
      'MIT AND GPL-2.0-only',
      '(MIT AND ISC) OR LGPL-2.1-only',
      'GPL-2.0-only WITH Classpath-exception-2.0',
      'Apache-2.0+',
      'AGPL-3.0-only',
      'SEE LICENSE IN LICENSE.txt',
      'UNLICENSED',
      '(MIT',
      'MIT)',
      '',
    ];
    const answers = notices(
      `return ${JSON.stringify(cases)}.map((c) => notices.permissive(c, notices.PERMISSIVE));`,
    );
    expect(Object.fromEntries(cases.map((c, i) => [c, (answers as boolean[])[i]]))).toEqual({
      MIT: true,
      ISC: true,
      'BlueOak-1.0.0': true,
      '(MIT OR Apache-2.0)': true,
      'MIT OR GPL-3.0-only': true,
      'GPL-3.0-only OR MIT': true,
      'MIT AND BSD-3-Clause': true,
      'MIT AND GPL-2.0-only': false,
      '(MIT AND ISC) OR LGPL-2.1-only': true,
      'GPL-2.0-only WITH Classpath-exception-2.0': false,
      'Apache-2.0+': false,
      'AGPL-3.0-only': false,
      'SEE LICENSE IN LICENSE.txt': false,
      UNLICENSED: false,
      '(MIT': false,
      'MIT)': false,
      '': false,
    });
  });

  it('refuses a copyleft package and one naming no licence, each named with why', () => {
    const copyleft = fixturePackage({
      'package.json': JSON.stringify({ name: 'copyleft', version: '1.0.0', license: 'GPL-3.0' }),
      COPYING: 'GNU GENERAL PUBLIC LICENSE',
    });
    const none = fixturePackage({
      'package.json': JSON.stringify({ name: 'unlabelled', version: '2.0.0' }),
    });
    const fine = fixturePackage({
      'package.json': JSON.stringify({ name: 'fine', version: '3.0.0', license: 'MIT' }),
      LICENSE: 'MIT License',
    });
    expect(
      notices(
        `return notices.refused(${JSON.stringify([copyleft, none, fine])}.map(notices.readPackage), notices.PERMISSIVE);`,
      ),
    ).toEqual([
      'copyleft@1.0.0: GPL-3.0 is not one of 0BSD, Apache-2.0, BlueOak-1.0.0, BSD-2-Clause, BSD-3-Clause, ISC, MIT',
      'unlabelled@2.0.0: its package.json names no licence',
    ]);
  });

  it('lists a package once whatever folders hold it, in the same order whatever the input', () => {
    const files = {
      LICENSE: 'Copyright (c) A',
      'LICENSE-APACHE': 'Apache text',
      'licence.md': 'Copyright (c) B',
      'lib/LICENSE': 'not the package’s',
    };
    const b = fixturePackage({
      'package.json': JSON.stringify({ name: 'b', version: '1.0.0', license: 'MIT' }),
      ...files,
    });
    const bAgain = fixturePackage({
      'package.json': JSON.stringify({ name: 'b', version: '1.0.0', license: 'MIT' }),
      ...files,
    });
    const bOld = fixturePackage({
      'package.json': JSON.stringify({ name: 'b', version: '0.9.0', license: 'MIT' }),
      LICENSE: 'Copyright (c) old',
    });
    const scoped = fixturePackage({
      'package.json': JSON.stringify({
        name: '@scope/a',
        version: '1.0.0',
        licenses: [{ type: 'ISC' }],
        author: { name: 'Someone' },
      }),
    });
    const render = (dirs: string[]): string =>
      notices(
        `return notices.renderNotices('product 1.0.0', ${JSON.stringify(dirs)}.map(notices.readPackage));`,
      ) as string;
    const text = render([b, scoped, bOld, bAgain]);
    expect(render([bAgain, bOld, scoped, b])).toBe(text);
    expect([...entries(text).keys()]).toEqual(['@scope/a 1.0.0', 'b 0.9.0', 'b 1.0.0']);
    expect(entries(text).get('b 1.0.0')).toEqual({
      licence: 'MIT',
      body: `Copyright (c) A\n\n${THIN}\n\nApache text\n\n${THIN}\n\nCopyright (c) B`,
    });
    // No licence file: what package.json says stands in for it.
    expect(entries(text).get('@scope/a 1.0.0')).toEqual({
      licence: 'ISC',
      body: '@scope/a ships no licence file; its package.json says:\n  license: ISC\n  author: Someone',
    });
  });

  it('finds the package of a bundled file, nested or scoped, and none for the project’s own', () => {
    const outputs = {
      'dist/cli.js': {
        inputs: {
          'src/cli.ts': { bytesInOutput: 10 },
          'node_modules/a/index.js': { bytesInOutput: 5 },
          'node_modules/a/node_modules/b/lib/x.js': { bytesInOutput: 5 },
          'node_modules/@s/c/index.js': { bytesInOutput: 5 },
          'node_modules/shaken/index.js': { bytesInOutput: 0 },
        },
      },
      'dist/vendor/x.js': { inputs: { '../main/node_modules/a/other.js': { bytesInOutput: 1 } } },
    };
    expect(notices(`return notices.bundledPackageDirs(${JSON.stringify(outputs)});`)).toEqual([
      '../main/node_modules/a',
      'node_modules/@s/c',
      'node_modules/a',
      'node_modules/a/node_modules/b',
    ]);
  });
});
