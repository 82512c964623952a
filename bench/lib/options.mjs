// Command lines of the bench scripts: parsed strictly and every value checked before any
// work starts. A bad one is an OptionError, which each script reports in one line, exiting 2.
import { parseArgs } from 'node:util';

export class OptionError extends Error {}

/** `parseArgs`'s values, strict: an unknown option, a missing value or a stray word is refused. */
export function parseCommandLine(args, options, { allowNegative = false } = {}) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false, allowNegative })
      .values;
  } catch (err) {
    if (!String(err.code).startsWith('ERR_PARSE_ARGS')) throw err;
    throw new OptionError(err.message.split('. ')[0]);
  }
}

/** `parse()`'s options; on an OptionError, `program: message` on stderr and exit 2. */
export function optionsOrExit(program, parse) {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof OptionError)) throw err;
    process.stderr.write(`${program}: ${err.message}\n`);
    process.exit(2);
  }
}

/** A count: digits only (no sign, fraction, exponent or blank), at least `min`. */
export function wholeNumber(value, name, min = 1) {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min)) throw new OptionError(`--${name} must be a whole number ≥ ${min}`);
  return n;
}

const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

/** A measure above 0, in plain decimal notation. */
export function positiveNumber(value, name) {
  const n = DECIMAL.test(value) ? Number(value) : Number.NaN;
  if (!(n > 0)) throw new OptionError(`--${name} must be a positive number`);
  return n;
}

/** A measure of 0 or more, in plain decimal notation. */
export function nonNegativeNumber(value, name) {
  if (!DECIMAL.test(value)) throw new OptionError(`--${name} must be a number ≥ 0`);
  return Number(value);
}

/** A comma-separated list of at least one item, each one of `allowed`. */
export function namesFrom(value, allowed, name) {
  const items = listOf(value, name, `one or more of ${allowed.join(', ')}`);
  const bad = items.filter((i) => !allowed.includes(i));
  if (bad.length > 0)
    throw new OptionError(`--${name}: unknown ${bad.join(', ')} (one of ${allowed.join(', ')})`);
  return items;
}

/** A comma-separated list of at least one whole number ≥ 1. */
export function wholeNumbers(value, name) {
  return listOf(value, name, 'one or more whole numbers ≥ 1').map((v) => wholeNumber(v, name));
}

/** One of `allowed`. */
export function oneOf(value, allowed, name) {
  if (!allowed.includes(value)) throw new OptionError(`--${name} must be ${allowed.join(' or ')}`);
  return value;
}

function listOf(value, name, what) {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new OptionError(`--${name} needs ${what}`);
  return items;
}
