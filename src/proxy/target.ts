/**
 * The upstream request target. The host is always Vidispine's; only the path and query
 * come from the client, byte for byte (matrix parameters, dot segments and percent
 * escapes are Vidispine's business, never normalised here).
 */

/**
 * Longest request target forwarded (414 beyond). Node's own header limit (16 KiB, request
 * line included) answers 431 for anything longer still, so this must stay below it.
 */
export const MAX_TARGET_LENGTH = 8 * 1024;

/**
 * The origin-form part of a request target. An absolute-form target
 * (`GET http://elsewhere/API/x`) keeps only its path and query, so it can never send
 * traffic to another host. `undefined` for forms a proxy cannot forward (`*`, authority).
 */
export function originForm(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  const schemeEnd = target.indexOf('://');
  if (schemeEnd <= 0) return undefined;
  const authorityStart = schemeEnd + 3;
  // Stryker disable next-line EqualityOperator: reading one past the end finds undefined, neither / nor ?
  for (let i = authorityStart; i < target.length; i++) {
    const c = target[i];
    if (c === '/') return target.slice(i);
    if (c === '?') return `/${target.slice(i)}`;
  }
  return '/';
}
