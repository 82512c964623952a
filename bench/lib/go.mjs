// The Go programs of the benchmarks (the Go contender, the admission load generator) are
// compiled on first use into node_modules/.cache, keyed by their source and the Go version,
// so later runs start at once and an edit to a main.go is picked up.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd, which } from './procs.mjs';

const CACHE = fileURLToPath(new URL('../../node_modules/.cache/bench', import.meta.url));

const built = new Map();

/** Resolves to the path of the compiled program in bench/`dir`, building it once per run. */
function buildGo(name, dir) {
  if (!built.has(name))
    built.set(name, build(name, fileURLToPath(new URL(`../${dir}`, import.meta.url))));
  return built.get(name);
}

/** The Go proxy contender (bench/baselines/go-proxy). */
export const buildGoProxy = () => buildGo('go-proxy', 'baselines/go-proxy');

/** The admission load generator of bench:inject (bench/clients/admission). */
export const buildAdmissionClient = () => buildGo('admission', 'clients/admission');

async function build(name, source) {
  const go = which('go');
  if (go === undefined) throw new Error('go not on PATH (apt-get install golang-go)');
  const env = { PATH: process.env.PATH, HOME: CACHE, GOCACHE: join(CACHE, 'go-build') };
  const version = (await runToEnd('go version', go, ['version'], { env })).trim();
  const hash = createHash('sha256').update(version);
  for (const file of readdirSync(source).sort())
    hash.update(file).update(readFileSync(join(source, file)));
  const binary = join(CACHE, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(CACHE, { recursive: true });
  await runToEnd('go build', go, ['build', '-trimpath', '-buildvcs=false', '-o', binary, '.'], {
    env: { ...env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    cwd: source,
  });
  return binary;
}
