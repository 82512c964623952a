/** Listen addresses: how they are written, parsed, compared and bound. */
import { type AddressInfo, isIPv6, type Server } from 'node:net';

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
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const plain = /^([^:[\]]+):(\d+)$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) {
    return text.split(':').length > 2 && !text.startsWith('[')
      ? `"${text}" is not host:port (put an IPv6 address in brackets, e.g. [::1]:8080)`
      : `"${text}" is not host:port (e.g. 127.0.0.1:8080)`;
  }
  const [, host, portText] = match;
  const port = Number(portText);
  if (port > 65535) return `port ${portText} is out of range 0-65535`;
  if (bracketed && !isIPv6(host)) return `"${host}" is not an IPv6 address`;
  if (!bracketed && !HOST_NAME.test(host)) return `"${host}" is not a valid host name or address`;
  return { host, port };
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** Two listeners collide on the same port when the hosts match or either is a wildcard. */
export function listenersCollide(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  return a.host === b.host || WILDCARDS.has(a.host) || WILDCARDS.has(b.host);
}

export function formatListen(address: ListenAddress): string {
  return isIPv6(address.host)
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Binds `server` (`what` names it in messages) to `address`. Rejects with the address in the
 * message and the error's `code` kept (`EADDRINUSE`, `EACCES`, …).
 */
export function listenOn(
  server: Server,
  address: ListenAddress,
  what: string,
  backlog?: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const message = `${what} cannot listen on ${formatListen(address)}: ${err.message}`;
      reject(Object.assign(new Error(message, { cause: err }), { code: err.code }));
    };
    server.once('error', onError);
    server.listen({ port: address.port, host: address.host, backlog }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Where `server` is bound (port 0 resolved), or null while it is not listening. */
export function boundAddress(server: Server): AddressInfo | null {
  const address = server.address();
  return address !== null && typeof address === 'object' ? address : null;
}
