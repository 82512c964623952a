// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self
// time, and self time per package / source area, as shares of the busy (non-idle) time.
// Usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--top=N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--top=N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(values.top);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

const IDLE = new Set(['(idle)', '(program)']);

/** Where a function lives: a package, node's internals, or a path of this project. */
function area(url) {
  if (url === '') return '(native / VM)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(url);
    return `node:${m ? m[1] : url}`;
  }
  const own = /\/(dist|src|bench)\/(.*?)(\.[cm]?js)?$/.exec(url);
  return own ? `${own[1]}/${own[2].split('/').slice(0, -1).join('/') || own[2]}` : url;
}

const CWD = `file://${process.cwd()}/`;

/** `node_modules/pkg/...` for dependencies, a project-relative path for our own files. */
function shortPath(url) {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url.startsWith(CWD) ? url.slice(CWD.length) : url;
}

function keyOf(callFrame) {
  const file = shortPath(callFrame.url);
  return `${callFrame.functionName || '(anonymous)'}  ${file}:${callFrame.lineNumber + 1}`;
}

/** Inclusive time per function: each sample counts once for every function on its stack. */
const fnTotal = new Map();
profile.samples.forEach((id, i) => {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const { callFrame } = byId.get(at);
    if (callFrame.url === '') continue;
    seen.add(keyOf(callFrame));
  }
  for (const key of seen) fnTotal.set(key, (fnTotal.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const OWN = /^(dist\/|node_modules\/(http-proxy|pino|express|lru-cache|prom-client))/;

const fnSelf = new Map();
const areaSelf = new Map();
let busy = 0;
let total = 0;
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id);
  total += us;
  if (IDLE.has(callFrame.functionName)) continue;
  busy += us;
  const key = keyOf(callFrame);
  fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
  const a = callFrame.functionName === '(garbage collector)' ? '(gc)' : area(callFrame.url);
  areaSelf.set(a, (areaSelf.get(a) ?? 0) + us);
}

const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]);

process.stdout.write(
  `profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy ` +
    `(${((100 * busy) / total).toFixed(0)} %); shares below are of busy time\n\n`,
);
process.stdout.write('self time by area\n');
for (const [a, us] of sorted(areaSelf).slice(0, 15)) {
  process.stdout.write(`${pct(us)} ${ms(us)}  ${a}\n`);
}
process.stdout.write(`\ntop ${top} functions by self time\n`);
for (const [key, us] of sorted(fnSelf).slice(0, top)) {
  process.stdout.write(`${pct(us)} ${ms(us)}  ${key}\n`);
}
process.stdout.write(`\ntop ${top} project / proxy-library functions by total (inclusive) time\n`);
const own = sorted(fnTotal).filter(([key]) => OWN.test(key.split('  ')[1]));
for (const [key, us] of own.slice(0, top)) {
  process.stdout.write(`${pct(us)} ${ms(us)}  ${key}\n`);
}
