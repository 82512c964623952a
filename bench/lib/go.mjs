// The Go contender is compiled on first use into node_modules/.cache, keyed by its source and
// the Go version, so later runs start at once and an edit to main.go is picked up.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd, which } from './procs.mjs';

const SOURCE = fileURLToPath(new URL('../baselines/go-proxy', import.meta.url));
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/bench', import.meta.url));

let built;

/** Resolves to the path of the compiled Go proxy, building it once per harness run. */
export function buildGoProxy() {
  built ??= build();
  return built;
}

async function build() {
  const go = which('go');
  if (go === undefined) throw new Error('go not on PATH');
  const env = { PATH: process.env.PATH, HOME: CACHE, GOCACHE: join(CACHE, 'go-build') };
  const version = (await runToEnd('go version', go, ['version'], { env })).trim();
  const hash = createHash('sha256').update(version);
  for (const file of readdirSync(SOURCE).sort())
    hash.update(file).update(readFileSync(join(SOURCE, file)));
  const binary = join(CACHE, `go-proxy-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(CACHE, { recursive: true });
  await runToEnd('go build', go, ['build', '-trimpath', '-buildvcs=false', '-o', binary, '.'], {
    env: { ...env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    cwd: SOURCE,
  });
  return binary;
}
