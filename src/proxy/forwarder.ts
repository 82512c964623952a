/**
 * The forwarder: one exchange per client request, run as the ordered steps
 * admit (target, identity, framing, header policy) → attach token → forward → on 401
 * replay → rewrite response headers. The policy of each step lives in its own pure module;
 * this file only moves bytes and reacts to events.
 *
 * Requests go upstream through HTTP clients directly rather than through a proxy library:
 * hiding a 401 needs to hold the body back until Vidispine sent `100 Continue` and to
 * send the same request again, the path must reach Vidispine unnormalised, and the body's
 * framing must come from admission alone. Requests without a body go through undici's
 * pool (`PooledCall`), which costs about half the CPU of `node:http`'s client; those with
 * one through `node:http`, which can hold a body back until `100 Continue`.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Rejection, TokenLease, TokenStore } from '../tokens/types';
import { messageOf } from '../error-message';
import {
  UpstreamProtocolError,
  UpstreamResetError,
  UpstreamTimeoutError,
  classifyUpstreamError,
  describeUpstreamError,
  isUnsendableRequest,
  isWholeAnswerWithoutBody,
  statusForUpstreamError,
} from './errors';
import type { Admitted, AdmissionRules, Refusal } from './admission';
import { admit } from './admission';
import { cutAnswer, ignoreError, noTokenAnswer, noTokenMessage, sendPlain } from './answers';
import type { BodyBudget } from './body';
import { readWhole, watchBodyIdle } from './body';
import type { RequestFraming } from './framing';
import { NO_BODY, lengthFraming } from './framing';
import {
  attachToken,
  clientResponseHeaders,
  isAscii,
  answerStatusProblem,
  transferCodingProblem,
} from './headers';
import type { LocationRewriter } from './location';
import { noteStrippedRunAs, type Notice } from './notices';
import { reportAnswered, type AccessLogger, type ForwardObserver } from './observer';
import type { BodyPlan } from './replay';
import { canReplay, planBody } from './replay';
import type { Turn } from './pipeline';
import type { Pipelines } from './pipeline';
import { isSafe } from './pipeline';
import { withoutToken } from './unauthorized';
import { replayed, verdictOn401 } from './verdict';
import { retriesOnFreshConnection } from './retry';
import { SendTimeout, cutStalledAnswer, onAnswerDrained } from './send-timeout';
import type { Upstream } from './upstream';
import { limitConnect, whenSent } from './upstream';
import { InFlight } from './in-flight';
import type { ReadBuffers } from './read-buffers';
import { authenticates } from '../vidispine/acceptance';

export interface ForwarderOptions {
  readonly rules: AdmissionRules;
  /** The listener's per-connection order of requests, shared with upgrades and CONNECT. */
  readonly pipelines: Pipelines;
  readonly upstream: Upstream;
  readonly rewriteLocation: LocationRewriter;
  readonly replayBufferBytes: number;
  /** Shared by every listener: bodies held for replay at once. */
  readonly bodyBudget: BodyBudget;
  /** Shared by every listener: hears every body read, either way. */
  readonly readBuffers: ReadBuffers;
  readonly expectContinueTimeoutMs: number;
  /** A client that sends no body byte for this long gets 408. */
  readonly clientBodyTimeoutMs: number;
  /** A client that takes no byte of its answer for this long has it cut. */
  readonly sendTimeoutMs: number;
  readonly store: TokenStore;
  readonly observer: ForwardObserver;
  readonly logger: Logger;
  /** Shared with the listener's upgrades. */
  readonly notices: Notice;
  /** Set only when `proxy.accessLog` is on: the data path pays for nothing otherwise. */
  readonly accessLog?: AccessLogger;
}

/** What an exchange holds as its answer's head before one was written. */
const NO_HEADERS: readonly string[] = [];

/**
 * Ends a response whose body Vidispine stopped sending for `ms` (nginx's
 * `proxy_read_timeout`). Silence while the body is held back because the client reads
 * slowly (`relay` paused it) does not count.
 */
function watchUpstreamBody(upstreamReq: ClientRequest, upstreamRes: IncomingMessage, ms: number) {
  const timer = setTimeout(() => {
    if (upstreamRes.isPaused()) timer.refresh();
    else upstreamReq.destroy(new UpstreamTimeoutError('read'));
  }, ms);
  upstreamRes.on('data', () => timer.refresh());
  upstreamRes.once('close', () => clearTimeout(timer));
}

/**
 * Whether a body follows the head of `req`, whose framing admission has found valid: Node
 * tells only once the body has been read.
 */
function bodyFollows(req: IncomingMessage): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
  );
}

/** Beyond ASCII: undici decoded a byte above 0x7f. */
const BEYOND_ASCII = /[\u0080-\uffff]/;

/**
 * A reason phrase as `node:http` reads it, one character per byte, from undici's, which it
 * decoded as UTF-8: encoded back, the bytes are those Vidispine sent, and one beyond ASCII
 * (obs-text, RFC 9112 §4) is passed on as it came rather than refused as a control byte.
 * Bytes that were no UTF-8 were lost to U+FFFD: the status's own phrase stands in for them.
 */
function reasonBytes(status: number, decoded: string): string {
  if (!BEYOND_ASCII.test(decoded)) return decoded;
  return decoded.includes('\ufffd')
    ? (STATUS_CODES[status] ?? '')
    : Buffer.from(decoded, 'utf8').toString('latin1');
}

/** One attempt at a request upstream through undici, seen by the exchange like a request. */
interface PooledAnswer {
  readonly status: number;
  readonly statusMessage: string;
  readonly rawHeaders: string[];
  /** Lets a body held back (by a `false` from `onHeaders` or `onData`) flow again. */
  readonly resume: () => void;
}

/**
 * undici's callbacks for one attempt, handed to the exchange. undici times the answer's
 * head and every silence in its body itself (`headersTimeout`, `bodyTimeout`: a body held
 * back for a slow client does not count), on one timer for all its requests.
 */
class PooledCall implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined;
  private done = false;
  /** The whole answer arrived; for a HEAD, undici says so even while its head is held. */
  completed = false;
  private abandonedWith: Error | undefined;
  /** Of the final answer, once its head arrived. */
  private status = 0;

  /**
   * @param mayBeReused Sent through the shared pool, on a connection that may have served
   *   earlier requests: undici does not say whether it did.
   */
  constructor(
    private readonly exchange: Exchange,
    readonly mayBeReused: boolean,
  ) {}

  private complete(): void {
    this.done = true;
    this.completed = true;
    this.exchange.onPooledComplete(this);
  }

  /** Like `ClientRequest#destroy`: the attempt ends, with `err` as its error if given. */
  destroy(err?: Error): void {
    if (this.done) return;
    const reason = err ?? new Error('aborted');
    if (this.abort === undefined) this.abandonedWith = reason;
    else this.abort(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.abandonedWith !== undefined) abort(this.abandonedWith);
  }

  onHeaders(status: number, headers: Buffer[], resume: () => void, decoded: string): boolean {
    const statusMessage = reasonBytes(status, decoded);
    // Checked before interim answers: below 100 is no status at all, not one to wait past
    // (undici would wait for a final answer until the response timeout), and a 101 ends
    // HTTP on its connection, so no final answer follows it.
    const problem = answerStatusProblem(status, statusMessage);
    if (problem !== undefined) {
      this.destroy(new UpstreamProtocolError(problem));
      return false;
    }
    // Interim answers (`102`, `103`) are Vidispine's business, as with `node:http`.
    if (status < 200) return true;
    const rawHeaders = headers.map((field) => field.toString('latin1'));
    const codingProblem = transferCodingProblem(rawHeaders);
    if (codingProblem !== undefined) {
      this.destroy(new UpstreamProtocolError(codingProblem));
      return false;
    }
    this.status = status;
    return this.exchange.onPooledResponse(this, { status, statusMessage, rawHeaders, resume });
  }

  onData(chunk: Buffer): boolean {
    return this.exchange.onPooledData(this, chunk);
  }

  onComplete(): void {
    if (this.exchange.upstreamResetting()) this.onError(new UpstreamResetError());
    else this.complete();
  }

  onError(err: Error): void {
    if (isWholeAnswerWithoutBody(this.status, err)) {
      this.complete();
      return;
    }
    this.done = true;
    this.exchange.onUpstreamError(this, err);
  }
}

/** An attempt at the request upstream, through either client. */
type Attempt = ClientRequest | PooledCall;

/** How far the client's body has gone upstream, for `expect` bodies. */
type BodyState = 'held' | 'streaming' | 'abandoned';

class Exchange implements Turn {
  private upstreamReq: Attempt | undefined;
  /** The latest attempt's token and when it went: what its answer tells the store about. */
  private sentToken = '';
  private sentAt = 0;
  private attempt = 0;
  /** A hop refused the `Expect` the proxy added (417): attempts from now on go without. */
  private expectRefused = false;
  /** A pooled connection failed: every attempt from now on goes on a new connection. */
  private freshConnection = false;
  private bodyState: BodyState = 'held';
  /** The buffered body, as received, and the budget it holds. */
  private body: Buffer[] | undefined;
  /** The body being read since the request's arrival (`arrived`). */
  private reading: Promise<Buffer[] | undefined> | undefined;
  private bodyLength = 0;
  private reserved = 0;
  private continueTimer: NodeJS.Timeout | undefined;
  private tokenWait: AbortController | undefined;
  private clientGone = false;
  /** The `node:http` answer being passed on. */
  private answer: IncomingMessage | undefined;
  /** The head of the answer passed on, as written: how its end is delimited. */
  private answerHeaders: readonly string[] = NO_HEADERS;
  /** Of the answer being passed on. */
  private sendTimeout: SendTimeout | undefined;
  /** Body bytes of the answer passed on so far. */
  private passedOn = 0;

  private readonly user: string;
  private plan: BodyPlan;
  readonly safe: boolean;
  /** Whether Vidispine looks at the token on this path, so its answers tell about it. */
  private readonly authenticated: boolean;
  /** The attempt under way has not told the token model how it ended. */
  private unreported = false;

  constructor(
    private readonly f: ForwarderOptions,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly clientExpectsContinue: boolean,
    private readonly admitted: Admitted,
  ) {
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

  /** Step "forward": one upstream request with `token`. */
  private send(token: string): void {
    const { upstream } = this.f;
    this.sentToken = token;
    // Node writes the head of a request that expects 100 as UTF-8, which would turn a
    // client's obs-text byte into two: such a request streams its body without asking.
    const askContinue =
      this.plan === 'expect' && !this.expectRefused && isAscii(this.admitted.headers);
    const headers = attachToken(
      this.admitted.headers,
      upstream.hostHeader,
      token,
      this.upstreamFraming(),
      askContinue,
    );
    if (this.plan === 'none') {
      this.sendPooled(headers);
      return;
    }
    let upstreamReq: ClientRequest;
    try {
      upstreamReq = upstream.request({
        agent: this.freshConnection ? upstream.freshAgent : upstream.agent,
        hostname: upstream.hostname,
        port: upstream.port,
        method: this.req.method,
        path: upstream.pathPrefix + this.admitted.path,
        headers,
        timeout: upstream.responseTimeoutMs,
      });
    } catch (err) {
      // Node rejects a request target or header it cannot put on the wire.
      this.sendOwn(400, `request cannot be forwarded: ${messageOf(err)}`);
      return;
    }
    this.upstreamReq = upstreamReq;
    this.sentAt = this.f.store.now();
    this.unreported = true;
    upstreamReq.on('response', (upstreamRes) => this.onResponse(upstreamReq, upstreamRes));
    upstreamReq.on('error', (err) => this.onUpstreamError(upstreamReq, err));
    upstreamReq.on('socket', (socket) => this.watchResponseTime(upstreamReq, socket));
    // Node hands a `101` to an `upgrade` listener, or drops the socket without an error event
    // when there is none; a plain request cannot be switched to another protocol.
    upstreamReq.on('upgrade', (_res, socket: Socket) => {
      socket.destroy();
      // The socket is already detached from the request: no `error` event would follow.
      this.onUpstreamError(upstreamReq, new UpstreamProtocolError('101 to a plain request'));
    });
    limitConnect(upstreamReq, upstream.connectTimeoutMs);
    switch (this.plan) {
      case 'buffer':
        for (const chunk of this.body ?? []) upstreamReq.write(chunk);
        upstreamReq.end();
        break;
      case 'expect':
        if (!askContinue) {
          this.streamBody(upstreamReq);
          break;
        }
        upstreamReq.once('continue', () => this.streamBody(upstreamReq));
        // Counted from when the head goes out: a request still waiting for a connection has
        // asked nothing yet, and a body sent unasked could not be replayed after a 401.
        whenSent(upstreamReq, () => {
          if (upstreamReq !== this.upstreamReq || this.bodyState !== 'held') return;
          this.continueTimer = setTimeout(
            () => this.streamBody(upstreamReq),
            this.f.expectContinueTimeoutMs,
          );
        });
        break;
    }
  }

  /** Step "forward" for a request without a body: through undici's pool. */
  private sendPooled(headers: string[]): void {
    const { upstream } = this.f;
    const call = new PooledCall(this, !this.freshConnection);
    this.upstreamReq = call;
    this.sentAt = this.f.store.now();
    this.unreported = true;
    const options: Dispatcher.DispatchOptions = {
      path: upstream.pathPrefix + this.admitted.path,
      method: this.req.method as Dispatcher.HttpMethod,
      headers,
      headersTimeout: upstream.responseTimeoutMs,
      bodyTimeout: upstream.readTimeoutMs,
    };
    if (this.freshConnection) upstream.dispatchFresh(options, call);
    else upstream.pool().dispatch(options, call);
  }

  /** Vidispine's answer to a pooled attempt; `false` holds its body back. */
  onPooledResponse(call: PooledCall, answer: PooledAnswer): boolean {
    if (call !== this.upstreamReq) {
      call.destroy();
      return false;
    }
    if (answer.status === 401) return this.onPooledUnauthorized(call, answer);
    this.tellStore(answer.status);
    this.dropBody();
    return this.respondPooled(call, answer, answer.status);
  }

  /** A body chunk of the answer being passed on; `false` while the client's side is full. */
  onPooledData(call: PooledCall, chunk: Buffer): boolean {
    if (!this.passesOn(call)) {
      call.destroy();
      return false;
    }
    this.f.readBuffers.read(chunk.length);
    return this.passOn(chunk);
  }

  /** See `Turn.small`. */
  get small(): boolean {
    return this.passedOn <= this.res.writableHighWaterMark;
  }

  /** Writes a chunk of the answer; `false` while the client's side is full: hold back. */
  private passOn(chunk: Buffer): boolean {
    this.passedOn += chunk.length;
    const taken = this.res.write(chunk);
    if (!taken) this.sendTimeout?.held();
    return taken;
  }

  /** The answer's body flows again through `resume` once its client took what it held. */
  private holdBackFor(resume: () => void): void {
    this.sendTimeout = this.watchSend();
    onAnswerDrained(this.res, resume);
  }

  /** See `Upstream.resetting`: a pooled answer ending now was cut short. */
  upstreamResetting(): boolean {
    return this.f.upstream.resetting();
  }

  onPooledComplete(call: PooledCall): void {
    // A 401 still waiting for the store's verdict is ended, if passed on, by the verdict.
    if (this.passesOn(call)) this.res.end();
  }

  /**
   * Whether `call`'s answer is the one the client is getting. undici ends a HEAD's answer
   * as soon as its head arrived, however the head was held: an attempt superseded by a
   * replay, or a 401 whose head waits for the verdict, must not end the client's response.
   */
  private passesOn(call: PooledCall): boolean {
    return call === this.upstreamReq && this.res.headersSent;
  }

  /** Step "on 401" for a pooled attempt; its answer waits, unread, for the verdict. */
  private onPooledUnauthorized(call: PooledCall, answer: PooledAnswer): boolean {
    void this.afterPooledVerdict(call, answer, this.sentToken, this.verdictOn401(call, answer));
    return false;
  }

  private async afterPooledVerdict(
    call: PooledCall,
    answer: PooledAnswer,
    token: string,
    checked: Promise<Rejection | undefined>,
  ): Promise<void> {
    const verdict = await checked;
    if (verdict === undefined) {
      call.destroy();
      return;
    }
    if (verdict === 'replay') {
      // The 401's body is not read: its connection is closed rather than drained.
      this.upstreamReq = undefined;
      call.destroy();
      void this.replay(token);
      return;
    }
    if (!this.respondPooled(call, answer, 401)) return;
    if (call.completed) this.res.end();
    else answer.resume();
  }

  /** Step "rewrite response headers" for a pooled attempt; whether its body may flow. */
  private respondPooled(call: PooledCall, answer: PooledAnswer, status: number): boolean {
    const { res } = this;
    if (this.clientGone) {
      call.destroy();
      return false;
    }
    const headers = this.clientHeaders(answer.rawHeaders, status);
    try {
      res.writeHead(status, answer.statusMessage, headers);
    } catch (err) {
      this.cannotPassOn(call, err);
      return false;
    }
    this.answerHeaders = headers;
    this.holdBackFor(answer.resume);
    return true;
  }

  /** The answer's headers for the client. */
  private clientHeaders(rawHeaders: readonly string[], status: number): string[] {
    const headers = clientResponseHeaders(
      rawHeaders,
      this.f.rewriteLocation,
      this.admitted.authority,
      status,
    );
    // An answer may quote the credential it was sent (a refusal's Reason, a front end's
    // redirect built from it): ours never reaches the client, whatever the status.
    return withoutToken(headers, this.sentToken);
  }

  /** Node refused to write Vidispine's answer head: 502 instead. */
  private cannotPassOn(upstreamReq: Attempt, err: unknown): void {
    upstreamReq.destroy();
    this.f.observer.upstreamError?.('protocol', this.user);
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
  private tellStore(status: number | undefined): void {
    this.unreported = false;
    if (this.authenticated) this.f.store.answered(this.user, this.sentToken, this.sentAt, status);
  }

  /** The attempt under way ends without an answer (failed, or its client left). */
  private tellStoreNoAnswer(): void {
    if (this.unreported) this.tellStore(undefined);
  }

  /** Vidispine said `100 Continue` (or kept quiet long enough): the body may flow now. */
  private streamBody(upstreamReq: ClientRequest): void {
    if (upstreamReq !== this.upstreamReq || this.bodyState !== 'held') return;
    this.clearContinueTimer();
    this.bodyState = 'streaming';
    if (this.clientExpectsContinue) this.res.writeContinue();
    this.req.pipe(upstreamReq);
    this.countRead(this.req);
    upstreamReq.once('close', () => this.dropRestOfBody());
    watchBodyIdle(this.req, this.f.clientBodyTimeoutMs, () => this.bodyTimedOut());
  }

  /** Every chunk of a body streamed from `from` counts towards the next young collection. */
  private countRead(from: IncomingMessage): void {
    const { readBuffers } = this.f;
    from.on('data', (chunk: Buffer) => readBuffers.read(chunk.length));
  }

  /**
   * The response timeout (the request's `timeout`: its socket stays quiet that long), heard
   * on the socket itself: the request passes on only the socket's first timeout, and one that
   * falls while the client is the quiet side (`waitingForClientBody`) must not be the last.
   */
  private watchResponseTime(upstreamReq: ClientRequest, socket: Socket): void {
    const timedOut = (): void => {
      if (!this.waitingForClientBody(upstreamReq)) {
        upstreamReq.destroy(new UpstreamTimeoutError('response'));
      }
    };
    socket.on('timeout', timedOut);
    upstreamReq.once('close', () => socket.off('timeout', timedOut));
  }

  /**
   * Whether a quiet connection to Vidispine is the client's doing: its body is still on the
   * way and everything read so far has gone upstream. `clientBodyTimeoutSeconds` judges that
   * silence; the response timeout starts again with the next bytes sent, the last included.
   * Bytes Vidispine does not take (still queued for it) leave the response timeout running.
   */
  private waitingForClientBody(upstreamReq: ClientRequest): boolean {
    return (
      upstreamReq === this.upstreamReq &&
      this.bodyState === 'streaming' &&
      !this.req.complete &&
      upstreamReq.writableLength === 0
    );
  }

  /**
   * The request that took the body ended before the body did: Vidispine answered early (a
   * 413 after part of an upload) and closed, or failed. The rest is read and dropped, as
   * nginx discards a body it will not use: left unread it would stall the connection
   * behind the answer, and the client's next request with it.
   */
  private dropRestOfBody(): void {
    if (this.req.complete || this.clientGone) return;
    this.req.unpipe();
    this.req.resume();
  }

  private onResponse(upstreamReq: ClientRequest, upstreamRes: IncomingMessage): void {
    if (upstreamReq !== this.upstreamReq) {
      upstreamRes.resume();
      return;
    }
    const problem =
      answerStatusProblem(upstreamRes.statusCode ?? 0, upstreamRes.statusMessage) ??
      transferCodingProblem(upstreamRes.rawHeaders);
    if (problem !== undefined) {
      upstreamReq.destroy(new UpstreamProtocolError(problem));
      return;
    }
    this.clearContinueTimer();
    const status = upstreamRes.statusCode ?? 502;
    if (status === 417 && this.mayDropExpect()) {
      // RFC 9110 §10.1.1: a hop on the way takes no expectations. The client asked for none;
      // the body, still unsent, goes with the request again without one.
      upstreamRes.resume();
      this.expectRefused = true;
      this.retire(upstreamReq);
      this.send(this.sentToken);
      return;
    }
    if (status === 401) {
      void this.onUnauthorized(upstreamReq, upstreamRes);
      return;
    }
    this.tellStore(status);
    this.dropBody();
    this.respond(upstreamReq, upstreamRes, status);
  }

  /** Whether the `Expect` the proxy added on its own may go, its body not yet sent. */
  private mayDropExpect(): boolean {
    return (
      this.plan === 'expect' &&
      this.bodyState === 'held' &&
      !this.expectRefused &&
      !this.clientExpectsContinue
    );
  }

  /** Step "on 401" for a `node:http` attempt; its answer waits, unread, for the verdict. */
  private async onUnauthorized(
    upstreamReq: ClientRequest,
    upstreamRes: IncomingMessage,
  ): Promise<void> {
    const token = this.sentToken;
    const verdict = await this.verdictOn401(upstreamReq, upstreamRes);
    if (verdict === undefined) {
      upstreamRes.resume();
      return;
    }
    if (verdict === 'replay') {
      upstreamRes.resume();
      this.retire(upstreamReq);
      void this.replay(token);
      return;
    }
    this.dropBody();
    this.respond(upstreamReq, upstreamRes, 401);
  }

  /** Step "on 401" (`verdictOn401`) for this exchange's attempt, whichever client made it. */
  private verdictOn401(
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
      replayable: canReplay(this.plan, this.attempt, this.bodyState === 'streaming'),
      current: () => !this.clientGone && attempt === this.upstreamReq,
    });
  }

  /** Step "on 401 replay": same request, fresh token, once. */
  private async replay(rejected: string): Promise<void> {
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

  /** Step "rewrite response headers", then stream the body back. */
  private respond(upstreamReq: ClientRequest, upstreamRes: IncomingMessage, status: number): void {
    const { res } = this;
    if (this.clientGone) {
      upstreamReq.destroy();
      return;
    }
    const bodyNeverSent = this.bodyState === 'held' && this.plan === 'expect';
    const headers = this.clientHeaders(upstreamRes.rawHeaders, status);
    if (bodyNeverSent) {
      this.bodyState = 'abandoned';
      // Vidispine answered without the body: close rather than read a large upload to waste.
      headers.push('Connection', 'close');
    }
    try {
      res.writeHead(status, upstreamRes.statusMessage, headers);
    } catch (err) {
      this.cannotPassOn(upstreamReq, err);
      return;
    }
    this.answerHeaders = headers;
    // From here a quiet upstream socket may just mean a slow client holding back the body;
    // the read timeout below tells the two apart.
    upstreamReq.setTimeout(0);
    this.answer = upstreamRes;
    watchUpstreamBody(upstreamReq, upstreamRes, this.f.upstream.readTimeoutMs);
    this.countRead(upstreamRes);
    upstreamRes.on('close', () => {
      if (!upstreamRes.complete) this.answerCut(upstreamReq, headers);
      // The upstream request still owes its body; its connection cannot be reused. One that
      // is still streaming it would stall too: once its answer is complete, Node's client no
      // longer passes on the connection's drain. Ended, the rest is dropped (`dropRestOfBody`).
      else if (bodyNeverSent || !this.req.complete) upstreamReq.destroy();
    });
    this.relay(upstreamRes);
  }

  /**
   * Passes a `node:http` answer on as pooled ones are, not with a pipe: Node 20 emits 'drain'
   * on a held-back answer for each write to one pipelined behind it, and a pipe took each
   * for room and read on, into memory (all 64 MiB of an answer behind a client reading none).
   */
  private relay(upstreamRes: IncomingMessage): void {
    this.holdBackFor(() => upstreamRes.resume());
    upstreamRes.on('data', (chunk: Buffer) => {
      if (!this.passOn(chunk)) upstreamRes.pause();
    });
    upstreamRes.on('end', () => this.res.end());
  }

  /** The answer is cut once its client stops taking it (see `SendTimeout`); what went upstream goes with it. */
  private watchSend(): SendTimeout {
    return new SendTimeout(
      this.res,
      this.f.sendTimeoutMs,
      () => cutStalledAnswer(this.res),
      () => this.res.socket === null,
      (listener) => onAnswerDrained(this.res, listener),
    );
  }

  /**
   * Vidispine's answer ended short. After its head, `node:http` reports no error for a
   * connection closed in order; a reset or our own timeout has already been reported
   * (and the attempt retired) by `onUpstreamError`, and a client gone is no upstream error.
   */
  private answerCut(upstreamReq: ClientRequest, headers: readonly string[]): void {
    if (upstreamReq === this.upstreamReq && !this.clientGone) {
      this.upstreamReq = undefined;
      this.f.observer.upstreamError?.('reset', this.user);
    }
    cutAnswer(this.res, headers);
  }

  onUpstreamError(upstreamReq: Attempt, err: Error): void {
    if (upstreamReq !== this.upstreamReq || this.clientGone) return;
    // Bytes after a whole answer (a body a 304 cannot have): Node closed their connection,
    // the answer stands and still flows to the client, as undici's would.
    if (this.answer?.complete === true) return;
    this.clearContinueTimer();
    this.upstreamReq = undefined;
    // undici checks the request before it goes out, as `node:http` does when it is made.
    if (isUnsendableRequest(err)) {
      this.unreported = false;
      this.sendOwn(400, `request cannot be forwarded: ${err.message}`);
      return;
    }
    this.tellStoreNoAnswer();
    const reason = classifyUpstreamError(err);
    // A pooled connection Vidispine had already closed: the request most likely never
    // arrived. Only what the client has not seen, and a body we still hold, can go again.
    const reused =
      upstreamReq instanceof PooledCall ? upstreamReq.mayBeReused : upstreamReq.reusedSocket;
    if (
      retriesOnFreshConnection(this.req.method, reason, reused) &&
      !this.res.headersSent &&
      this.bodyState !== 'streaming'
    ) {
      this.freshConnection = true;
      this.send(this.sentToken);
      return;
    }
    this.f.observer.upstreamError?.(reason, this.user);
    if (this.res.headersSent) {
      cutAnswer(this.res, this.answerHeaders);
      return;
    }
    this.sendOwn(statusForUpstreamError(reason), describeUpstreamError(reason));
  }

  /** Stop listening to a request that will not produce the client's answer. */
  private retire(upstreamReq: Attempt): void {
    this.upstreamReq = undefined;
    if (this.plan === 'expect') upstreamReq.destroy();
  }

  /** The client stopped sending its body: 408, and what went upstream is aborted. */
  private bodyTimedOut(): void {
    this.req.unpipe();
    const upstreamReq = this.upstreamReq;
    this.upstreamReq = undefined;
    upstreamReq?.destroy();
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
  private sendOwn(status: number, message: string, extra?: Readonly<Record<string, string>>) {
    const bodyUnread = this.plan === 'expect' && this.bodyState === 'held' && !this.req.complete;
    sendPlain(this.res, status, message, bodyUnread ? { ...extra, Connection: 'close' } : extra);
  }

  /** The buffered body will not be sent again: give its memory and budget back. */
  private dropBody(): void {
    this.body = undefined;
    this.f.bodyBudget.release(this.reserved);
    this.reserved = 0;
  }

  /**
   * The proxy stops with this answer under way: it is cut as Vidispine failing would cut
   * it, with a reset where only the close of the connection would tell where it ends. A
   * request still waiting for its token is answered 503 instead.
   */
  cut(): void {
    if (this.tokenWait !== undefined && !this.res.headersSent) {
      // Nothing went upstream yet: a plain 503 says so, where a reset would leave the client
      // guessing whether the request was done.
      this.tokenWait.abort();
      sendPlain(this.res, 503, noTokenMessage(this.user, 'the proxy is shutting down'), {
        'Retry-After': '1',
        Connection: 'close',
      });
      return;
    }
    if (this.res.headersSent && !this.res.writableFinished) {
      cutAnswer(this.res, this.answerHeaders);
    }
  }

  /** The client's response closed; unless it finished, the client went away. */
  over(): void {
    this.dropBody();
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.clearContinueTimer();
    this.tokenWait?.abort();
    const upstreamReq = this.upstreamReq;
    this.upstreamReq = undefined;
    upstreamReq?.destroy();
    this.tellStoreNoAnswer();
  }

  private clearContinueTimer(): void {
    if (this.continueTimer !== undefined) {
      clearTimeout(this.continueTimer);
      this.continueTimer = undefined;
    }
  }
}

/**
 * What to do for each answer still queued on a connection when the connection closes, with
 * one `close` listener per connection however many requests are pipelined on it: one for
 * each made Node warn of a listener leak on stderr once a client pipelined more than ten.
 */
class QueuedAnswers {
  private readonly lost = new WeakMap<Socket, Set<() => void>>();

  /** Calls `onLost` if `socket` closes first; the function returned forgets it. */
  add(socket: Socket, onLost: () => void): () => void {
    const waiting = this.lost.get(socket) ?? this.watch(socket);
    waiting.add(onLost);
    return () => waiting.delete(onLost);
  }

  private watch(socket: Socket): Set<() => void> {
    const waiting = new Set<() => void>();
    this.lost.set(socket, waiting);
    socket.once('close', () => {
      this.lost.delete(socket);
      for (const lost of waiting) lost();
    });
    return waiting;
  }
}

/** Serves one data listener's requests; counts what is in flight for draining. */
export class Forwarder {
  private inFlightCount = 0;
  /** Those of the requests in flight that were admitted: their answers may be under way. */
  private readonly exchanges = new InFlight<Exchange>();
  private readonly queued = new QueuedAnswers();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly f: ForwarderOptions) {}

  inFlight(): number {
    return this.inFlightCount;
  }

  /** Cuts every answer under way (see `Exchange.cut`); their connections close with it. */
  cutAnswers(): void {
    for (const exchange of this.exchanges.values()) exchange.cut();
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
    this.f.observer.requestStarted?.();
    req.on('error', ignoreError);
    const admission = admit(req, this.f.rules, false);
    if (!admission.ok) {
      this.refuse(res, admission, started);
      return;
    }
    if (admission.runAsStripped) noteStrippedRunAs(this.f.notices, admission.user);
    const exchange = new Exchange(this.f, req, res, expectsContinue, admission);
    this.track(res, admission.user, started, exchange, admission.requestId);
    exchange.arrived();
    this.f.pipelines.enter(req.socket, exchange);
  }

  /**
   * A request admission turned away: answered at once, nothing forwarded. Unless the request
   * was sound (a wrong user, an expectation not met), the connection closes too — what
   * follows on it cannot be trusted. So does a sound one's with a body to come: kept open,
   * Node would read an upload to waste, with no body timeout to end a client that stalls in it.
   */
  private refuse(res: ServerResponse, refusal: Refusal, started: number): void {
    if (refusal.event !== undefined) this.f.notices({ event: refusal.event }, refusal.reason);
    this.track(res, this.f.rules.identity.defaultUser, started, undefined);
    const closes = refusal.keepsConnection !== true || bodyFollows(res.req);
    if (closes) this.f.pipelines.closeAfterAnswer(res.req.socket);
    sendPlain(res, refusal.status, refusal.reason, {
      ...(closes && { Connection: 'close' }),
      ...(refusal.allow !== undefined && { Allow: refusal.allow }),
    });
  }

  /**
   * Accounts for a request once it is over: answered, or its client gone (then what is
   * left upstream is aborted). A response queued behind an earlier one on a pipelined
   * connection gets no `close` event of its own if the connection dies first, so for
   * those the connection's `close` counts too.
   */
  private track(
    res: ServerResponse,
    user: string,
    started: number,
    exchange: Exchange | undefined,
    requestId?: string,
  ): void {
    const socket = res.req.socket;
    // Read now: a socket already destroyed (a client gone, an answer cut) has none any more.
    const remoteAddress = socket.remoteAddress;
    const inFlight = exchange && this.exchanges.add(exchange);
    let over = false;
    const finish = (connectionLost: boolean): void => {
      if (over) return;
      over = true;
      if (exchange !== undefined) {
        if (inFlight !== undefined) this.exchanges.delete(inFlight);
        exchange.over();
        this.f.pipelines.leave(socket, exchange);
      }
      reportAnswered(this.f.observer, this.f.accessLog, {
        req: res.req,
        user,
        requestId,
        status:
          res.headersSent && !connectionLost
            ? res.statusCode
            : this.f.pipelines.unansweredStatus(socket),
        started,
        remoteAddress,
        replayed: exchange?.replayed ?? false,
      });
      this.finished();
    };
    if (res.socket !== null) {
      res.once('close', () => finish(false));
      return;
    }
    const forget = this.queued.add(socket, () => finish(true));
    res.once('close', () => {
      forget();
      finish(false);
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
