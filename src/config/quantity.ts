/**
 * Kubernetes resource quantities ("250m", "1.5", "64Mi", "1e3", "+100m"), as the API server
 * accepts them for container resources: a decimal number with an optional sign, of 0 or more
 * (a negative one is refused), and an optional binary (Ki … Ei), decimal
 * (n u m k M G T P E) or exponent suffix. resource.ParseQuantity reads a number without
 * digits ("", "+", "-", ".", "-.") as zero, so "." and "Mi" are quantities, of 0.
 */

const QUANTITY = /^([+-]?\d*(?:\.\d*)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** The smallest quantity other than zero: resource.ParseQuantity rounds away from zero to it. */
const NANO = 1e-9;

const EXPONENT = /^[eE][+-]?\d+$/;

/** A suffix as powers of ten and two: value = number × 10^tens × 2^twos. */
const DECIMAL: Readonly<Record<string, number>> = {
  '': 0,
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/** A suffix's factor in base units. */
const SCALE: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(DECIMAL).map(([suffix, e]) => [suffix, 10 ** e])),
  ...Object.fromEntries(Object.entries(BINARY).map(([suffix, e]) => [suffix, 2 ** e])),
};

/** The quantity's value in base units (cores, bytes), or undefined when it is not one. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (!match || text === '') return undefined;
  const [, number = '', suffix = ''] = match;
  // -0 is zero, which the API server takes; so is a sign or a point without digits.
  if (!/[1-9]/.test(number)) return 0;
  // Below zero however small: -1e-400 is -1n to the API server, not a float's -0.
  if (number.startsWith('-')) return undefined;
  // "E" alone (exa) and "Ei" (exbi) are suffixes; an exponent has digits after the e.
  const scale = EXPONENT.test(suffix) ? 10 ** Number(suffix.slice(1)) : SCALE[suffix];
  const value = Number(number) * (scale ?? NaN);
  return Number.isFinite(value) ? Math.max(value, NANO) : undefined;
}

/** 2^60 (Ei) is below 10^19: past that many more places, a number is under 1n whatever its suffix. */
const BINARY_PLACES = 19;

/**
 * The quantity in whole nano units, exactly, rounded up as resource.ParseQuantity rounds, or
 * undefined when it is not one. Kubernetes compares quantities exactly: "700m" and "0.7" are
 * one quantity, where base-unit floats are not (700 × 0.001 is 0.7000000000000001).
 */
export function nanoUnits(text: string): bigint | undefined {
  if (parseQuantity(text) === undefined) return undefined;
  const [, number = '', suffix = ''] = QUANTITY.exec(text) ?? [];
  const [whole = '', fraction = ''] = number.replace(/^[+-]/, '').split('.');
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return 0n;
  const exponent = EXPONENT.test(suffix) ? Number(suffix.slice(1)) : (DECIMAL[suffix] ?? 0);
  const tens = exponent + 9 - fraction.length;
  // Far below 1n (1e-99999999): 1n, without raising 10 to that power.
  if (-tens > digits.length + BINARY_PLACES) return 1n;
  const numerator =
    BigInt(digits) * 10n ** BigInt(Math.max(tens, 0)) * 2n ** BigInt(BINARY[suffix] ?? 0);
  const denominator = 10n ** BigInt(Math.max(-tens, 0));
  return (numerator + denominator - 1n) / denominator;
}

/** Whether a container's `request` is above its `limit`, which Kubernetes refuses (false unless both are quantities). */
export function aboveLimit(request: string, limit: string): boolean {
  const [req, lim] = [nanoUnits(request), nanoUnits(limit)];
  return req !== undefined && lim !== undefined && req > lim;
}
