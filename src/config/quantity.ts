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

const SCALE: Readonly<Record<string, number>> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
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

/** Whether a container's `request` is above its `limit`, which Kubernetes refuses (false unless both are quantities). */
export function aboveLimit(request: string, limit: string): boolean {
  const [req, lim] = [parseQuantity(request), parseQuantity(limit)];
  return req !== undefined && lim !== undefined && req > lim;
}
