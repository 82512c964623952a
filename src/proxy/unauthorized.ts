/**
 * What the forwarder passes on of an answer's headers. Vidispine (Apache Shiro) may explain a
 * refusal in a `Reason:` header, and a front end may build a redirect from the Authorization
 * it got: either can name the credential presented — the proxy's own token, which must never
 * reach a client or a log line. It is blanked out wherever it appears.
 */
import { blankedOut, shownValue } from '../visible-text';
import { clientResponseHeaders } from './headers';
import type { LocationRewriter } from './location';

/**
 * The first `Reason:` header of an answer, for the log (`shownWithoutToken`); undefined if
 * none.
 */
export function refusalReason(raw: readonly string[], token: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'reason') return shownWithoutToken(raw[i + 1], token);
  }
  return undefined;
}

/**
 * Text a server or a library wrote, for the log: `token` blanked out first (a cut must not
 * leave part of it), then as the mint's messages quote one (`shownValue`), so a server's
 * 16 KiB of it or its control bytes never reach a log line.
 */
export function shownWithoutToken(text: string, token: string): string {
  return shownValue(blankedOut(text, token));
}

/** Response headers (name, value, name, value …) with `token` blanked out of every value. */
function withoutToken(headers: string[], token: string): string[] {
  for (let i = 1; i < headers.length; i += 2) headers[i] = blankedOut(headers[i], token);
  return headers;
}

/**
 * `rewrite` given each value with `token` blanked out first. The rewriter writes a URL on
 * Vidispine's origin as a URL parser reads it (dot segments resolved, `^` as `%5E` on Node 24),
 * so a token in it would come out spelled otherwise, where `withoutToken` over the answer's
 * headers, after, no longer finds it. That pass stays for a token only the rewriter joins
 * (the tabs inside dropped).
 */
function rewritingWithoutToken(rewrite: LocationRewriter, token: string): LocationRewriter {
  return (location, clientHost) => rewrite(blankedOut(location, token), clientHost);
}

/**
 * An answer's headers for the client (`clientResponseHeaders`) without the credential it was
 * sent, whatever the status: blanked before the Location rewrite and after it.
 */
export function clientHeadersWithoutToken(
  raw: readonly string[],
  rewriteLocation: LocationRewriter,
  clientHost: string | undefined,
  status: number,
  token: string,
): string[] {
  return withoutToken(
    clientResponseHeaders(raw, rewritingWithoutToken(rewriteLocation, token), clientHost, status),
    token,
  );
}
