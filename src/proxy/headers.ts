import type { LocationRewriter } from './location';

/**
 * Which headers go upstream and which come back: pure functions over Node's flat
 * `rawHeaders` arrays, so names keep their case, duplicates stay duplicates and every
 * request costs one pass with no regular expression.
 */

/** Hop-by-hop fields (RFC 9110 §7.6.1, RFC 9112 §9.6): never passed on in either direction. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
];

/**
 * Plus the ones the forwarder sets itself: `host` (the upstream's) and `expect` (re-added
 * with `transfer-encoding` when the body needs them).
 */
const REQUEST_HOP_BY_HOP = [...HOP_BY_HOP, 'expect', 'host'];

export interface CredentialPolicy {
  readonly allowRunAs: boolean;
  readonly selectUserHeader?: string;
}

/** Lower-case names of what a client may not pass on: credentials and the select header. */
export function clientCredentialHeaders(policy: CredentialPolicy): string[] {
  const names = ['authorization', 'proxy-authorization'];
  if (!policy.allowRunAs) names.push('runas');
  if (policy.selectUserHeader !== undefined) names.push(policy.selectUserHeader.toLowerCase());
  return names;
}

/** Decided once per listener: which request header names never leave the proxy. */
export function requestDropSet(policy: CredentialPolicy): ReadonlySet<string> {
  return new Set([...REQUEST_HOP_BY_HOP, ...clientCredentialHeaders(policy)]);
}

const RESPONSE_DROPPED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'proxy-authenticate',
  // A browser-based legacy app must never see a login dialog for our token.
  'www-authenticate',
]);

/** Field names a `Connection` header lists are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(value: string): Set<string> {
  const names = new Set<string>();
  // The usual values name no field; skip the split for them.
  if (value.length <= 10) {
    const lower = value.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close') return names;
  }
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') names.add(name);
  }
  return names;
}

function withoutNames(headers: string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
  }
  return out;
}

type ValueMap = (lowerName: string, value: string) => string;
const keepValue: ValueMap = (_name, value) => value;

/**
 * `raw` minus the names in `drop` and the fields its `Connection` headers list, with each
 * kept value passed through `value`: one pass, no regular expression.
 */
function withoutHopByHop(
  raw: readonly string[],
  drop: ReadonlySet<string>,
  value: ValueMap = keepValue,
): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (drop.has(lower)) {
      if (lower === 'connection') {
        connection = connection === undefined ? raw[i + 1] : `${connection},${raw[i + 1]}`;
      }
      continue;
    }
    out.push(raw[i], value(lower, raw[i + 1]));
  }
  if (connection === undefined) return out;
  const listed = connectionListed(connection);
  return listed.size === 0 ? out : withoutNames(out, listed);
}

/** Step "strip client credentials": the client's headers minus `drop` and hop-by-hop fields. */
export function stripClientHeaders(raw: readonly string[], drop: ReadonlySet<string>): string[] {
  return withoutHopByHop(raw, drop);
}

export interface UpstreamFraming {
  /** The body has no declared length and goes upstream chunked. */
  readonly chunked: boolean;
  /** Ask Vidispine for `100 Continue` before the body, so a 401 costs no body bytes. */
  readonly expectContinue: boolean;
}

/** Step "attach token": the stripped headers plus `Host`, our `Authorization` and framing. */
export function attachToken(
  stripped: readonly string[],
  host: string,
  token: string,
  framing: UpstreamFraming,
): string[] {
  const out = ['Host', host, ...stripped, 'Authorization', `token ${token}`];
  if (framing.chunked) out.push('Transfer-Encoding', 'chunked');
  if (framing.expectContinue) out.push('Expect', '100-continue');
  return out;
}

/**
 * Step "rewrite response headers": Vidispine's headers minus hop-by-hop fields and
 * `WWW-Authenticate`, with `Location` moved to the origin the client used.
 */
export function clientResponseHeaders(
  raw: readonly string[],
  rewriteLocation: LocationRewriter,
  clientHost: string | undefined,
): string[] {
  return withoutHopByHop(raw, RESPONSE_DROPPED, (lower, value) =>
    lower === 'location' ? rewriteLocation(value, clientHost) : value,
  );
}
