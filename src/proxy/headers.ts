import {
  CLIENT_CREDENTIALS,
  HOP_BY_HOP,
  REQUEST_FRAMING,
  RUN_AS_HEADER,
} from '../config/request-headers';
import type { RequestFraming } from './framing';
import { type LocationRewriter, rewriteRefresh } from './location';

/**
 * Which headers go upstream and which come back: pure functions over Node's flat
 * `rawHeaders` arrays, so names keep their case, duplicates stay duplicates and every
 * request costs one pass over its headers.
 */

/**
 * Framing and routing fields (RFC 9110 §7.6.1, RFC 9112 §6.3): a `Connection` header may
 * never name them — a client that lists `Content-Length` must not get its body sent on
 * unframed — so such tokens are ignored, as nginx does.
 */
const NEVER_CONNECTION_LISTED: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'host',
]);

/** Hop-by-hop fields, plus the ones the forwarder sets itself (`host`, framing, `expect`). */
const REQUEST_HOP_BY_HOP = [...HOP_BY_HOP, ...REQUEST_FRAMING];

export interface CredentialPolicy {
  readonly allowRunAs: boolean;
  readonly selectUserHeader?: string;
}

/** Lower-case names of what a client may not pass on: credentials and the select header. */
function clientCredentialHeaders(policy: CredentialPolicy): string[] {
  const names = [...CLIENT_CREDENTIALS];
  if (!policy.allowRunAs) names.push(RUN_AS_HEADER);
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

/** RFC 9110 §8.6: a 1xx or a 204 never carries `Content-Length` (nginx removes it too). */
const RESPONSE_DROPPED_WITHOUT_CONTENT: ReadonlySet<string> = new Set([
  ...RESPONSE_DROPPED,
  'content-length',
]);

/**
 * `names` plus the field names one `Connection` value lists (RFC 9110 §7.6.1: they are
 * hop-by-hop too); still undefined when none is listed, so most requests allocate nothing.
 */
function addConnectionListed(names: Set<string> | undefined, value: string) {
  // Stryker disable next-line all: a shortcut past the split for the usual values, which name no field either way
  if (/^(?:close|keep-alive)$/i.test(value)) return names;
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (!NEVER_CONNECTION_LISTED.has(name)) (names ??= new Set()).add(name);
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
 * kept value passed through `value`, in one pass.
 */
function withoutHopByHop(
  raw: readonly string[],
  drop: ReadonlySet<string>,
  value: ValueMap = keepValue,
): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (drop.has(lower)) {
      if (lower === 'connection') listed = addConnectionListed(listed, raw[i + 1]);
      continue;
    }
    out.push(raw[i], value(lower, raw[i + 1]));
  }
  return listed === undefined ? out : withoutNames(out, listed);
}

/** Step "strip client credentials": the client's headers minus `drop` and hop-by-hop fields. */
export function stripClientHeaders(raw: readonly string[], drop: ReadonlySet<string>): string[] {
  return withoutHopByHop(raw, drop);
}

/**
 * Step "attach token": the stripped headers plus `Host`, our `Authorization`, and the
 * body's framing — the only place a forwarded request gets `Content-Length`,
 * `Transfer-Encoding` or `Expect`. `Host` goes first (RFC 9112 §3.2), `Authorization` right
 * after it: a receiver (or a hop in between) that keeps only its first so many fields
 * still sees the token, however many the client sent.
 */
export function attachToken(
  stripped: readonly string[],
  host: string,
  token: string,
  framing: RequestFraming,
  expectContinue: boolean,
): string[] {
  const out = ['Host', host, 'Authorization', `token ${token}`, ...stripped];
  if (framing.kind === 'length') out.push('Content-Length', String(framing.length));
  else if (framing.kind === 'chunked') out.push('Transfer-Encoding', 'chunked');
  if (expectContinue) out.push('Expect', '100-continue');
  return out;
}

/**
 * URI references to a resource (RFC 9110 §10.2.2, §8.7) the client may dereference or
 * cache under: on Vidispine's origin they would send it around the proxy, without a token.
 */
const RESOURCE_REFERENCES: ReadonlySet<string> = new Set(['location', 'content-location']);

/**
 * Step "rewrite response headers": Vidispine's headers minus hop-by-hop fields and
 * `WWW-Authenticate`, with `Location`, `Content-Location` (and the URL of a `Refresh`)
 * moved to the origin the client used. The `status` of the answer they head decides
 * whether a `Content-Length` may stay.
 */
export function clientResponseHeaders(
  raw: readonly string[],
  rewriteLocation: LocationRewriter,
  clientHost: string | undefined,
  status: number,
): string[] {
  const drop = status < 200 || status === 204 ? RESPONSE_DROPPED_WITHOUT_CONTENT : RESPONSE_DROPPED;
  return withoutHopByHop(raw, drop, (lower, value) =>
    RESOURCE_REFERENCES.has(lower)
      ? rewriteLocation(value, clientHost)
      : lower === 'refresh'
        ? rewriteRefresh(value, (url) => rewriteLocation(url, clientHost))
        : value,
  );
}

/** Whether a flat name/value list carries `Content-Length`. */
export function hasLength(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    // Stryker disable next-line ConditionalExpression: the length test only spares lower-casing other names
    if (headers[i].length === 14 && headers[i].toLowerCase() === 'content-length') return true;
  }
  return false;
}

/** What HTTP allows in a reason phrase (RFC 9112 §4): tab, space, visible ASCII, obs-text. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Node's client parser accepts control bytes in a reason phrase that its server side
 * refuses to write; such a status line makes the whole answer invalid (→ 502).
 */
function isValidReason(reason: string | undefined): boolean {
  // Stryker disable next-line ConditionalExpression: RegExp#test reads undefined as "undefined", a valid phrase too
  return reason === undefined || REASON_PHRASE.test(reason);
}

/**
 * Why the status line of an answer cannot be passed on (→ 502), or undefined when it can:
 * a status outside HTTP's 100–599 (RFC 9110 §15), which no client could read, or a control
 * byte in the reason phrase.
 */
export function statusLineProblem(status: number, reason: string | undefined): string | undefined {
  if (status < 100 || status > 599) return `status ${status}`;
  return isValidReason(reason) ? undefined : 'control byte in the reason phrase';
}

/**
 * `statusLineProblem` for what Node's clients hand over as an answer rather than as a switch
 * of protocols: a `101` there came without the `Connection: Upgrade` a switch needs (RFC 9110
 * §7.8), and to a request without `Upgrade` it switches to a protocol the client never
 * offered (§15.2.2). No HTTP answer follows it on its connection.
 */
export function answerStatusProblem(
  status: number,
  reason: string | undefined,
): string | undefined {
  return status === 101 ? '101 without Connection: Upgrade' : statusLineProblem(status, reason);
}

/**
 * Why an answer's transfer coding cannot be passed on (→ 502), or undefined when it can:
 * anything but `chunked` alone (RFC 9112 §6.1). Node's parser undoes only the chunking,
 * or reads to the close, so `gzip, chunked` would reach the client as gzip bytes nothing
 * announces; nginx refuses such an answer too.
 */
export function transferCodingProblem(raw: readonly string[]): string | undefined {
  const codings: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'transfer-encoding') codings.push(raw[i + 1]);
  }
  const coding = codings.join(', ');
  return codings.length === 0 || /^\s*chunked\s*$/i.test(coding)
    ? undefined
    : `transfer coding "${coding}"`;
}

/** What `node:http` hands over as an answer's head. */
export interface AnswerHead {
  readonly statusCode?: number;
  readonly statusMessage?: string;
  readonly rawHeaders: readonly string[];
}

/**
 * Why an answer head `node:http` handed over cannot be passed on (→ 502), or undefined when
 * it can: its status line, then its transfer coding. (The pooled engine asks each apart:
 * interim answers come between them.)
 */
export function answerHeadProblem(head: AnswerHead): string | undefined {
  return (
    answerStatusProblem(head.statusCode ?? 0, head.statusMessage) ??
    transferCodingProblem(head.rawHeaders)
  );
}

/** Header text beyond ASCII: obs-text bytes, as Node's parser hands them over. */
const NON_ASCII = /[^\t\x20-\x7e]/;

/** Whether every value in a flat name/value list is ASCII (names always are). */
export function isAscii(headers: readonly string[]): boolean {
  // Stryker disable next-line EqualityOperator: a flat list has even length, so i (odd) never equals it
  for (let i = 1; i < headers.length; i += 2) if (NON_ASCII.test(headers[i])) return false;
  return true;
}
