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

/** Where the authority of an absolute-form target ends: at its path, its query, or the end. */
function authorityEnd(target: string, start: number): number {
  // Stryker disable next-line EqualityOperator: reading one past the end finds undefined, neither / nor ?
  for (let i = start; i < target.length; i++) {
    const c = target[i];
    if (c === '/' || c === '?') return i;
  }
  return target.length;
}

/**
 * The origin-form part of a request target. An absolute-form target
 * (`GET http://elsewhere/API/x`) keeps only its path and query, so it can never send
 * traffic to another host. `undefined` for forms a proxy cannot forward (`*`, authority).
 */
export function originForm(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  const schemeEnd = target.indexOf('://');
  if (schemeEnd <= 0) return undefined;
  const end = authorityEnd(target, schemeEnd + 3);
  return target[end] === '/' ? target.slice(end) : `/${target.slice(end)}`;
}

/**
 * The authority a target `originForm` accepted names (`http://legacy:8080/API` →
 * `legacy:8080`), as received; `undefined` for an origin-form target, whose authority is
 * the `Host` header's.
 */
export function targetAuthority(target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const start = target.indexOf('://') + 3;
  return target.slice(start, authorityEnd(target, start));
}

/**
 * A `..` segment in any spelling a server on the way may resolve (RFC 3986 §5.2.4): a dot
 * as `%2e`, a slash as `%2f` or `\` (`%5c`), parameters after it (`..;a=1`, which Tomcat
 * and Jetty drop before resolving; also `..%3ba=1`, which nginx decodes into that and hands
 * on), up to the query. A fragment mark ends it too.
 */
const DOT_DOT_SEGMENT = /(?:\/|\\|%2f|%5c)(?:\.|%2e){2}(?:\/|\\|%2f|%5c|;|%3b|#|$)/i;

/**
 * Whether an origin-form target (`/…`, as `originForm` gives it) has a `..` segment in its path. Such a target is never
 * forwarded: a front end before a Vidispine URL with a path (`http://gateway/vidispine`)
 * resolves it (nginx does, after decoding `%2e` and `%2f`), so `/../other/` would climb
 * out of that path to whatever else the front end serves, our token attached.
 */
export function hasDotDotSegment(path: string): boolean {
  return DOT_DOT_SEGMENT.test(path.split('?', 1)[0]);
}
