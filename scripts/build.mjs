#!/usr/bin/env node
// `npm run build`: what ships, in dist/.
//   1. tsc (tsconfig.build.json): one module per source file — the library entry
//      (`main: dist/app.js`) and what scripts and benchmarks require (dist/simulator, …).
//   2. esbuild: the CLI users run, `dist/cli.js`, as one file holding the proxy's code and its
//      dependencies, tree-shaken (zod's locales and unused schemas, pino's unused parts are
//      left out) and without module resolution at start. The commands stay lazily loaded:
//      `await import('./run')` becomes a module initialised on first use, so `--help` and
//      `simulate` run none of the proxy's code. The packages loaded only later, and large
//      (VENDOR), are files of their own in dist/vendor/: in dist/cli.js V8 would read and hold
//      their source at every start. Each is third-party code used through that one require,
//      so no class exists twice (`instanceof` holds): undici's two parts come through one
//      module of ours (src/proxy/undici.ts), since each bundled apart carries undici's
//      internals. The CLI needs no node_modules.
//   3. dist/THIRD_PARTY_NOTICES (scripts/notices.mjs): the licence of every package with code
//      in those bundles, from the metafiles; a package under a licence that is not one of the
//      permissive ones allowed there, or under none, fails the build.
// The steps skip their work while dist/ is newer than their inputs, so every command that needs
// dist/ builds first at little cost (tests too: test/support/build-dist.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NOTICES,
  PERMISSIVE,
  bundledPackageDirs,
  readPackage,
  refused,
  renderNotices,
} from './notices.mjs';

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
/**
 * Modules the CLI requires only on first use, by the name src/ requires them by, and what
 * dist/vendor/NAME.js is bundled from: the status pages, a YAML file, the simulator's
 * WebSockets, and undici's pool with its connector at the first request without a body.
 */
const VENDOR = {
  express: 'express',
  yaml: 'yaml',
  ws: 'ws',
  './undici': './src/proxy/undici.ts',
};
/** What dist/vendor/ names the module that src/ requires as `specifier`. */
const vendorName = (specifier) => specifier.replace(/^\.\//, '');
/**
 * undici's HTTP/1.1 parser, two builds of one WebAssembly module (with and without SIMD),
 * each a module of base64 text. Every byte of a file's source stays in V8's heap while the
 * process runs: as files of their own beside the pool, read when the parser is made, they
 * leave undici's pool half its size (348 → 186 KB with the HTTP/2 client below), about
 * 0.5 MiB less resident memory once it is loaded.
 */
const LLHTTP = ['llhttp-wasm', 'llhttp_simd-wasm'];
/** Where the pool is bundled (VENDOR), in dist/: the parser's files go beside it. */
const POOL_DIR = 'vendor';
const METAFILE = join(ROOT, 'node_modules', '.cache', 'esbuild', 'cli.meta.json');

/**
 * undici's pool without what the proxy never runs: its parser's WebAssembly is read from the
 * files written beside it (LLHTTP), and its HTTP/2 client — with the parts of fetch it
 * brings — is left out: undici speaks HTTP/2 only on a connection that negotiated it, and
 * the proxy's connector never offers it (no `allowH2`).
 */
const slimUndici = {
  name: 'slim-undici',
  setup(build) {
    const wasm = new RegExp(`/undici/lib/llhttp/(${LLHTTP.join('|')})\\.js$`);
    build.onLoad({ filter: wasm }, ({ path }) => ({
      contents: `module.exports = require('node:fs').readFileSync(require('node:path').join(__dirname, ${JSON.stringify(`${wasm.exec(path)[1]}.wasm`)}));`,
      loader: 'js',
    }));
    build.onLoad({ filter: /\/undici\/lib\/dispatcher\/client-h2\.js$/ }, () => ({
      contents: `module.exports = () => { throw new Error('HTTP/2 to Vidispine is not supported'); };`,
      loader: 'js',
    }));
  },
};

const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
  { cwd: ROOT, stdio: 'inherit' },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

if (!bundleIsCurrent()) await bundle();

async function bundle() {
  const esbuild = await import('esbuild');
  // Every vendor file is written again below; one a former build left would ship unused.
  rmSync(join(DIST, 'vendor'), { recursive: true, force: true });
  rmSync(join(DIST, NOTICES), { force: true });
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Without whitespace and comments the source V8 reads and keeps is a third smaller, and
    // Latin-1 (a comment's `…` would make all of it two bytes a character). Names are kept,
    // so a stack trace still says which function; the map (without the sources) leads its
    // positions back to src/ under `node --enable-source-maps`. That is not on by default: it
    // holds the parsed map in memory and maps every stack trace the proxy builds.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'eof',
    logLevel: 'warning',
    absWorkingDir: ROOT,
  };
  const vendor = {
    name: 'vendor',
    setup(build) {
      const names = Object.keys(VENDOR).map((name) => name.replaceAll('.', '\\.'));
      const filter = new RegExp(`^(${names.join('|')})$`);
      build.onResolve({ filter }, ({ path }) => ({
        path: `./vendor/${vendorName(path)}.js`,
        external: true,
      }));
    },
  };
  const cli = await esbuild.build({
    ...common,
    entryPoints: { cli: 'src/cli.ts' },
    outdir: DIST,
    plugins: [vendor],
    metafile: true,
  });
  const vendored = await esbuild.build({
    ...common,
    entryPoints: Object.fromEntries(
      Object.entries(VENDOR).map(([name, from]) => [
        vendorName(name),
        from.startsWith('./') ? from : require.resolve(from),
      ]),
    ),
    outdir: join(DIST, 'vendor'),
    plugins: [slimUndici],
    metafile: true,
  });
  const { mkdirSync, writeFileSync } = await import('node:fs');
  for (const name of LLHTTP) {
    writeFileSync(join(DIST, POOL_DIR, `${name}.wasm`), require(`undici/lib/llhttp/${name}.js`));
  }
  // What each shipped file holds, by the file it came from (esbuild's metafile `outputs`,
  // their inputs alone): the parser's WebAssembly is undici's too.
  const outputs = Object.fromEntries(
    Object.entries({ ...cli.metafile.outputs, ...vendored.metafile.outputs }).map(
      ([file, { inputs }]) => [file, { inputs }],
    ),
  );
  for (const name of LLHTTP) {
    const from = relative(ROOT, require.resolve(`undici/lib/llhttp/${name}.js`));
    const file = `${POOL_DIR}/${name}.wasm`;
    outputs[`dist/${file}`] = {
      inputs: { [from]: { bytesInOutput: statSync(join(DIST, file)).size } },
    };
  }
  const packages = bundledPackageDirs(outputs).map((dir) => readPackage(join(ROOT, dir)));
  const refusals = refused(packages, PERMISSIVE);
  if (refusals.length > 0) {
    console.error(
      `build: ${refusals.length} bundled package(s) under a licence not allowed in` +
        ` scripts/notices.mjs (PERMISSIVE):\n  ${refusals.join('\n  ')}`,
    );
    process.exit(1);
  }
  const { name, version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  writeFileSync(join(DIST, NOTICES), renderNotices(`${name} ${version}`, packages));
  mkdirSync(dirname(METAFILE), { recursive: true });
  const inputs = { ...cli.metafile.inputs, ...vendored.metafile.inputs };
  writeFileSync(METAFILE, JSON.stringify({ root: ROOT, inputs: Object.keys(inputs), outputs }));
}

/** dist/cli.js and its vendor files are newer than every file they were built from. */
function bundleIsCurrent() {
  let inputs;
  try {
    const meta = JSON.parse(readFileSync(METAFILE, 'utf8'));
    // One written for another checkout (whose node_modules this one links to), or before
    // the notices (no outputs, which the tests read them from), is not this build's.
    if (meta.root !== ROOT || meta.outputs === undefined) return false;
    inputs = meta.inputs;
  } catch {
    return false;
  }
  const outputs = [
    'cli.js',
    ...Object.keys(VENDOR).map((name) => `vendor/${vendorName(name)}.js`),
    ...LLHTTP.map((name) => `${POOL_DIR}/${name}.wasm`),
    NOTICES,
  ];
  const built = Math.min(...outputs.map((file) => mtime(join(DIST, file))));
  const changed = Math.max(
    ...[...inputs, 'package-lock.json', 'scripts/build.mjs', 'scripts/notices.mjs'].map((file) =>
      mtime(join(ROOT, file)),
    ),
  );
  return built > changed;
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Number.NaN;
  }
}
