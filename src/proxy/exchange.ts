/**
 * One exchange per client request, run as the ordered steps admit (target, identity,
 * framing, header policy; done by the forwarder) → attach token → forward → on 401 replay →
 * rewrite response headers. The policy of each step lives in its own pure module; the
 * engines (`pooled-engine`, `streamed-engine`) move an attempt's bytes, `Reply` writes the
 * answer back. This file holds what lasts across attempts: the request's turn and token
 * lease, the client's body, the replay after a 401, and upstream errors as the client sees
 * them.
 *
 * Requests go upstream through HTTP clients directly rather than through a proxy library:
 * hiding a 401 needs to hold the body back until Vidispine sent `100 Continue` and to
 * send the same request again, the path must reach Vidispine unnormalised, and the body's
 * framing must come from admission alone. Requests without a body go through undici's
 * pool (`PooledCall`), which costs about half the CPU of `node:http`'s client; those with
 * one through `node:http`, which can hold a body back until `100 Continue`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Rejection, TokenLease } from '../tokens/types';
import { messageOf } from '../error-message';
import {
  classifyUpstreamError,
  describeFailure,
  isUnsendableRequest,
  statusForUpstreamError,
  upstreamErrorDetail,
} from './errors';
import type { Admitted } from './admission';
import {
  SHUTDOWN_RETRY_AFTER,
  SHUTTING_DOWN,
  noTokenAnswer,
  noTokenMessage,
  sendPlain,
} from './answers';
import type { Attempt, AttemptOwner, BodyState } from './attempt';
import { forwardedRequestOf } from './observer';
import { readWhole, watchBodyIdle } from './body';
import type { ForwarderOptions } from './forwarder-options';
import type { RequestFraming } from './framing';
import { NO_BODY, lengthFraming } from './framing';
import { attachToken, isAscii } from './headers';
import type { BodyPlan } from './replay';
import { canReplay, planBody } from './replay';
import type { Turn } from './pipeline';
import { isSafe } from './pipeline';
import { sendPooled } from './pooled-engine';
import { Reply } from './reply';
import { sendStreamed } from './streamed-engine';
import { clientHeadersWithoutToken } from './unauthorized';
import { replayed, verdictOn401 } from './verdict';
import { retriesOnFreshConnection } from './retry';
import { authenticates } from '../vidispine/acceptance';

/** Said to a client whose request the shutdown cut while its body was still coming. */
const SHUTTING_DOWN_UNSENT = `${SHUTTING_DOWN}: the request was not sent whole to Vidispine`;

/** The shutdown's 503 to a request Vidispine never had: retry it soon, on a new connection. */
const RETRY_ELSEWHERE = { 'Retry-After': SHUTDOWN_RETRY_AFTER, Connection: 'close' } as const;

/**
 * One admitted request, step by step:
 * 1. `arrived`: a body to hold starts being read, before the request's turn comes;
 * 2. `start`, its turn: the token lease (`startSlowly` when a body or a token is still to come);
 * 3. `send`: attach token, then forward through an engine (`sendPooled`, `sendStreamed`);
 * 4. the engine's answer: a 401 goes to `verdictOn401`, and to `replay` or on to the client;
 *    any other passes through `clientHeaders` and the `Reply`;
 * 5. `onUpstreamError`: once more on a fresh connection, or the client gets 502, 503 or 504;
 * 6. `over`: the client's response closed, answered or not.
 *
 * Engines see it as an `AttemptOwner`, and only that: they never import this module.
 */
export class Exchange extends Reply implements Turn, AttemptOwner {
  upstreamReq: Attempt | undefined;
  /** The latest attempt's token and when it went: what its answer tells the store about. */
  sentToken = '';
  private sentAt = 0;
  private attempt = 0;
  /** A hop refused the `Expect` the proxy added (417): attempts from now on go without. */
  expectRefused = false;
  /** A pooled connection failed: every attempt from now on goes on a new connection. */
  freshConnection = false;
  bodyState: BodyState = 'held';
  /** The buffered body, as received, and the budget it holds. */
  body: Buffer[] | undefined;
  /** The body being read since the request's arrival (`arrived`). */
  private reading: Promise<Buffer[] | undefined> | undefined;
  private bodyLength = 0;
  private reserved = 0;
  continueTimer: NodeJS.Timeout | undefined;
  private tokenWait: AbortController | undefined;
  clientGone = false;
  /** Its connection closes before its turn (`abandon`): it is never answered. */
  abandoned = false;
  /** The `node:http` answer being passed on. */
  answer: IncomingMessage | undefined;

  readonly user: string;
  plan: BodyPlan;
  readonly safe: boolean;
  /** Whether Vidispine looks at the token on this path, so its answers tell about it. */
  private readonly authenticated: boolean;
  /** The attempt under way has not told the token model how it ended. */
  private unreported = false;

  constructor(
    readonly f: ForwarderOptions,
    readonly req: IncomingMessage,
    res: ServerResponse,
    readonly clientExpectsContinue: boolean,
    readonly admitted: Admitted,
  ) {
    super(res, f.sendTimeoutMs);
    this.user = admitted.user;
    this.plan = planBody(admitted.framing, f.replayBufferBytes);
    this.safe = isSafe(req.method);
    this.authenticated = authenticates(admitted.path);
  }

  /** Replayed after a 401: the client got the answer to the second attempt. */
  get replayed(): boolean {
    return this.attempt > 0;
  }

  /**
   * The request was read; its turn may come later. A body to hold is read from now on:
   * left unread behind an answer still owed, it would fill the socket's buffers, Node would
   * stop reading the connection, and a client that went away meanwhile would go unnoticed
   * until that answer came. A client waiting for `100 Continue` sends nothing before its turn.
   */
  arrived(): void {
    const { framing } = this.admitted;
    if (this.plan !== 'buffer' || framing.kind !== 'length') return;
    // Beyond the process-wide budget a small body streams like a large one.
    if (this.f.bodyBudget.tryReserve(framing.length)) this.reserved = framing.length;
    else this.plan = 'expect';
    if (this.plan === 'buffer' && !this.clientExpectsContinue) this.reading = this.readBody();
  }

  /** The whole body, or undefined when the client went away (or timed out) first. */
  private readBody(): Promise<Buffer[] | undefined> {
    const reading = readWhole(this.req);
    watchBodyIdle(this.req, this.f.clientBodyTimeoutMs, () => this.bodyTimedOut());
    return reading.catch(() => undefined);
  }

  /** Hot path: a held token and no body to read means no promise at all. */
  start(): void {
    // A pipelined request's turn may come only after its connection was lost, or after an
    // earlier answer closed it (Node ends the socket once such an answer is out, before the
    // next turn): never answered, it must not reach Vidispine either (RFC 9112 §9.6), or a
    // client sending it again on a new connection would have it done twice.
    if (this.clientGone || !this.req.socket.writable) return;
    // Node closes the connection of a client that expected `100` and got none, since its
    // body might still come: with no body to come, `100` goes at once, as for one held.
    if (this.plan === 'none' && this.clientExpectsContinue) this.res.writeContinue();
    const lease = this.f.store.current(this.user);
    if (lease !== undefined && this.plan !== 'buffer') {
      this.send(lease.value);
      return;
    }
    void this.startSlowly();
  }

  private async startSlowly(): Promise<void> {
    if (this.plan === 'buffer') {
      if (this.clientExpectsContinue) this.res.writeContinue();
      this.body = await (this.reading ?? this.readBody());
      // The client went away, or the rest came after the 408 had gone out: not forwarded.
      if (this.body === undefined || this.res.headersSent) return;
      this.bodyLength = this.body.reduce((n, chunk) => n + chunk.length, 0);
      this.f.readBuffers.read(this.bodyLength);
    }
    // The token of the moment the body is complete: reading it may outlast the one held before.
    const lease = this.f.store.current(this.user) ?? (await this.freshLease());
    if (lease === undefined || this.clientGone) return;
    this.send(lease.value);
  }

  /** A token from the store, minting (coalesced there) if need be; 503 when none can be had. */
  private async freshLease(): Promise<TokenLease | undefined> {
    this.tokenWait = new AbortController();
    try {
      return await this.f.store.get(this.user, this.tokenWait.signal);
    } catch (err) {
      // Unless the client went away, or the proxy's shutdown answered while it waited.
      if (!this.clientGone && !this.res.headersSent) this.sendNoToken(err);
      return undefined;
    } finally {
      this.tokenWait = undefined;
    }
  }

  /** Step "attach token", then "forward": one upstream request with `token`. */
  send(token: string): void {
    this.sentToken = token;
    // Node writes the head of a request that expects 100 as UTF-8, which would turn a
    // client's obs-text byte into two: such a request streams its body without asking.
    const askContinue =
      this.plan === 'expect' && !this.expectRefused && isAscii(this.admitted.headers);
    const headers = attachToken(
      this.admitted.headers,
      this.f.upstream.hostHeader,
      token,
      this.upstreamFraming(),
      askContinue,
    );
    if (this.plan === 'none') sendPooled(this, headers);
    else sendStreamed(this, headers, askContinue);
  }

  began(attempt: Attempt): void {
    this.upstreamReq = attempt;
    this.sentAt = this.f.store.now();
    this.unreported = true;
    if (this.authenticated) this.f.store.sent(this.user, this.sentToken, this.sentAt);
  }

  /** The answer's headers for the client. */
  clientHeaders(rawHeaders: readonly string[], status: number): string[] {
    // An answer may quote the credential it was sent (a refusal's Reason, a front end's
    // redirect built from it): ours never reaches the client, whatever the status.
    return clientHeadersWithoutToken(
      rawHeaders,
      this.f.rewriteLocation,
      this.admitted.authority,
      status,
      this.sentToken,
    );
  }

  /** Node refused to write Vidispine's answer head: 502 instead. */
  cannotPassOn(upstreamReq: Attempt, err: unknown): void {
    upstreamReq.destroy();
    this.f.observer.upstreamError?.(
      'protocol',
      this.user,
      upstreamErrorDetail(err, this.sentToken),
      forwardedRequestOf(this.req, this.admitted.requestId),
    );
    this.sendOwn(502, `Vidispine sent a response that cannot be passed on: ${messageOf(err)}`);
  }

  /** The body's framing upstream: a buffered body is sent with its own length. */
  private upstreamFraming(): RequestFraming {
    if (this.plan === 'none') return NO_BODY;
    if (this.plan === 'buffer') return lengthFraming(this.bodyLength);
    return this.admitted.framing;
  }

  /**
   * How an attempt ended, other than in a 401, goes to the token model where Vidispine looked
   * at the token: an answer's status, or `undefined` for none. An attempt that got no answer
   * may have reached Vidispine and pushed an autoRefresh expiry, which holds back its next push.
   */
  tellStore(status: number | undefined): void {
    this.unreported = false;
    if (this.authenticated) this.f.store.answered(this.user, this.sentToken, this.sentAt, status);
  }

  /** The attempt under way ends without an answer (failed, or its client left). */
  private tellStoreNoAnswer(): void {
    if (this.unreported) this.tellStore(undefined);
  }

  /** Step "on 401" (`verdictOn401`) for this exchange's attempt, whichever engine made it. */
  verdictOn401(
    attempt: Attempt,
    answer: { readonly rawHeaders: readonly string[] },
  ): Promise<Rejection | undefined> {
    this.unreported = false;
    return verdictOn401({
      store: this.f.store,
      observer: this.f.observer,
      user: this.user,
      token: this.sentToken,
      sentAt: this.sentAt,
      rawHeaders: answer.rawHeaders,
      replayable: canReplay(
        this.plan,
        this.attempt,
        this.bodyState === 'streaming',
        this.f.store.current(this.user)?.value !== this.sentToken,
      ),
      current: () => !this.clientGone && attempt === this.upstreamReq,
    });
  }

  /** Step "on 401 replay": same request, fresh token (see `canReplay` for how often). */
  async replay(rejected: string): Promise<void> {
    const lease = await this.freshLease();
    const fresh = lease !== undefined && lease.value !== rejected && !this.clientGone;
    replayed(this.f.observer, this.user, fresh);
    if (lease === undefined || this.clientGone) return;
    if (!fresh) {
      this.sendNoToken(undefined);
      return;
    }
    this.attempt += 1;
    this.send(lease.value);
  }

  onUpstreamError(upstreamReq: Attempt, err: Error, reused: boolean): void {
    if (upstreamReq !== this.upstreamReq || this.clientGone) return;
    // Bytes after a whole answer (more than its `Content-Length`, a body a 304 cannot have):
    // Node closed their connection, the answer stands and still flows to the client, as
    // undici's would. Node fails the request on them only where they are no HTTP.
    if (this.answer?.complete === true) {
      if (classifyUpstreamError(err) === 'protocol') this.bytesAfterAnswer(err);
      return;
    }
    this.clearContinueTimer();
    this.upstreamReq = undefined;
    // undici checks the request before it goes out, as `node:http` does when it is made.
    if (isUnsendableRequest(err)) {
      // Never sent, so it pushed nothing; told as an attempt without an answer all the same,
      // which ends it in the token model.
      this.tellStoreNoAnswer();
      this.sendOwn(400, `request cannot be forwarded: ${err.message}`);
      return;
    }
    this.tellStoreNoAnswer();
    const reason = classifyUpstreamError(err);
    // A pooled connection Vidispine had already closed: the request most likely never
    // arrived. Only what the client has not seen, and a body we still hold, can go again.
    if (
      retriesOnFreshConnection(this.req.method, reason, reused) &&
      !this.res.headersSent &&
      this.bodyState !== 'streaming'
    ) {
      this.freshConnection = true;
      this.send(this.sentToken);
      return;
    }
    this.f.observer.upstreamError?.(
      reason,
      this.user,
      upstreamErrorDetail(err, this.sentToken),
      forwardedRequestOf(this.req, this.admitted.requestId),
    );
    if (this.res.headersSent) {
      this.cutWritten();
      return;
    }
    this.sendOwn(statusForUpstreamError(reason), describeFailure(err, reason));
  }

  bytesAfterAnswer(err: Error): void {
    this.f.observer.bytesAfterAnswer?.(
      this.user,
      this.req.method ?? 'GET',
      this.req.url ?? '',
      upstreamErrorDetail(err, this.sentToken),
    );
  }

  /** Stop listening to a request that will not produce the client's answer. */
  retire(upstreamReq: Attempt): void {
    // After a 401 the store has heard already; a hop's 417 is no answer of Vidispine's.
    this.tellStoreNoAnswer();
    this.upstreamReq = undefined;
    if (this.plan === 'expect') upstreamReq.destroy();
  }

  /** The client stopped sending its body: 408, and what went upstream is aborted. */
  bodyTimedOut(): void {
    this.req.unpipe();
    const upstreamReq = this.upstreamReq;
    this.upstreamReq = undefined;
    upstreamReq?.destroy();
    // Its error, if any, goes unheard now (`onUpstreamError`): the attempt ends here.
    this.tellStoreNoAnswer();
    // Answered already, the rest of the body being dropped: no answer is left to cut.
    if (this.res.writableFinished) {
      this.req.socket.destroy();
      return;
    }
    const seconds = this.f.clientBodyTimeoutMs / 1000;
    sendPlain(this.res, 408, `the client sent no body bytes for ${seconds} s`, {
      Connection: 'close',
    });
  }

  /** 503: no token to be had. */
  private sendNoToken(err: unknown): void {
    const answer = noTokenAnswer(this.user, err);
    this.sendOwn(503, answer.message, { 'Retry-After': answer.retryAfter });
  }

  /**
   * The proxy's own answer, in place of Vidispine's. Given before a streamed body went
   * upstream, it closes the connection, as Vidispine's own answer then does (`respond`):
   * kept open, Node would read the whole upload to waste, with no body timeout to end a
   * client that stalls in it.
   */
  sendOwn(status: number, message: string, extra?: Readonly<Record<string, string>>) {
    const bodyUnread = this.plan === 'expect' && this.bodyState === 'held' && !this.req.complete;
    sendPlain(this.res, status, message, bodyUnread ? { ...extra, Connection: 'close' } : extra);
  }

  /** The buffered body will not be sent again: give its memory and budget back. */
  dropBody(): void {
    this.body = undefined;
    this.f.bodyBudget.release(this.reserved);
    this.reserved = 0;
  }

  /**
   * The proxy stops with this answer under way: it is cut as Vidispine failing would cut
   * it, with a reset where only the close of the connection would tell where it ends. A
   * request still waiting for its token, or whose body is still coming, is answered 503
   * instead. Says whether it was the latter: that answer's connection lingers, for its client
   * to read it.
   */
  cut(): boolean {
    if (this.refuseIfUnfinished()) return true;
    if (this.tokenWait !== undefined && !this.res.headersSent) {
      // Nothing went upstream yet: a plain 503 says so, where a reset would leave the client
      // guessing whether the request was done.
      this.tokenWait.abort();
      sendPlain(this.res, 503, noTokenMessage(this.user, SHUTTING_DOWN), RETRY_ELSEWHERE);
      return false;
    }
    if (this.res.headersSent) {
      if (!this.res.writableFinished) this.cutWritten();
      return false;
    }
    // Vidispine had the whole request and has not answered: it may have acted, so only the
    // close of the connection can follow. Let go of first, the abort of what went upstream is
    // the proxy's doing, not a failure of Vidispine's (no 502, no upstream error), and the
    // request counts as closed by the proxy.
    this.f.pipelines.dropping(this.req.socket);
    this.letGo();
    return false;
  }

  /**
   * The proxy stops, and the body is still on its way: Vidispine cannot have done a request
   * it has not had whole, so a 503 tells the client so, where nginx and Envoy only close the
   * connection and leave it to guess whether an upload was applied. What went upstream is
   * aborted. Its connection lingers (`LingeringClose`), so a client still writing reads this
   * rather than a reset. Says whether the request was refused.
   */
  private refuseIfUnfinished(): boolean {
    if (this.res.headersSent || this.req.complete || this.clientGone) return false;
    // Answered, the exchange is not let go (`over`): its wait for Vidispine's 100 ends here.
    this.abortUpstream();
    this.req.unpipe();
    sendPlain(this.res, 503, SHUTTING_DOWN_UNSENT, RETRY_ELSEWHERE);
    // Answered, the request is no longer Node's to close with its connection: closed here,
    // its body's idle timer (`watchBodyIdle`) stops too.
    this.req.socket.once('close', () => this.req.destroy());
    return true;
  }

  /** The client's response closed; unless it finished, the client went away. */
  over(): void {
    this.dropBody();
    if (this.res.writableFinished) return;
    this.letGo();
  }

  protected heldWhileWaiting(): void {
    this.f.pipelines.heldBehind(this.req.socket);
  }

  /**
   * Its connection closes before its turn (`Pipelines.heldBehind`): what it holds upstream
   * goes now, not once its client's connection closes. The connection is closed when its
   * turn comes, once the answers ahead went out: Node hands it the connection and only then
   * writes what it buffered (Node 24 writes it even for a response destroyed before, where
   * Node 20 closes the connection instead).
   */
  abandon(): void {
    this.abandoned = true;
    this.dropBody();
    this.letGo();
    this.res.once('socket', (socket) => socket.destroy());
    this.res.destroy();
  }

  /** The client will not get this answer: whatever is under way for it stops. */
  private letGo(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    this.abortUpstream();
    this.tellStoreNoAnswer();
  }

  /** Stops what went to Vidispine, or waits to go: the token, its 100, the request. */
  private abortUpstream(): void {
    this.clearContinueTimer();
    this.tokenWait?.abort();
    const upstreamReq = this.upstreamReq;
    this.upstreamReq = undefined;
    upstreamReq?.destroy();
  }

  clearContinueTimer(): void {
    if (this.continueTimer !== undefined) {
      clearTimeout(this.continueTimer);
      this.continueTimer = undefined;
    }
  }
}
