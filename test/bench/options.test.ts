import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { evaluateIn } from './evaluate';

// The bench scripts' command lines: every value checked before any work starts, a bad one
// refused in one line with exit code 2.

const BENCH = join(__dirname, '..', '..', 'bench');

/** What `expression` over `options` (bench/lib/options.mjs) returns, or the message it throws. */
const outcome = (expression: string) =>
  evaluateIn(
    ['options'],
    `(() => { try { return { value: ${expression} }; } catch (err) { return { error: err.message, option: err instanceof options.OptionError }; } })()`,
  )[0];

describe('option values', () => {
  it('takes a count only as digits, from its least', () => {
    expect(outcome(`options.wholeNumber('12', 'starts')`)).toEqual({ value: 12 });
    expect(outcome(`options.wholeNumber('0', 'warmup', 0)`)).toEqual({ value: 0 });
    for (const bad of ['0', '0.4', '1.5', '', ' ', '1e3', '0x10', '-1', 'abc']) {
      expect(outcome(`options.wholeNumber(${JSON.stringify(bad)}, 'starts')`)).toEqual({
        error: '--starts must be a whole number ≥ 1',
        option: true,
      });
    }
  });

  it('takes a measure in plain decimals, above 0 or from 0', () => {
    expect(outcome(`options.positiveNumber('0.5', 'minutes')`)).toEqual({ value: 0.5 });
    expect(outcome(`options.nonNegativeNumber('0', 'settle')`)).toEqual({ value: 0 });
    for (const bad of ['0', '', 'abc', '-1', 'Infinity', '1e1']) {
      expect(outcome(`options.positiveNumber(${JSON.stringify(bad)}, 'minutes')`)).toEqual({
        error: '--minutes must be a positive number',
        option: true,
      });
    }
    expect(outcome(`options.nonNegativeNumber('-1', 'settle')`)).toEqual({
      error: '--settle must be a number ≥ 0',
      option: true,
    });
  });

  it('refuses an empty list, and names what it does not know', () => {
    const allowed = JSON.stringify(['small', 'idle']);
    expect(outcome(`options.namesFrom('idle, small', ${allowed}, 'only')`)).toEqual({
      value: ['idle', 'small'],
    });
    for (const empty of ['', ',', ' , ']) {
      expect(outcome(`options.namesFrom(${JSON.stringify(empty)}, ${allowed}, 'only')`)).toEqual({
        error: '--only needs one or more of small, idle',
        option: true,
      });
    }
    expect(outcome(`options.namesFrom('smal', ${allowed}, 'only')`)).toEqual({
      error: '--only: unknown smal (one of small, idle)',
      option: true,
    });
    expect(outcome(`options.wholeNumbers('1,32', 'connections')`)).toEqual({ value: [1, 32] });
    expect(outcome(`options.wholeNumbers(',', 'connections')`)).toMatchObject({
      error: '--connections needs one or more whole numbers ≥ 1',
    });
    expect(outcome(`options.wholeNumbers('1,0.4', 'connections')`)).toMatchObject({
      error: '--connections must be a whole number ≥ 1',
    });
  });

  it('parses both --name=value and --name value, and refuses what it does not know in one line', () => {
    const spec = JSON.stringify({ minutes: { type: 'string' } });
    const parse = (args: string[]) =>
      outcome(`{ ...options.parseCommandLine(${JSON.stringify(args)}, ${spec}) }`);
    expect(parse(['--minutes=0.5'])).toEqual({ value: { minutes: '0.5' } });
    expect(parse(['--minutes', '0.5'])).toEqual({ value: { minutes: '0.5' } });
    expect(parse(['--minute=1'])).toEqual({ error: "Unknown option '--minute'", option: true });
    expect(parse(['--minutes'])).toEqual({
      error: "Option '--minutes <value>' argument missing",
      option: true,
    });
    expect(parse(['2'])).toEqual({ error: "Unexpected argument '2'", option: true });
  });
});

describe('a bench script given a bad option', () => {
  const cases: [string, string[], string][] = [
    ['run.mjs', ['--connections=0.4'], 'bench: --connections must be a whole number ≥ 1'],
    ['run.mjs', ['--starts=0.3'], 'bench: --starts must be a whole number ≥ 1'],
    ['run.mjs', ['--connections=,'], 'bench: --connections needs one or more whole numbers ≥ 1'],
    [
      'run.mjs',
      ['--only='],
      'bench: --only needs one or more of small, download, upload, start, idle, cold',
    ],
    [
      'run.mjs',
      ['--contenders='],
      'bench: --contenders needs one or more of direct, nginx, go, nodehttp, undici, express, proxy',
    ],
    ['run.mjs', ['--variant=?'], 'bench: --variant "?": name it first'],
    ['soak.mjs', ['--minutes=0'], 'soak: --minutes must be a positive number'],
    ['soak.mjs', ['--minutes', '1', '--fast'], "soak: Unknown option '--fast'"],
    ['body-memory.mjs', ['--rounds=abc'], 'bench:bodies: --rounds must be a whole number ≥ 1'],
    ['body-memory.mjs', ['--round=2'], "bench:bodies: Unknown option '--round'"],
    ['drain.mjs', ['--connections=0'], 'bench:drain: --connections must be a whole number ≥ 1'],
    ['drain.mjs', ['--spread=1'], "bench:drain: Option '--spread' does not take an argument"],
    ['inject.mjs', ['--concurrency=0'], 'bench:inject: --concurrency must be a whole number ≥ 1'],
    ['inject.mjs', ['--rate=fast'], 'bench:inject: --rate must be a positive number'],
  ];

  it.each(cases)(
    '%s %j: refuses it in one line before any work, exit 2',
    (script, args, message) => {
      const r = spawnSync(process.execPath, [join(BENCH, script), ...args], { encoding: 'utf8' });
      expect(r.stderr).toBe(`${message}\n`);
      expect(r.stdout).toBe('');
      expect(r.status).toBe(2);
    },
  );
});
