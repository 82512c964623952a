/**
 * The forwarder: one exchange per client request, run as the ordered steps
 * pick identity → strip client credentials → attach token → forward → on 401 replay →
 * rewrite response headers. The policy of each step lives in its own pure module; this
 * file only moves bytes and reacts to events.
 *
 * Requests go upstream through `node:http` directly rather than through http-proxy-3:
 * hiding a 401 needs to hold the body back until Vidispine sent `100 Continue` and to
 * send the same request again, and the path must reach Vidispine unnormalised — the
 * library pipes the body at once and re-parses the path (see `listener.ts` for where it
 * still carries the WebSocket upgrades).
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { TokenLease, TokenStore } from '../tokens/types';
import {
  UpstreamTimeoutError,
  classifyUpstreamError,
  describeUpstreamError,
  statusForUpstreamError,
} from './errors';
import { ignoreError, noTokenAnswer, sendPlain } from './answers';
import { attachToken, clientResponseHeaders, stripClientHeaders } from './headers';
import type { IdentityRule } from './identity';
import { pickIdentity } from './identity';
import type { LocationRewriter } from './location';
import type { AccessLogger, ForwardObserver } from './observer';
import type { BodyPlan } from './replay';
import { canReplay, planBody } from './replay';
import { requestIdFrom } from './request-id';
import { isIdempotent } from './retry';
import { MAX_TARGET_LENGTH, originForm } from './target';
import type { Upstream } from './upstream';

export interface ForwarderOptions {
  readonly identity: IdentityRule;
  /** Request header names (lower case) that never leave the proxy on this listener. */
  readonly dropHeaders: ReadonlySet<string>;
  readonly upstream: Upstream;
  readonly rewriteLocation: LocationRewriter;
  readonly replayBufferBytes: number;
  readonly expectContinueTimeoutMs: number;
  readonly store: TokenStore;
  readonly observer: ForwardObserver;
  readonly logger: Logger;
  /** Set only when `proxy.accessLog` is on: the data path pays for nothing otherwise. */
  readonly accessLog?: AccessLogger;
}

/** `nginx` calls a request whose client went away before the answer 499; so do we. */
const CLIENT_CLOSED = 499;

function sendNoToken(res: ServerResponse, user: string, err: unknown): void {
  const answer = noTokenAnswer(user, err);
  sendPlain(res, 503, answer.message, { 'Retry-After': answer.retryAfter });
}

/** Read a body of known, small length whole; rejects when the client goes away first. */
function readWhole(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = Buffer.allocUnsafe(length);
    let filled = 0;
    req.on('data', (chunk: Buffer) => {
      filled += chunk.copy(body, filled);
    });
    req.once('end', () => resolve(filled === length ? body : body.subarray(0, filled)));
    req.once('close', () => {
      if (!req.complete) reject(new Error('client closed before sending the whole body'));
    });
  });
}

/** How far the client's body has gone upstream, for `expect` bodies. */
type BodyState = 'held' | 'streaming' | 'abandoned';

class Exchange {
  private lease: TokenLease | undefined;
  private upstreamReq: ClientRequest | undefined;
  private sentAt = 0;
  private attempt = 0;
  private resetRetried = false;
  private bodyState: BodyState = 'held';
  private body: Buffer | undefined;
  private continueTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private tokenWait: AbortController | undefined;
  private clientGone = false;

  constructor(
    private readonly f: ForwarderOptions,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly clientExpectsContinue: boolean,
    private readonly user: string,
    private readonly path: string,
    private readonly stripped: string[],
    private readonly plan: BodyPlan,
  ) {}

  /** Replayed after a 401: the client got the answer to the second attempt. */
  get replayed(): boolean {
    return this.attempt > 0;
  }

  /** Hot path: a held token and no body to read means no promise at all. */
  start(): void {
    const lease = this.f.store.current(this.user);
    if (lease !== undefined && this.plan !== 'buffer') {
      this.lease = lease;
      this.send();
      return;
    }
    void this.startSlowly(lease);
  }

  private async startSlowly(held: TokenLease | undefined): Promise<void> {
    if (this.plan === 'buffer') {
      if (this.clientExpectsContinue) this.res.writeContinue();
      try {
        this.body = await readWhole(this.req, Number(this.req.headers['content-length']));
      } catch {
        return;
      }
    }
    const lease = held ?? (await this.freshLease());
    if (lease === undefined || this.clientGone) return;
    this.lease = lease;
    this.send();
  }

  /** A token from the store, minting (coalesced there) if need be; 503 when none can be had. */
  private async freshLease(): Promise<TokenLease | undefined> {
    this.tokenWait = new AbortController();
    try {
      return await this.f.store.get(this.user, this.tokenWait.signal);
    } catch (err) {
      if (!this.clientGone) sendNoToken(this.res, this.user, err);
      return undefined;
    } finally {
      this.tokenWait = undefined;
    }
  }

  /** Step "forward": one upstream request with the current lease. */
  private send(): void {
    const { upstream } = this.f;
    const headers = attachToken(this.stripped, upstream.hostHeader, this.token(), {
      chunked: this.plan === 'expect' && this.req.headers['content-length'] === undefined,
      expectContinue: this.plan === 'expect',
    });
    let upstreamReq: ClientRequest;
    try {
      upstreamReq = upstream.request({
        agent: upstream.agent,
        hostname: upstream.hostname,
        port: upstream.port,
        method: this.req.method,
        path: upstream.pathPrefix + this.path,
        headers,
        timeout: upstream.responseTimeoutMs,
      });
    } catch (err) {
      // Node rejects a request target or header it cannot put on the wire.
      sendPlain(this.res, 400, `request cannot be forwarded: ${(err as Error).message}`);
      return;
    }
    this.upstreamReq = upstreamReq;
    this.sentAt = Date.now();
    upstreamReq.on('response', (upstreamRes) => this.onResponse(upstreamReq, upstreamRes));
    upstreamReq.on('error', (err) => this.onUpstreamError(upstreamReq, err));
    upstreamReq.on('timeout', () => upstreamReq.destroy(new UpstreamTimeoutError('response')));
    upstreamReq.once('socket', (socket) => this.watchConnect(upstreamReq, socket));
    switch (this.plan) {
      case 'none':
        upstreamReq.end();
        break;
      case 'buffer':
        upstreamReq.end(this.body);
        break;
      case 'expect':
        upstreamReq.once('continue', () => this.streamBody(upstreamReq));
        this.continueTimer = setTimeout(
          () => this.streamBody(upstreamReq),
          this.f.expectContinueTimeoutMs,
        );
        break;
    }
  }

  private token(): string {
    return (this.lease as TokenLease).value;
  }

  private watchConnect(upstreamReq: ClientRequest, socket: Socket): void {
    if (!socket.connecting) return;
    this.connectTimer = setTimeout(
      () => upstreamReq.destroy(new UpstreamTimeoutError('connect')),
      this.f.upstream.connectTimeoutMs,
    );
    socket.once('connect', () => this.clearConnectTimer());
  }

  /** Vidispine said `100 Continue` (or kept quiet long enough): the body may flow now. */
  private streamBody(upstreamReq: ClientRequest): void {
    if (upstreamReq !== this.upstreamReq || this.bodyState !== 'held') return;
    this.clearContinueTimer();
    this.bodyState = 'streaming';
    if (this.clientExpectsContinue) this.res.writeContinue();
    this.req.pipe(upstreamReq);
  }

  private onResponse(upstreamReq: ClientRequest, upstreamRes: IncomingMessage): void {
    if (upstreamReq !== this.upstreamReq) {
      upstreamRes.resume();
      return;
    }
    this.clearConnectTimer();
    this.clearContinueTimer();
    const status = upstreamRes.statusCode ?? 502;
    const { store, observer } = this.f;
    const token = this.token();
    store.observe(this.user, token, this.sentAt, status);
    if (status === 401) {
      const replay =
        !this.clientGone && canReplay(this.plan, this.attempt, this.bodyState === 'streaming');
      observer.upstreamUnauthorized(this.user, replay);
      store.invalidate(this.user, token);
      if (replay) {
        upstreamRes.resume();
        this.retire(upstreamReq);
        void this.replay(token);
        return;
      }
    }
    this.body = undefined;
    this.respond(upstreamReq, upstreamRes, status);
  }

  /** Step "on 401 replay": same request, fresh token, once. */
  private async replay(rejected: string): Promise<void> {
    this.attempt += 1;
    this.lease = undefined;
    const lease = await this.freshLease();
    if (lease === undefined || this.clientGone) return;
    if (lease.value === rejected) {
      sendNoToken(this.res, this.user, undefined);
      return;
    }
    this.lease = lease;
    this.send();
  }

  /** Step "rewrite response headers", then stream the body back. */
  private respond(upstreamReq: ClientRequest, upstreamRes: IncomingMessage, status: number): void {
    const { res } = this;
    if (this.clientGone) {
      upstreamReq.destroy();
      return;
    }
    const bodyNeverSent = this.bodyState === 'held' && this.plan === 'expect';
    const headers = clientResponseHeaders(
      upstreamRes.rawHeaders,
      this.f.rewriteLocation,
      this.req.headers.host,
    );
    if (bodyNeverSent) {
      this.bodyState = 'abandoned';
      // Vidispine answered without the body: close rather than read a large upload to waste.
      headers.push('Connection', 'close');
    }
    try {
      res.writeHead(status, upstreamRes.statusMessage, headers);
    } catch (err) {
      upstreamReq.destroy();
      this.f.observer.upstreamError('other');
      sendPlain(
        res,
        502,
        `Vidispine sent a response that cannot be passed on: ${(err as Error).message}`,
      );
      return;
    }
    // From here a quiet upstream socket may just mean a slow client holding back the body.
    upstreamReq.setTimeout(0);
    upstreamRes.on('close', () => {
      if (!upstreamRes.complete) res.destroy();
      // The upstream request still owes its body; its connection cannot be reused.
      else if (bodyNeverSent) upstreamReq.destroy();
    });
    upstreamRes.pipe(res);
  }

  private onUpstreamError(upstreamReq: ClientRequest, err: Error): void {
    if (upstreamReq !== this.upstreamReq || this.clientGone) return;
    this.clearConnectTimer();
    this.clearContinueTimer();
    this.upstreamReq = undefined;
    const reason = classifyUpstreamError(err);
    // A pooled connection Vidispine had already closed: the request most likely never
    // arrived, but only a method that may run twice is sent again.
    if (
      reason === 'reset' &&
      upstreamReq.reusedSocket &&
      isIdempotent(this.req.method) &&
      !this.resetRetried &&
      !this.res.headersSent &&
      this.bodyState !== 'streaming'
    ) {
      this.resetRetried = true;
      this.send();
      return;
    }
    this.f.observer.upstreamError(reason);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.f.logger.warn(
      { user: this.user, reason, code: (err as NodeJS.ErrnoException).code },
      'upstream request failed',
    );
    sendPlain(this.res, statusForUpstreamError(reason), describeUpstreamError(reason));
  }

  /** Stop listening to a request that will not produce the client's answer. */
  private retire(upstreamReq: ClientRequest): void {
    this.upstreamReq = undefined;
    if (this.plan === 'expect') upstreamReq.destroy();
  }

  /** The client's response closed; unless it finished, the client went away. */
  clientClosed(): void {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.body = undefined;
    this.clearConnectTimer();
    this.clearContinueTimer();
    this.tokenWait?.abort();
    const upstreamReq = this.upstreamReq;
    this.upstreamReq = undefined;
    upstreamReq?.destroy();
  }

  private clearContinueTimer(): void {
    if (this.continueTimer !== undefined) {
      clearTimeout(this.continueTimer);
      this.continueTimer = undefined;
    }
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
  }
}

/** Serves one data listener's requests; counts what is in flight for draining. */
export class Forwarder {
  private inFlightCount = 0;
  private runAsStrippedBefore = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly f: ForwarderOptions) {}

  inFlight(): number {
    return this.inFlightCount;
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.inFlightCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res, false);
  };

  /** Node's `checkContinue`: the client waits for our `100` before it sends the body. */
  readonly handleExpectingContinue = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res, true);
  };

  private serve(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const started = performance.now();
    this.inFlightCount += 1;
    this.f.observer.requestStarted();
    req.on('error', ignoreError);
    const target = req.url ?? '';
    if (target.length > MAX_TARGET_LENGTH) {
      this.track(res, this.f.identity.defaultUser, req.method, started, undefined);
      sendPlain(res, 414, `request target longer than ${MAX_TARGET_LENGTH} bytes`);
      return;
    }
    const identity = pickIdentity(this.f.identity, req.headers);
    if (!identity.ok) {
      this.f.logger.warn({ event: 'user_selection_refused' }, identity.reason);
      this.track(res, this.f.identity.defaultUser, req.method, started, undefined);
      sendPlain(res, 403, identity.reason);
      return;
    }
    const path = originForm(target);
    if (path === undefined) {
      this.track(res, identity.user, req.method, started, undefined);
      sendPlain(res, 400, 'request target must be a path or an absolute URL');
      return;
    }
    const headers = req.headers;
    const plan = planBody(
      headers['content-length'],
      headers['transfer-encoding'],
      this.f.replayBufferBytes,
    );
    if (headers.runas !== undefined) this.noteStrippedRunAs();
    const stripped = stripClientHeaders(req.rawHeaders, this.f.dropHeaders);
    let requestId: string | undefined;
    if (this.f.accessLog !== undefined) {
      const { id, generated } = requestIdFrom(headers['x-request-id']);
      requestId = id;
      // Vidispine's logs then carry the same id as ours.
      if (generated) stripped.push('X-Request-Id', id);
    }
    const exchange = new Exchange(
      this.f,
      req,
      res,
      expectsContinue,
      identity.user,
      path,
      stripped,
      plan,
    );
    this.track(res, identity.user, req.method, started, exchange, requestId);
    exchange.start();
  }

  /** Said at warn once per listener, then at debug: a legacy app may send RunAs every time. */
  private noteStrippedRunAs(): void {
    if (!this.f.dropHeaders.has('runas')) return;
    const level = this.runAsStrippedBefore ? 'debug' : 'warn';
    this.runAsStrippedBefore = true;
    this.f.logger[level](
      { event: 'runas_stripped' },
      'RunAs header removed: this listener does not allow it (allowRunAs is false)',
    );
  }

  /** One `close` listener per request: abort what is left upstream, then account. */
  private track(
    res: ServerResponse,
    user: string,
    method: string | undefined,
    started: number,
    exchange: Exchange | undefined,
    requestId?: string,
  ): void {
    res.once('close', () => {
      exchange?.clientClosed();
      const status = res.headersSent ? res.statusCode : CLIENT_CLOSED;
      const durationSeconds = (performance.now() - started) / 1000;
      this.f.observer.requestFinished(user, method ?? 'GET', status, durationSeconds);
      this.f.accessLog?.({
        requestId: requestId ?? requestIdFrom(res.req.headers['x-request-id']).id,
        user,
        method: method ?? 'GET',
        path: res.req.url ?? '',
        status,
        durationSeconds,
        remoteAddress: res.req.socket.remoteAddress,
        replayed: exchange?.replayed ?? false,
      });
      this.finished();
    });
  }

  private finished(): void {
    this.inFlightCount -= 1;
    if (this.inFlightCount === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
