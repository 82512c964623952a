import { randomUUID } from 'node:crypto';

/** A client's `x-request-id` is kept when it is a short printable token, else one is made. */
const CLIENT_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** The request's id for the access log: the client's own when usable, else a fresh UUID. */
export function requestIdFrom(header: string | readonly string[] | undefined): {
  readonly id: string;
  /** The client sent none we could use: the proxy made this one. */
  readonly generated: boolean;
} {
  const value = Array.isArray(header) ? header[0] : header;
  return typeof value === 'string' && CLIENT_REQUEST_ID.test(value)
    ? { id: value, generated: false }
    : { id: randomUUID(), generated: true };
}
