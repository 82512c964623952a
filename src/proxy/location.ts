/**
 * `Location` rewriting: Vidispine names itself in redirects (e.g. `303` after creating
 * an item); the client must be sent back through the proxy, on the origin it used. The URL
 * of a `Refresh` is rewritten the same way, as nginx's `proxy_redirect` does, and a
 * `Content-Location`, as Apache's `ProxyPassReverse` does.
 *
 * Whether a reference names Vidispine is decided as the client will decide where to go: by
 * the WHATWG URL parser, which browsers and Node's `fetch` use and which reads every lenient
 * spelling other clients take (userinfo, backslashes, extra slashes, a percent-encoded host,
 * `:08080`, tabs and line breaks inside). Comparing text instead missed each of those, and
 * each sent the client to Vidispine's own address, around the proxy.
 */
import { pathPrefix } from '../vidispine/connection';

/**
 * `clientHost` is the authority the client reached, as admission checked it (`host[:port]`,
 * RFC 3986 syntax), or undefined when it named none.
 */
export type LocationRewriter = (location: string, clientHost: string | undefined) => string;

/** Vidispine's origin as the URL parser writes one: scheme, host, port ('' when default). */
interface Origin {
  readonly protocol: string;
  readonly hostname: string;
  readonly port: string;
}

const TAB_OR_NEWLINE = /[\t\n\r]/g;

/** A byte beyond ASCII (obs-text, RFC 9110 §5.5) as Node reads a header: one per character. */
const OCTET_BEYOND_ASCII = /[\x80-\xff]/g;

/**
 * The byte percent-encoded. The parser would take `Ã©` (`é` sent as UTF-8) for two code
 * points and write each as UTF-8, four bytes for two; encoded, each byte stays the one
 * Vidispine sent, which is what a client reading the value as UTF-8 (a browser's Location)
 * or as bytes (curl) requests, and a host in other letters (`ｖ`) is decoded as they do.
 */
function octet(char: string): string {
  return `%${char.charCodeAt(0).toString(16).toUpperCase()}`;
}

/**
 * What a URL parser reads of a value: without the blanks and C0 controls around it, and
 * without tabs and line breaks anywhere in it (WHATWG URL, basic URL parser, steps 1 to 3),
 * its bytes beyond ASCII percent-encoded.
 * Trimmed by hand: a regex for blanks at the end backtracks over every run of blanks inside,
 * quadratic in its length (16,000 spaces took 0.3 s).
 */
function parserInput(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && value.charCodeAt(start) <= 0x20) start++;
  while (end > start && value.charCodeAt(end - 1) <= 0x20) end--;
  return value.slice(start, end).replace(TAB_OR_NEWLINE, '').replace(OCTET_BEYOND_ASCII, octet);
}

/** A scheme (RFC 3986 §3.1): the reference is a URL of its own, read without a base. */
const SCHEME = /^[a-z][a-z\d+.-]*:/i;

/**
 * How `reference` names what it refers to (against an `http(s)` base, `\` is `/`): with a
 * scheme (`url`, read as it stands); with two slashes (`host`: a network-path reference,
 * RFC 3986 §4.2, naming a host in the scheme of the URL it came from); with one (`path`, on
 * the origin it came from). Undefined for a relative path, query or fragment, which the
 * client resolves against its own request as Vidispine did against the one it was sent:
 * the two differ by the path prefix alone, which such a reference does not name.
 */
function referenceForm(reference: string): 'url' | 'host' | 'path' | undefined {
  if (SCHEME.test(reference)) return 'url';
  if (reference[0] !== '/' && reference[0] !== '\\') return undefined;
  return reference[1] === '/' || reference[1] === '\\' ? 'host' : 'path';
}

/** `reference` parsed, against `base` if given; undefined when it does not parse. */
function parsed(reference: string, base: string | undefined): URL | undefined {
  try {
    return new URL(reference, base);
  } catch {
    return undefined;
  }
}

/** An IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) as the parser writes it: `[::ffff:7f00:1]`. */
const IPV4_MAPPED = /^\[::ffff:([\da-f]{1,4}):([\da-f]{1,4})\]$/;

/**
 * The host a client reaches by `hostname`, as the parser wrote it: `vidispine.` is
 * `vidispine`, an absolute DNS name (the parser keeps the dot), and `[::ffff:7f00:1]` is
 * `127.0.0.1`, which a dual-stack client (Node's `fetch` among them) connects to by it.
 */
function reachedHost(hostname: string): string {
  const mapped = IPV4_MAPPED.exec(hostname);
  if (mapped !== null) {
    const [high, low] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
}

function isOn(url: URL, origin: Origin): boolean {
  return (
    url.protocol === origin.protocol &&
    url.port === origin.port &&
    reachedHost(url.hostname) === origin.hostname
  );
}

/**
 * `pathname` as the client requests it: without vidispine.url's path prefix, which the proxy
 * puts back; undefined when it is outside the prefix. Matched as written, since `/vidi/x` is
 * not `/Vidi/x`.
 */
function clientPath(pathname: string, prefix: string): string | undefined {
  if (pathname === prefix) return '/';
  return pathname.startsWith(prefix) && pathname[prefix.length] === '/'
    ? pathname.slice(prefix.length)
    : undefined;
}

/**
 * `path` as a path-absolute reference that stays on the client's origin. A path whose first
 * segment is empty (`//evil.example/x`) would be a network-path reference naming another
 * host; `/.` in front keeps it a path, the same one once dot segments go, as WHATWG's URL
 * serialiser writes it. The parser has already made every `\` a `/` and dropped tabs.
 */
function pathAbsolute(path: string): string {
  return path.startsWith('//') ? `/.${path}` : path;
}

/**
 * Built once per listener; the returned function is pure. It runs only on answers that carry
 * one of these headers, and parses only a value that names a host, or a path when
 * vidispine.url has a path prefix. A client that named no host (HTTP/1.0 without `Host`, or
 * an empty one) gets a path-absolute reference, which RFC 9110 §10.2.2 allows: Vidispine's
 * own address never reaches it.
 */
export function locationRewriter(upstream: URL, clientScheme: 'http' | 'https'): LocationRewriter {
  const origin: Origin = {
    protocol: upstream.protocol,
    hostname: reachedHost(upstream.hostname),
    port: upstream.port,
  };
  const base = upstream.origin;
  const prefix = pathPrefix(upstream);
  return (location, clientHost) => {
    const reference = parserInput(location);
    const form = referenceForm(reference);
    // Without a prefix, a path names the same resource on either origin.
    if (form === undefined || (form === 'path' && prefix === '')) return location;
    // Vidispine resolves a reference without a scheme against its own URL, so that is what
    // it meant: a path, or a host in Vidispine's scheme.
    const url = parsed(reference, form === 'url' ? undefined : base);
    if (url === undefined || !isOn(url, origin)) return location;
    const path = clientPath(url.pathname, prefix);
    if (path === undefined) return location;
    // Rebuilt from what the parser read, so the client reads it the same: no userinfo, no
    // backslash, dot segments resolved. A path stays one: it names no origin.
    const rest = `${path}${url.search}${url.hash}`;
    return clientHost === undefined || form === 'path'
      ? pathAbsolute(rest)
      : `${clientScheme}://${clientHost}${rest}`;
  };
}

function isBlank(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\f' || char === '\r';
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function skipBlanks(value: string, at: number): number {
  while (isBlank(value[at])) at++;
  return at;
}

/** `url =` (any case, blanks around `=`) in front of a `Refresh` URL. */
const URL_NAME = /url[\t\n\f\r ]*=[\t\n\f\r ]*/iy;

/**
 * Where the URL of a `Refresh` is (start, end), found as HTML's shared declarative refresh
 * steps find it, which is what a browser follows: the time (digits and dots), then a `;`, a
 * `,` or blanks, then the URL, after `url=` or not, up to its closing quote if it opens with
 * one (or to the end when that quote is missing). Undefined when there is none to follow.
 */
function refreshUrl(value: string): readonly [number, number] | undefined {
  let at = skipBlanks(value, 0);
  if (!isDigit(value[at]) && value[at] !== '.') return undefined;
  while (isDigit(value[at]) || value[at] === '.') at++;
  if (at < value.length) {
    if (value[at] !== ';' && value[at] !== ',' && !isBlank(value[at])) return undefined;
    at = skipBlanks(value, at);
    if (value[at] === ';' || value[at] === ',') at++;
    at = skipBlanks(value, at);
  }
  if (at >= value.length) return undefined;
  URL_NAME.lastIndex = at;
  if (URL_NAME.test(value)) at = URL_NAME.lastIndex;
  // A `u` that does not begin `url=` begins the URL itself, quote handling and all skipped.
  else if (value[at] === 'u' || value[at] === 'U') return [at, value.length];
  const quote = value[at];
  if (quote !== "'" && quote !== '"') return [at, value.length];
  const end = value.indexOf(quote, at + 1);
  return [at + 1, end === -1 ? value.length : end];
}

/** `value`, a `Refresh`, with its URL rewritten by `rewrite`; unchanged when it names none. */
export function rewriteRefresh(value: string, rewrite: (url: string) => string): string {
  const span = refreshUrl(value);
  if (span === undefined) return value;
  const [start, end] = span;
  const url = value.slice(start, end);
  const rewritten = rewrite(url);
  return rewritten === url ? value : `${value.slice(0, start)}${rewritten}${value.slice(end)}`;
}
