/** Listen addresses: how they are written, parsed, compared and bound. */
import { type AddressInfo, isIPv6, type Server } from 'node:net';
import { shownValue } from '../visible-text';
import {
  SHAPELESS_NOT_SHOWN,
  SINGLE_WORD_NOT_SHOWN,
  shownUrl,
  singleWord,
  splitUserinfo,
} from './value-shape';

/** `host:port`; host may be an IPv4/IPv6 literal or a name. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/**
 * Parses `host:port`. IPv6 literals go in brackets (`[::1]:8080`); the returned host has no
 * brackets, ready for `server.listen`. Port 0 (ephemeral) is allowed.
 * Returns a problem description instead of throwing, so callers can name the key.
 */
export function parseListen(text: string): ListenAddress | string {
  if (isPortAlone(text)) return portAlone(text);
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const plain = /^([^:[\]]+):(\d+)$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) {
    const example =
      text.split(':').length > 2 && !text.startsWith('[')
        ? '(put an IPv6 address in brackets, e.g. [::1]:8080)'
        : '(e.g. 127.0.0.1:8080)';
    return notAnAddress(text, example);
  }
  const [, host, portText] = match;
  const port = Number(portText);
  if (port > 65535) return `port ${shownValue(portText)} is out of range 0-65535`;
  if (bracketed && !isIPv6(host)) return `"${shownValue(host)}" is not an IPv6 address`;
  if (!bracketed && !HOST_NAME.test(host))
    return `"${shownValue(host)}" is not a valid host name or address`;
  return { host: bracketed ? canonicalIPv6(host) : host, port };
}

/**
 * A listen address's characters only: a host name's or an IP address's (`[`, `]`, an IPv6
 * zone's `%`), `:` and a port's digits. A mistyped address has no others; a password mapped
 * to the variable most often has (`!`, `&`, base64's `+`, `/`, `=`).
 */
const ADDRESS_SHAPED = /^[\w.:[\]%-]*$/;

/**
 * Why `text` is no listen address, quoting it only where it cannot be a password mapped to
 * the variable, as for a URL: a URL's userinfo blanked (`shownUrl`), a single word or a
 * value of other characters than an address's not quoted at all.
 */
function notAnAddress(text: string, example: string): string {
  if (singleWord(text)) return `the value is not host:port ${example}; ${SINGLE_WORD_NOT_SHOWN}`;
  if (ADDRESS_SHAPED.test(text)) return `"${shownValue(text)}" is not host:port ${example}`;
  if (splitUserinfo(text).prefix !== '' || text.includes('@'))
    return `"${shownUrl(text)}" is not host:port ${example}`;
  return `the value is not host:port ${example}; ${SHAPELESS_NOT_SHOWN}`;
}

/**
 * An IPv6 address as RFC 5952 writes it (`0:0::0` → `::`, `0::1` → `::1`, lower case), so
 * that the wildcard and two spellings of one address are recognised when listeners are
 * compared. An address with a zone (`fe80::1%eth0`) is kept as written.
 */
function canonicalIPv6(host: string): string {
  if (host.includes('%')) return host;
  return new URL(`http://[${host}]/`).hostname.slice(1, -1);
}

/** A port with no host, as text or as the number YAML reads `listen: 8080` as. */
export function isPortAlone(value: unknown): boolean {
  return typeof value === 'number'
    ? Number.isInteger(value) && value >= 0
    : typeof value === 'string' && /^\d+$/.test(value);
}

/**
 * `8080` where an address is expected (as `listen` of other servers takes it): which host
 * was meant is not ours to guess, since one choice opens the port to the network. Every
 * address is offered as `[::]`, which `listenOn` binds in IPv4-only, dual-stack and IPv6-only
 * clusters alike, where 0.0.0.0 leaves an IPv6 pod IP unserved.
 */
export function portAlone(text: string): string {
  const port = shownValue(text);
  return `${port} is a port alone: write host:port, 127.0.0.1:${port} (local connections only) or [::]:${port} (every address, IPv6 and IPv4)`;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);
/** An IPv4-mapped IPv6 address, as `canonicalIPv6` writes it (`::ffff:7f00:1`). */
const IPV4_MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * What `localhost` binds: the resolver's first loopback address, 127.0.0.1 or ::1 by the
 * machine's /etc/hosts order, so a config that works here cannot fail to bind elsewhere.
 */
const LOCALHOST_BINDS = new Set(['127.0.0.1', '::1']);

/**
 * The address a host binds: `::ffff:127.0.0.1` binds 127.0.0.1, and clashes with it; a host
 * name binds the same socket in any case (`LocalHost` is `localhost`).
 */
function boundHost(host: string): string {
  const mapped = IPV4_MAPPED.exec(host);
  // Only a name has a case to fold: an IPv6 zone names an interface, whose case counts.
  if (!mapped) return host.includes(':') ? host : canonicalIPv4(host.toLowerCase());
  const [high, low] = [parseInt(mapped[1] ?? '', 16), parseInt(mapped[2] ?? '', 16)];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * `127.1`, `0x7f000001`, `0177.0.0.1`, `0`: the resolver reads these as IPv4 numbers
 * (inet_aton), so they bind 127.0.0.1 or 0.0.0.0; written as WHATWG's IPv4 parser writes
 * them (it reads the same forms), they are compared as what they bind. A name stays as is.
 */
function canonicalIPv4(host: string): string {
  if (!/^[0-9a-fx.]+$/.test(host)) return host;
  try {
    const written = new URL(`http://${host}/`).hostname;
    return /^\d+\.\d+\.\d+\.\d+$/.test(written) ? written : host;
  } catch {
    return host;
  }
}

/**
 * IPv4's wildcard takes no IPv6 address: 0.0.0.0:9090 and [::1]:9090 bind side by side. Only
 * the IPv6 wildcard takes both families (`::` then 127.0.0.1 is EADDRINUSE).
 */
const apartFamilies = (v4: string, other: string): boolean =>
  v4 === '0.0.0.0' && other.includes(':') && other !== '::';

/**
 * Two listeners collide on the same port when the hosts match or either is a wildcard of the
 * other's family (`::` of both).
 */
export function listenersCollide(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  const [hostA, hostB] = [boundHost(a.host), boundHost(b.host)];
  if (apartFamilies(hostA, hostB) || apartFamilies(hostB, hostA)) return false;
  return (
    hostA === hostB ||
    WILDCARDS.has(hostA) ||
    WILDCARDS.has(hostB) ||
    (hostA === 'localhost' && LOCALHOST_BINDS.has(hostB)) ||
    (hostB === 'localhost' && LOCALHOST_BINDS.has(hostA))
  );
}

/**
 * Only an IPv6 address contains a colon (host names cannot). Testing that, rather than
 * `isIPv6`, keeps Node's IPv6 pattern from being compiled at start-up for the log line.
 */
export function formatListen(address: ListenAddress): string {
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/** What a failed bind means, in words (the code stays in the message for searching). */
const BIND_FAILURES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no network interface of this machine has that address',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

/**
 * A listener cannot bind. Every program reports it in one line, without a stack: the setting
 * as the user wrote it (`PROXY_LISTEN`, `users[1].listen`, `--listen`) and the address —
 * `PROXY_LISTEN: cannot listen on 127.0.0.1:8080: the address is already in use (EADDRINUSE)`.
 */
export class ListenError extends Error {
  constructor(
    /** The setting that holds the address, or what listens when no setting names it. */
    readonly setting: string,
    readonly address: string,
    readonly code: string,
  ) {
    super(
      `${setting}: cannot listen on ${shownValue(address)}: ${BIND_FAILURES[code] ?? 'failed'} (${code})`,
    );
    this.name = 'ListenError';
  }

  /** Runs `bind()`, turning its failure into a `ListenError` naming `setting`. */
  static async around<T>(
    setting: string,
    address: ListenAddress,
    bind: () => Promise<T>,
  ): Promise<T> {
    try {
      return await bind();
    } catch (err) {
      const code =
        err instanceof ListenError ? err.code : ((err as NodeJS.ErrnoException).code ?? 'error');
      throw new ListenError(setting, formatListen(address), code);
    }
  }
}

/** Resolves once `server` listens; rejects with a `ListenError` naming `what`. */
export function listenOn(
  server: Server,
  address: ListenAddress,
  what: string,
  backlog?: number,
): Promise<void> {
  return ListenError.around(
    what,
    address,
    () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // `::` is every address: Node's listen without a host binds it for IPv6 and IPv4
        // alike, and 0.0.0.0 instead where the kernel has no IPv6 at all (`ipv6.disable=1`),
        // so one setting serves IPv4-only, dual-stack and IPv6-only clusters.
        const host = address.host === '::' ? undefined : address.host;
        server.listen({ port: address.port, host, backlog }, () => {
          server.off('error', reject);
          resolve();
        });
      }),
  );
}

/** Where `server` is bound (port 0 resolved), or null while it is not listening. */
export function boundAddress(server: Server): AddressInfo | null {
  const address = server.address();
  return address !== null && typeof address === 'object' ? address : null;
}
