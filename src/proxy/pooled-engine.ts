/**
 * The engine for requests without a body: undici's pool, which costs about half the CPU of
 * `node:http`'s client. One `PooledCall` per attempt carries undici's callbacks to the
 * exchange's steps; the call itself allocates nothing more per request.
 */
import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Rejection } from '../tokens/types';
import type { Attempt, AttemptOwner } from './attempt';
import {
  UpstreamProtocolError,
  UpstreamResetError,
  UpstreamTimeoutError,
  isWholeAnswerWithoutBody,
  pooledFailure,
} from './errors';
import { answerStatusProblem, transferCodingProblem } from './headers';
import type { PooledHandler } from './upstream';

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

/** Step "forward" for a request without a body: through undici's pool. */
export function sendPooled(exchange: AttemptOwner, headers: string[]): void {
  const { upstream } = exchange.f;
  const call = new PooledCall(exchange, !exchange.freshConnection);
  exchange.began(call);
  const options: Dispatcher.DispatchOptions = {
    path: upstream.pathPrefix + exchange.admitted.path,
    method: exchange.req.method as Dispatcher.HttpMethod,
    headers,
    headersTimeout: upstream.responseTimeoutMs,
    bodyTimeout: upstream.readTimeoutMs,
  };
  if (exchange.freshConnection) upstream.dispatchFresh(options, call);
  else upstream.pool().dispatch(options, call);
  call.waitAtMost(upstream.responseTimeoutMs);
}

/**
 * undici's callbacks for one attempt, handed to the exchange. undici times the answer's
 * head and every silence in its body itself (`headersTimeout`, `bodyTimeout`: a body held
 * back for a slow client does not count), on one timer for all its requests — from when
 * the request is on a connection. The wait for one is timed here (`waitAtMost`).
 */
class PooledCall implements Attempt, PooledHandler {
  private abort: ((err?: Error) => void) | undefined;
  private done = false;
  /** The whole answer arrived; for a HEAD, undici says so even while its head is held. */
  private completed = false;
  private abandonedWith: Error | undefined;
  /** Of the final answer, once its head arrived. */
  private status = 0;
  /** The response timeout of a request that had to wait for a connection. */
  private deadline: NodeJS.Timeout | undefined;

  /**
   * @param mayBeReused Sent through the shared pool, on a connection that may have served
   *   earlier requests: undici does not say whether it did.
   */
  constructor(
    private readonly exchange: AttemptOwner,
    private readonly mayBeReused: boolean,
  ) {}

  /**
   * Called once dispatched. A request that did not go on a connection at once waits for one
   * of `maxSockets` (or for one to open): undici's `headersTimeout` would only start after
   * that wait, however long. For such a request the response timeout runs from here to the
   * answer's head; one that never got a connection is never sent (see `onConnect`).
   */
  waitAtMost(ms: number): void {
    if (this.abort !== undefined || this.done) return;
    this.deadline = setTimeout(() => this.timedOut(), ms);
  }

  private timedOut(): void {
    if (this.abort !== undefined) {
      this.abort(new UpstreamTimeoutError('response'));
      return;
    }
    const err = new UpstreamTimeoutError('queue');
    this.abandonedWith = err;
    this.onError(err);
  }

  private complete(): void {
    clearTimeout(this.deadline);
    this.done = true;
    this.completed = true;
    // A 401 still waiting for the store's verdict is ended, if passed on, by the verdict.
    if (this.passesOn()) this.exchange.res.end();
  }

  /** Like `ClientRequest#destroy`: the attempt ends, with `err` as its error if given. */
  destroy(err?: Error): void {
    if (this.done) return;
    clearTimeout(this.deadline);
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
    clearTimeout(this.deadline);
    const rawHeaders = headers.map((field) => field.toString('latin1'));
    const codingProblem = transferCodingProblem(rawHeaders);
    if (codingProblem !== undefined) {
      this.destroy(new UpstreamProtocolError(codingProblem));
      return false;
    }
    this.status = status;
    return this.onResponse({ status, statusMessage, rawHeaders, resume });
  }

  /** A body chunk of the answer being passed on; `false` while the client's side is full. */
  onData(chunk: Buffer): boolean {
    if (!this.passesOn()) {
      this.destroy();
      return false;
    }
    this.exchange.f.readBuffers.read(chunk.length);
    return this.exchange.passOn(chunk);
  }

  onComplete(): void {
    // See `Upstream.resetting`: a pooled answer ending now was cut short.
    if (this.exchange.f.upstream.resetting()) this.onError(new UpstreamResetError());
    else this.complete();
  }

  onBytesAfterAnswer(err: Error): void {
    this.exchange.bytesAfterAnswer(err);
  }

  onError(err: Error): void {
    // Given up on while it waited for a connection, and aborted when it got one.
    if (this.done) return;
    clearTimeout(this.deadline);
    if (isWholeAnswerWithoutBody(this.status, err)) {
      this.complete();
      return;
    }
    this.done = true;
    this.exchange.onUpstreamError(this, pooledFailure(this.status, err), this.mayBeReused);
  }

  /** Vidispine's answer to this attempt; `false` holds its body back. */
  private onResponse(answer: PooledAnswer): boolean {
    const { exchange } = this;
    if (this !== exchange.upstreamReq) {
      this.destroy();
      return false;
    }
    if (answer.status === 401) return this.onUnauthorized(answer);
    exchange.tellStore(answer.status);
    exchange.dropBody();
    return this.respond(answer, answer.status);
  }

  /**
   * Whether this attempt's answer is the one the client is getting. undici ends a HEAD's
   * answer as soon as its head arrived, however the head was held: an attempt superseded by
   * a replay, or a 401 whose head waits for the verdict, must not end the client's response.
   */
  private passesOn(): boolean {
    return this === this.exchange.upstreamReq && this.exchange.res.headersSent;
  }

  /** Step "on 401"; the answer waits, unread, for the verdict. */
  private onUnauthorized(answer: PooledAnswer): boolean {
    const { exchange } = this;
    void this.afterVerdict(answer, exchange.sentToken, exchange.verdictOn401(this, answer));
    return false;
  }

  private async afterVerdict(
    answer: PooledAnswer,
    token: string,
    checked: Promise<Rejection | undefined>,
  ): Promise<void> {
    const verdict = await checked;
    if (verdict === undefined) {
      this.destroy();
      return;
    }
    if (verdict === 'replay') {
      // The 401's body is not read: its connection is closed rather than drained.
      this.exchange.upstreamReq = undefined;
      this.destroy();
      void this.exchange.replay(token);
      return;
    }
    if (!this.respond(answer, 401)) return;
    if (this.completed) this.exchange.res.end();
    else answer.resume();
  }

  /** Step "rewrite response headers"; whether the answer's body may flow. */
  private respond(answer: PooledAnswer, status: number): boolean {
    const { exchange } = this;
    if (exchange.clientGone) {
      this.destroy();
      return false;
    }
    const headers = exchange.clientHeaders(answer.rawHeaders, status);
    try {
      exchange.writeAnswerHead(status, answer.statusMessage, headers);
    } catch (err) {
      exchange.cannotPassOn(this, err);
      return false;
    }
    exchange.holdBackFor(answer.resume);
    return true;
  }
}
