/**
 * How a request body is delimited on its way upstream. Decided once, at admission, from
 * what Node's parser used to read the client's body; the client's own `Content-Length`
 * and `Transfer-Encoding` never pass the header filter, so these values are the only
 * framing a forwarded request can carry and a body never leaves the proxy unframed.
 */
export type RequestFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export const NO_BODY: RequestFraming = { kind: 'none' };
export const CHUNKED: RequestFraming = { kind: 'chunked' };

export function lengthFraming(length: number): RequestFraming {
  return length === 0 ? NO_BODY : { kind: 'length', length };
}
