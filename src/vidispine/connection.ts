/**
 * How connections to Vidispine are made and what their failures mean, for both sides that
 * open them: the token requests (`transport.ts`) and the forwarded requests
 * (`proxy/upstream.ts`).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { caFileProblems } from '../config/ca-file';
import { readRegularFileSync } from '../config/regular-file';
import { errorCode, messageOf } from '../error-message';
import type { VidispineConfig } from '../config/types';
import { shownValue } from '../visible-text';

/** The path of `vidispine.url` that goes before `/API/…` (`''` for the bare origin). */
export function pathPrefix(url: URL): string {
  return url.pathname.replace(/(?<!\/)\/+$/, '');
}

/** `vidispine.url` as people are shown it: origin and path, never userinfo. */
export function shownBaseUrl(url: URL): string {
  return `${url.origin}${pathPrefix(url)}`;
}

export function isSecure(url: URL): boolean {
  return url.protocol === 'https:';
}

/** `node:http`'s or `node:https`'s `request`, as the URL's scheme asks. */
export function requestFor(url: URL): typeof http.request {
  return isSecure(url) ? https.request : http.request;
}

/**
 * `caFile` of a configuration built in code, which carries no bytes read at start: checked as
 * `readCaFile` checks them, since Node takes bytes that hold no certificate without a word and
 * every connection would then fail as one the CA does not cover.
 */
function readCa(caFile: string): Buffer {
  const notRegular = new Error(
    `vidispine.caFile: ${shownValue(caFile)} is not a regular file (a FIFO, device or directory is never read)`,
  );
  let ca: Buffer;
  try {
    ca = readRegularFileSync(caFile, () => notRegular);
  } catch (err) {
    if (err === notRegular) throw err;
    const code = errorCode(err) ?? 'unreadable';
    throw new Error(`vidispine.caFile ${caFile} cannot be read (${code})`);
  }
  const problems = caFileProblems(caFile, ca.toString('latin1'));
  if (problems.length > 0) throw new Error(`vidispine.caFile: ${problems.join('; ')}`);
  return ca;
}

/** How a TLS connection to Vidispine verifies its certificate (see `trustedCas`). */
export interface Trust {
  /**
   * Always set over https: left out, Node takes it from `NODE_TLS_REJECT_UNAUTHORIZED`, and
   * `0` there would have every certificate accepted with no more than a warning on stderr.
   * A private CA goes in `caFile`.
   */
  readonly rejectUnauthorized?: true;
  /**
   * Node's roots plus `caFile`, parsed once and shared by every connection. Handed over as
   * `ca` instead, each connection would build a context of its own (some 150 certificates,
   * about 1 MB of native memory the garbage collector does not see): a Vidispine that resets
   * or refuses new connections, each request opening one, took the process to 1 GB of RSS.
   */
  readonly secureContext?: SecureContext;
}

/**
 * What a TLS connection to Vidispine verifies against: Node's roots plus `caFile`, an extra CA
 * added to the bundle, not put in its place; nothing to set over http.
 * The commands hand over the bytes read before anything listens (`ca`, from `readCaFile`), so
 * no volume is read again here. A configuration built in code without them has its file read
 * now, once: call it at start and hand the result to every pool, so a file changed or
 * removed later (configuration is read at start) cannot fail a request.
 */
export function trustedCas(vidispine: Pick<VidispineConfig, 'url' | 'caFile' | 'ca'>): Trust {
  const { caFile, ca } = vidispine;
  if (!isSecure(vidispine.url)) return {};
  if (caFile === undefined) return { rejectUnauthorized: true };
  const bundle = [...rootCertificates, ca ?? readCa(caFile)];
  return { rejectUnauthorized: true, secureContext: createSecureContext({ ca: bundle }) };
}

/**
 * The name a TLS connection to `url` sends in SNI and verifies the certificate against: its
 * host without the trailing dot of a fully qualified name (`vidispine.media.svc.cluster.local.`),
 * which RFC 6066 §3 leaves out of SNI and Java's TLS stack (VidiCore's) refuses as an illegal
 * server name, ending the handshake; Node and undici would send the host as written. None for
 * an IP address: SNI carries host names only.
 */
export function serverName(url: URL): { readonly servername?: string } {
  const host = url.hostname.replace(/(?<!\.)\.+$/, '');
  return host.startsWith('[') || isIP(host) !== 0 ? {} : { servername: host };
}

/**
 * How long a kept connection to Vidispine may wait idle for its next request, in every pool
 * (forwarded requests' and the token side's): kept until Vidispine (Jetty's idle timeout) or
 * a balancer closes it, a connection meets the next request as it closes, or a NAT or
 * firewall forgets it in between. A `Keep-Alive: timeout=` Vidispine sends may shorten it.
 */
export const IDLE_CONNECTION_MS = 4000;

/** An agent for connections to `url` with the given pool settings, verifying with `trust`. */
export function createAgent(url: URL, trust: Trust, pool: http.AgentOptions): http.Agent {
  if (!isSecure(url)) return new http.Agent(pool);
  return new https.Agent({ ...pool, ...trust, ...serverName(url) });
}

/**
 * Codes of a failed TLS handshake or certificate check: Node's own (`ERR_TLS_…`,
 * `ERR_SSL_…`) and OpenSSL's verification results (`CERT_HAS_EXPIRED`,
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `HOSTNAME_MISMATCH`, …).
 */
const TLS_FAILURE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|CRL_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERROR_IN_C(ERT|RL)_|HOSTNAME_MISMATCH$|INVALID_CA$|INVALID_PURPOSE$|PATH_LENGTH_EXCEEDED$)/;

export function isTlsFailure(code: string | undefined): boolean {
  return code !== undefined && TLS_FAILURE.test(code);
}

/**
 * One error line of OpenSSL's (`80CC53A30D7F0000:error:0A000410:SSL routines:ssl3_read_bytes:
 * sslv3 alert handshake failure:../deps/openssl/…/rec_layer_s3.c:1601:SSL alert number 40`):
 * a thread's address, a library, a function, the reason, a source file and line, and data.
 */
const OPENSSL_LINE =
  /(?<![0-9A-F])[0-9A-F]+:error:[0-9A-F]+:[^:\n]*:[^:\n]*:([^:\n]+):[^:\n]*:\d+:([^\n]*)\n?/g;

/** Whether OpenSSL reported `err`: its message carries one of OpenSSL's error lines. */
export function isOpensslError(err: unknown): boolean {
  return new RegExp(OPENSSL_LINE.source).test(messageOf(err));
}

/**
 * The message with each OpenSSL error line cut to its reason and data (`sslv3 alert handshake
 * failure, SSL alert number 40`): whole, it ran past a detail's bound and cut off the code
 * that names the failure, to say where in OpenSSL's sources it was found.
 */
export function withoutOpensslFrame(message: string): string {
  // Node prints OpenSSL's whole error queue, a line each (a certificate that does not parse:
  // the ASN.1 decoder's errors, then the TLS layer's): kept apart once their ends are gone.
  const lines = (line: string, reason: string, data: string, at: number, whole: string) =>
    told(reason, data) + (at + line.length < whole.length ? '; ' : '');
  return message.replace(OPENSSL_LINE, lines).trimEnd();
}

const told = (reason: string, data: string): string =>
  data.trim() === '' ? reason : `${reason}, ${data.trim()}`;

/** An alert a server ended the handshake with: OpenSSL's words for it, and its number. */
export interface TlsAlert {
  readonly text: string;
  readonly number: number;
}

/**
 * The alert the server ended the handshake with, as OpenSSL names it (`sslv3 alert handshake
 * failure, SSL alert number 40`), when `err` reports one: the server speaks TLS, and refused.
 * Told by the data OpenSSL adds to every alert it receives: some reasons do not say "alert"
 * (`tlsv1 unrecognized name`, 112).
 */
export function tlsAlert(err: unknown): TlsAlert | undefined {
  for (const [, reason = '', data = ''] of messageOf(err).matchAll(OPENSSL_LINE)) {
    const number = /^SSL alert number (\d+)$/.exec(data.trim())?.[1];
    if (number !== undefined) return { text: told(reason, data), number: Number(number) };
  }
  return undefined;
}
