/**
 * Admission: the one gate every request passes before anything of it goes upstream, plain
 * requests and WebSocket upgrades alike. Node's parser has already refused what HTTP/1.1
 * forbids outright (conflicting lengths, obs-fold, bare LF, bad chunks); these passes
 * refuse what it lets through and a proxy must not, then settle the request's identity,
 * its target, its body framing and the headers that may leave the proxy.
 *
 * Each pass is a small pure function over the request head, run in order; the first
 * refusal wins. Nothing here allocates on the way through except the outgoing header list.
 */
import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_HEADER, RUN_AS_HEADER } from '../config/request-headers';
import { isAuthority } from './authority';
import type { RequestFraming } from './framing';
import { CHUNKED, NO_BODY, lengthFraming } from './framing';
import { requestDropSet, stripClientHeaders } from './headers';
import type { IdentityRule } from './identity';
import { pickIdentity } from './identity';
import { requestIdFrom } from './request-id';
import { MAX_TARGET_LENGTH, hasDotDotSegment, originForm, targetAuthority } from './target';
import { offersWebSocket } from './upgrade-offer';

/**
 * Most header fields a request may carry (431 beyond). Node keeps only the first ones it is
 * told to and silently drops the rest — a `Content-Length` among them would be lost — so
 * the listener asks it for one more than this and admission refuses when that one is there.
 */
export const MAX_HEADER_FIELDS = 1000;

/** What admission reads: the head of a request as Node parsed it. */
export type RequestHead = Pick<
  IncomingMessage,
  'method' | 'url' | 'httpVersionMajor' | 'httpVersionMinor' | 'headers' | 'rawHeaders'
>;

/** Decided once per listener. */
export interface AdmissionRules {
  readonly identity: IdentityRule;
  /**
   * Lower-case request header names that never leave the proxy (`requestDropSet`): for a
   * request acting as a user that allows `RunAs`, and for one acting as a user that does not.
   */
  readonly dropHeaders: {
    readonly runAsAllowed: ReadonlySet<string>;
    readonly otherwise: ReadonlySet<string>;
  };
  /** The users whose `allowRunAs` lets a client's `RunAs` through. */
  readonly runAsUsers: ReadonlySet<string>;
  /** The access log is on: each request's id is settled here and sent to Vidispine. */
  readonly requestIds: boolean;
}

export type RefusalStatus = 400 | 403 | 405 | 413 | 414 | 417 | 431 | 501 | 505;

/** The methods a data listener forwards, for the `Allow` of its 405s (RFC 9110 §15.5.6). */
export const FORWARDED_METHODS = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';

export interface Refusal {
  readonly ok: false;
  readonly status: RefusalStatus;
  /** One line for the client; never a secret. */
  readonly reason: string;
  /** Set on a 405: its `Allow` header. */
  readonly allow?: string;
  /** Set when the refusal is worth a warning in the log (a client naming an unknown user). */
  readonly event?: 'user_selection_refused';
  /**
   * Set when the request was sound and only cannot be served as asked: its connection may
   * serve the next request, unless a body follows (not read to waste).
   */
  readonly keepsConnection?: true;
}

export interface Admitted {
  readonly ok: true;
  readonly user: string;
  /** Origin-form target, as received (never normalised). */
  readonly path: string;
  /**
   * The authority the client reached (`host[:port]`, RFC 3986 syntax checked): an
   * absolute-form target's, otherwise the `Host` header's. A rewritten `Location` names it;
   * undefined when the client named none (HTTP/1.0 without `Host`, or an empty one).
   */
  readonly authority: string | undefined;
  readonly framing: RequestFraming;
  /** The client's headers that may go upstream, as a flat name/value list, case kept. */
  readonly headers: string[];
  /** Set when `requestIds` is on: the client's usable `X-Request-Id` or a fresh one. */
  readonly requestId: string | undefined;
  /** The client sent `RunAs` and it was removed: the user acted as does not allow it. */
  readonly runAsStripped: boolean;
}

export type Admission = Admitted | Refusal;

/** What the passes settle, filled in as they run. */
interface Draft {
  user: string;
  path: string;
  authority: string | undefined;
  framing: RequestFraming;
}

type Pass = (head: RequestHead, rules: AdmissionRules, draft: Draft) => Refusal | undefined;

function refuse(status: RefusalStatus, reason: string): Refusal {
  return { ok: false, status, reason };
}

/** HTTP/1.0 and HTTP/1.1 only: `HTTP/2.0` or `HTTP/0.9` in a request line is not either. */
const httpVersion: Pass = (head) =>
  head.httpVersionMajor === 1 && head.httpVersionMinor <= 1
    ? undefined
    : refuse(505, `HTTP/${head.httpVersionMajor}.${head.httpVersionMinor} is not supported`);

/**
 * TRACE is answered 405 here, as nginx answers it: the target would echo the request back
 * (RFC 9110 §9.3.8), `Authorization: token …` included, handing the client our token; the
 * RFC forbids sending credentials in one for that reason.
 */
const notTrace: Pass = (head) =>
  head.method === 'TRACE'
    ? {
        ok: false,
        status: 405,
        reason: 'TRACE is not forwarded: its answer would echo the token',
        allow: FORWARDED_METHODS,
      }
    : undefined;

const headerCount: Pass = (head) =>
  head.rawHeaders.length <= 2 * MAX_HEADER_FIELDS
    ? undefined
    : refuse(431, `more than ${MAX_HEADER_FIELDS} header fields`);

/**
 * RFC 9112 §3.2: a request with more than one `Host`, or an HTTP/1.1 request with none (an
 * absolute-form target does not excuse it, as in nginx), gets 400. The listener leaves the
 * missing one to this pass rather than to Node, whose 400 said no reason and reached no
 * metric or log, and which let a WebSocket upgrade through.
 */
const singleHost: Pass = (head) => {
  const raw = head.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    // Stryker disable next-line ConditionalExpression: the length test only spares lower-casing other names
    if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') hosts += 1;
  }
  if (hosts > 1) return refuse(400, 'more than one Host header');
  return hosts === 0 && head.httpVersionMinor === 1
    ? refuse(400, 'no Host header in an HTTP/1.1 request')
    : undefined;
};

/**
 * RFC 9112 §3.2: a `Host` that is not `uri-host [":" port]` gets 400, as in nginx ("client
 * sent invalid host header"): it would otherwise be written into a rewritten `Location`.
 * Checked even when an absolute-form target makes it irrelevant, as nginx does.
 */
const validHost: Pass = (head, _rules, draft) => {
  const host = head.headers.host;
  // Stryker disable next-line ConditionalExpression: RegExp#test reads undefined as "undefined", a valid name, and leaves no authority either way
  if (host === undefined) return undefined;
  if (!isAuthority(host)) return refuse(400, 'invalid Host header');
  draft.authority = host === '' ? undefined : host;
  return undefined;
};

/**
 * The body's framing, as Node's parser read it. Node accepts any transfer coding list that
 * ends in `chunked` and removes only the chunking, so `gzip, chunked` would reach Vidispine
 * as plain chunked data: refused as not implemented (501), as nginx does. An HTTP/1.0
 * request cannot use chunked framing (RFC 9112 §6.1).
 */
const framing: Pass = (head, _rules, draft) => {
  const coding = head.headers['transfer-encoding'];
  if (coding !== undefined) {
    if (head.httpVersionMinor === 0) return refuse(400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (coding.trim().toLowerCase() !== 'chunked') {
      return refuse(501, `transfer coding "${coding}" is not implemented; send chunked only`);
    }
    draft.framing = CHUNKED;
    return undefined;
  }
  const length = head.headers['content-length'];
  if (length === undefined) {
    draft.framing = NO_BODY;
    return undefined;
  }
  // Node's parser has checked it is one run of digits, of any value up to 2^64 − 1. Beyond
  // 2^53 − 1 a number rounds it: the length sent on would differ from the client's, and
  // Vidispine would read the body's end elsewhere (RFC 9110 §8.6).
  const bytes = Number(length);
  if (!Number.isSafeInteger(bytes)) {
    return refuse(413, `a Content-Length above ${Number.MAX_SAFE_INTEGER} bytes is not forwarded`);
  }
  draft.framing = lengthFraming(bytes);
  return undefined;
};

const target: Pass = (head, _rules, draft) => {
  // Stryker disable next-line StringLiteral: a server's request always has a url; any fallback is refused alike
  const url = head.url ?? '';
  if (url.length > MAX_TARGET_LENGTH) {
    return refuse(414, `request target longer than ${MAX_TARGET_LENGTH} bytes`);
  }
  const path = originForm(url);
  if (path === undefined) return refuse(400, 'request target must be a path or an absolute URL');
  if (hasDotDotSegment(path))
    return refuse(400, 'a ".." segment in the request path is not forwarded');
  draft.path = path;
  // RFC 9112 §3.2.2: an absolute-form target's authority stands in for the `Host` header.
  // An empty one names no host an http URI may have (RFC 9110 §4.2.1); userinfo is refused
  // too (RFC 9110 §4.2.4).
  const authority = targetAuthority(url);
  if (authority === undefined) return undefined;
  if (authority === '' || !isAuthority(authority)) {
    return refuse(400, 'invalid authority in the request target');
  }
  draft.authority = authority;
  return undefined;
};

const identity: Pass = (head, rules, draft) => {
  const picked = pickIdentity(rules.identity, head.rawHeaders);
  if (!picked.ok) {
    return {
      ok: false,
      status: 403,
      reason: picked.reason,
      event: 'user_selection_refused',
      keepsConnection: true,
    };
  }
  draft.user = picked.user;
  return undefined;
};

/** Node's own test for `100-continue` among an `Expect`'s values. */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * `Expect` is a list whose empty elements are no elements (RFC 9110 §5.6.1): `Expect:` and
 * `Expect: ,` ask for nothing (Python's requests sends the first for `{'Expect': ''}`).
 */
const expectsNothing = (expect: string): boolean => /^[\t ,]*$/.test(expect);

/**
 * RFC 9110 §10.1.1: an expectation the proxy cannot meet gets 417. Node answered it on its
 * own (for HTTP/1.1 only, by the same test), so the request showed in no metric or log; it
 * now hands such requests over (`checkExpectation`) and they are refused here — except an
 * `Expect` that names none, which Node hands over too and is forwarded as if absent (the
 * field is removed on the way, like every `Expect`), as nginx and Envoy forward it. An
 * upgrade's expectations Node never looks at, and neither does this.
 */
const expectation: Pass = (head) => {
  const expect = head.headers.expect;
  if (
    expect === undefined ||
    head.httpVersionMinor !== 1 ||
    CONTINUE.test(expect) ||
    expectsNothing(expect)
  ) {
    return undefined;
  }
  return {
    ok: false,
    status: 417,
    reason: `the expectation "${expect}" cannot be met; only 100-continue is`,
    keepsConnection: true,
  };
};

/** An RFC 6455 opening handshake: a GET without a body asking for `websocket`. */
const webSocketHandshake: Pass = (head, _rules, draft) => {
  if (!offersWebSocket(head.headers)) {
    return refuse(400, 'only WebSocket upgrades can be forwarded');
  }
  if (head.method !== 'GET' || draft.framing !== NO_BODY) {
    return refuse(400, 'a WebSocket upgrade must be a GET without a body');
  }
  return undefined;
};

const COMMON_PASSES: readonly Pass[] = [
  httpVersion,
  notTrace,
  headerCount,
  singleHost,
  validHost,
  framing,
  target,
  identity,
];
const REQUEST_PASSES: readonly Pass[] = [...COMMON_PASSES, expectation];
const UPGRADE_PASSES: readonly Pass[] = [...COMMON_PASSES, webSocketHandshake];

/**
 * A listener's rules: who it acts as, what never leaves it, whether requests carry ids.
 * `RunAs` follows the user a request acts as (`users[].allowRunAs`), not the listener's.
 */
export function admissionRules(
  identity: IdentityRule,
  users: readonly { readonly name: string; readonly allowRunAs: boolean }[],
  requestIds: boolean,
): AdmissionRules {
  const drop = (allowRunAs: boolean) => {
    const names = new Set(requestDropSet({ allowRunAs, selectUserHeader: identity.selectHeader }));
    // The id admission settles replaces the client's, never sits beside it.
    if (requestIds) names.add(REQUEST_ID_HEADER);
    return names;
  };
  return {
    identity,
    dropHeaders: { runAsAllowed: drop(true), otherwise: drop(false) },
    runAsUsers: new Set(users.filter((u) => u.allowRunAs).map((u) => u.name)),
    requestIds,
  };
}

/**
 * Runs the passes for a plain request or an upgrade, then the header policy: the client's
 * headers minus credentials and hop-by-hop fields, plus the request id when it is on.
 */
export function admit(head: RequestHead, rules: AdmissionRules, upgrade: boolean): Admission {
  // Stryker disable ObjectLiteral,StringLiteral: every pass that admits sets its field
  const draft: Draft = {
    user: rules.identity.defaultUser,
    path: '',
    authority: undefined,
    framing: NO_BODY,
  };
  // Stryker restore ObjectLiteral,StringLiteral
  for (const pass of upgrade ? UPGRADE_PASSES : REQUEST_PASSES) {
    const refusal = pass(head, rules, draft);
    if (refusal !== undefined) return refusal;
  }
  const runAsAllowed = rules.runAsUsers.has(draft.user);
  const drop = runAsAllowed ? rules.dropHeaders.runAsAllowed : rules.dropHeaders.otherwise;
  const headers = stripClientHeaders(head.rawHeaders, drop);
  let requestId: string | undefined;
  if (rules.requestIds) {
    // The client's own id goes on only when usable; an unusable one is replaced, not doubled.
    requestId = requestIdFrom(head.headers[REQUEST_ID_HEADER]).id;
    headers.push('X-Request-Id', requestId);
  }
  const runAsStripped = !runAsAllowed && head.headers[RUN_AS_HEADER] !== undefined;
  return { ok: true, ...draft, headers, requestId, runAsStripped };
}
