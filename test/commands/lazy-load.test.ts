import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLI } from '../support/cli';
import { tempFolder } from '../support/files';

/**
 * dist/cli.js is one bundle; each module in it is initialised on first use (esbuild names the
 * initialiser after the module's path). V8 compiles such a function when it is first called,
 * and its function log records that compile (and, under Node.js 20, the first execution), so
 * it shows which modules a command initialised.
 */
const tmp = tempFolder('lazy-load');

async function modulesRun(args: string[], stop?: (stdout: string) => boolean): Promise<string[]> {
  const log = tmp.path('v8-log');
  const child = spawn(
    process.execPath,
    ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate', CLI, ...args],
    { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (stop?.(stdout) && child.signalCode === null && !child.killed) child.kill('SIGTERM');
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code).toBe(0);
  const lines = readFileSync(log, 'utf8').split('\n');
  const script = lines.find((l) => l.startsWith('script-details,') && l.includes(CLI));
  const id = script?.split(',')[1];
  expect(id).toBeDefined();
  const events = [`function,interpreter,${id},`, `function,first-execution,${id},`];
  const ran = lines
    .filter((l) => events.some((event) => l.startsWith(event)))
    .map((l) => l.split(',').slice(7).join(','));
  return [...new Set(ran.filter((name) => /^(src|node_modules)\//.test(name)))];
}

const PROXY = ['src/commands/run.ts', 'src/app.ts', 'src/proxy/forwarder.ts', 'src/ops/logger.ts'];

describe('the bundled CLI loads what a command uses', () => {
  it('--help initialises none of the commands', async () => {
    const ran = await modulesRun(['--help']);
    expect(ran).toContain('src/ops/signals.ts');
    expect(ran.filter((m) => m.startsWith('node_modules/'))).toEqual([]);
    expect(
      ran.filter((m) => m.startsWith('src/commands/') && m !== 'src/commands/exit.ts'),
    ).toEqual(['src/commands/demo-options.ts']);
  });

  it('simulate initialises the simulator, not the proxy or its logger', async () => {
    const ran = await modulesRun(['simulate', '--listen', '127.0.0.1:0'], (out) =>
      out.includes('listening on'),
    );
    expect(ran).toContain('src/simulator/server.ts');
    for (const module of PROXY) expect(ran).not.toContain(module);
    expect(ran.filter((m) => m.startsWith('node_modules/pino'))).toEqual([]);
  });

  it('zod is in the bundle without its other locales', () => {
    const bundle = readFileSync(CLI, 'utf8');
    expect(bundle).toContain('node_modules/zod/v4/locales/en.js');
    expect(bundle).not.toContain('node_modules/zod/v4/locales/de.js');
  });

  it("undici is in one file of its own, the pool and its connector sharing undici's internals", () => {
    // Bundled apart, each carried undici's errors, symbols and timers, and the CLI their source.
    expect(readFileSync(CLI, 'utf8')).not.toContain('node_modules/undici/');
    const undici = readFileSync(join(dirname(CLI), 'vendor', 'undici.js'), 'utf8');
    for (const module of ['dispatcher/pool.js', 'core/connect.js', 'core/util.js']) {
      expect(undici.split(`node_modules/undici/lib/${module}"(`)).toHaveLength(2);
    }
  });

  it("undici's pool holds no WebAssembly as text and no HTTP/2 client", () => {
    // V8 keeps a file's whole source for as long as the process runs.
    const pool = join(dirname(CLI), 'vendor', 'undici.js');
    const source = readFileSync(pool, 'utf8');
    expect(source).not.toMatch(/'AGFzbQ/); // "\0asm" in base64
    expect(source).not.toContain('require("node:http2")');
    // The parser's WebAssembly, beside it, is what undici's own modules hold.
    for (const name of ['llhttp-wasm', 'llhttp_simd-wasm']) {
      expect(readFileSync(join(dirname(pool), `${name}.wasm`))).toEqual(
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require(`undici/lib/llhttp/${name}.js`),
      );
    }
  });
});
