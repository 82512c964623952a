/**
 * `Location` rewriting: Vidispine names itself in redirects (e.g. `303` after creating
 * an item); the client must be sent back through the proxy, on the origin it used. The URL
 * of a `Refresh` is rewritten the same way, as nginx's `proxy_redirect` does, and a
 * `Content-Location`, as Apache's `ProxyPassReverse` does.
 */
import { pathPrefix } from '../vidispine/connection';

/**
 * `clientHost` is the authority the client reached, as admission checked it (`host[:port]`,
 * RFC 3986 syntax), or undefined when it named none.
 */
export type LocationRewriter = (location: string, clientHost: string | undefined) => string;

/** One spelling of the upstream base: scheme and authority (lower case), and path prefix. */
interface UpstreamBase {
  readonly origin: string;
  readonly prefix: string;
}

/**
 * Every spelling of the upstream base a `Location` may use: explicit default port or not,
 * and scheme-relative (`//vidispine:8080/…`, RFC 3986 §4.2), which names Vidispine's
 * address just the same and would send the client around the proxy. Scheme and host are
 * compared in any case; the path prefix as written, since `/vidi/x` is not `/Vidi/x`.
 */
function upstreamBases(upstream: URL): UpstreamBase[] {
  const prefix = pathPrefix(upstream);
  const authorities = [upstream.host];
  if (upstream.port === '') {
    const defaultPort = upstream.protocol === 'https:' ? 443 : 80;
    authorities.push(`${upstream.hostname}:${defaultPort}`);
  }
  return authorities.flatMap((authority) =>
    [`${upstream.protocol}//${authority}`, `//${authority}`].map((origin) => ({
      origin: origin.toLowerCase(),
      prefix,
    })),
  );
}

/**
 * `path` as a path-absolute reference that stays on the client's origin. A path whose first
 * segment is empty (`//evil.example/x`; also `/\…` or `/<tab>/…`, which WHATWG URL parsers
 * read as `//`) would be a network-path reference naming another host; `/.` in front keeps
 * it a path, the same one once dot segments go, as WHATWG's URL serialiser writes it.
 */
function pathAbsolute(path: string): string {
  return /^\/[\t\n\r]*[/\\]/.test(path) ? `/.${path}` : path;
}

function isBoundary(char: string | undefined): boolean {
  return char === undefined || char === '/' || char === '?' || char === '#';
}

/**
 * Built once per listener; the returned function is pure and allocation-free on a miss.
 * A client that named no host (HTTP/1.0 without `Host`, or an empty one) gets a path-absolute reference,
 * which RFC 9110 §10.2.2 allows: Vidispine's own address never reaches it.
 */
export function locationRewriter(upstream: URL, clientScheme: 'http' | 'https'): LocationRewriter {
  const bases = upstreamBases(upstream);
  return (location, clientHost) => {
    for (const { origin, prefix } of bases) {
      const end = origin.length + prefix.length;
      if (
        location.length >= end &&
        isBoundary(location[end]) &&
        location.slice(0, origin.length).toLowerCase() === origin &&
        location.startsWith(prefix, origin.length)
      ) {
        const rest = location.slice(end);
        const path = rest.startsWith('/') ? rest : `/${rest}`;
        return clientHost === undefined
          ? pathAbsolute(path)
          : `${clientScheme}://${clientHost}${path}`;
      }
    }
    return location;
  };
}

/**
 * A `Refresh` value (`5; url=http://vidispine:8080/API/x`, the URL perhaps quoted): what
 * goes before the URL, its quote, the URL.
 */
const REFRESH = /^([^;,]*[;,]\s*url\s*=\s*)(['"]?)(.*?)\2$/i;

/** `value`, a `Refresh`, with its URL rewritten by `rewrite`; unchanged when it names none. */
export function rewriteRefresh(value: string, rewrite: (url: string) => string): string {
  const parts = REFRESH.exec(value);
  return parts === null ? value : `${parts[1]}${parts[2]}${rewrite(parts[3])}${parts[2]}`;
}
