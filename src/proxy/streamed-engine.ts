/**
 * The engine for requests with a body: `node:http`'s client, which can hold a body back
 * until Vidispine sent `100 Continue` (so that a 401 can still be hidden by sending it
 * again), streams it once allowed, and passes the answer back as it comes.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { messageOf } from '../error-message';
import { forwardedRequestOf } from './observer';
import type { AttemptOwner } from './attempt';
import { watchBodyIdle } from './body';
import { ANSWER_CUT, UpstreamProtocolError, UpstreamTimeoutError } from './errors';
import { answerHeadProblem } from './headers';
import { cutAnswer } from './answers';
import { watchWriteStall } from './write-stall';
import { limitConnect, limitQueueWait, watchUpstreamBody, whenSent } from './upstream';

/**
 * Step "forward" for a request with a body, with `headers` as the token step made them.
 *
 * @param askContinue The head asks for `100 Continue` before the body goes.
 */
export function sendStreamed(
  exchange: AttemptOwner,
  headers: string[],
  askContinue: boolean,
): void {
  const { upstream } = exchange.f;
  let upstreamReq: ClientRequest;
  try {
    upstreamReq = upstream.request({
      agent: exchange.freshConnection ? upstream.freshAgent : upstream.agent,
      hostname: upstream.hostname,
      port: upstream.port,
      method: exchange.req.method,
      path: upstream.pathPrefix + exchange.admitted.path,
      headers,
      timeout: upstream.responseTimeoutMs,
    });
  } catch (err) {
    // Node rejects a request target or header it cannot put on the wire.
    exchange.sendOwn(400, `request cannot be forwarded: ${messageOf(err)}`);
    return;
  }
  exchange.began(upstreamReq);
  upstreamReq.on('response', (upstreamRes) => onResponse(exchange, upstreamReq, upstreamRes));
  upstreamReq.on('error', (err) => {
    passOnParsed(exchange, upstreamReq);
    exchange.onUpstreamError(upstreamReq, err, upstreamReq.reusedSocket);
  });
  upstreamReq.on('socket', (socket) => {
    upstream.carries(socket, exchange);
    watchResponseTime(exchange, upstreamReq, socket);
  });
  // Node hands a `101` to an `upgrade` listener, or drops the socket without an error event
  // when there is none; a plain request cannot be switched to another protocol.
  upstreamReq.on('upgrade', (_res, socket: Socket) => {
    socket.destroy();
    // The socket is already detached from the request: no `error` event would follow.
    exchange.onUpstreamError(
      upstreamReq,
      new UpstreamProtocolError('101 to a plain request'),
      upstreamReq.reusedSocket,
    );
  });
  limitQueueWait(upstreamReq, upstream.responseTimeoutMs, (err) => {
    if (upstreamReq !== exchange.upstreamReq) return;
    // Destroyed before it had a socket, the request closes only once one comes free: a body
    // streaming into it is dropped now, as after any other end of it.
    const streaming = exchange.bodyState === 'streaming';
    exchange.onUpstreamError(upstreamReq, err, false);
    if (streaming) dropRestOfBody(exchange);
  });
  limitConnect(upstreamReq, upstream.connectTimeoutMs);
  switch (exchange.plan) {
    case 'buffer':
      // Written once the request has a socket: one that timed out in the agent's queue stays
      // there until a socket comes free, and would hold a copy of the body, outside the
      // replay budget given back with its 504. A request given a free socket has it on the
      // next tick, the moment its head and body went out before too: the same bytes, as soon.
      upstreamReq.once('socket', () => {
        for (const chunk of exchange.body ?? []) upstreamReq.write(chunk);
        upstreamReq.end();
      });
      break;
    case 'expect':
      if (!askContinue) {
        // Streamed once the request has a socket, as a body held for replay is written: one
        // that timed out in the agent's queue would hold what was piped into it until a
        // socket comes free, and the client's connection would be read on, to waste. Held
        // until then, its 504 closes the connection (`sendOwn`), as when the proxy asked.
        upstreamReq.once('socket', () => streamBody(exchange, upstreamReq));
        break;
      }
      upstreamReq.once('continue', () => streamBody(exchange, upstreamReq));
      // Counted from when the head goes out: a request still waiting for a connection has
      // asked nothing yet, and a body sent unasked could not be replayed after a 401.
      whenSent(upstreamReq, () => {
        if (upstreamReq !== exchange.upstreamReq || exchange.bodyState !== 'held') return;
        exchange.continueTimer = setTimeout(
          () => streamBody(exchange, upstreamReq),
          exchange.f.expectContinueTimeoutMs,
        );
      });
      break;
  }
}

/** Vidispine said `100 Continue` (or kept quiet long enough): the body may flow now. */
function streamBody(exchange: AttemptOwner, upstreamReq: ClientRequest): void {
  if (upstreamReq !== exchange.upstreamReq || exchange.bodyState !== 'held') return;
  exchange.clearContinueTimer();
  exchange.bodyState = 'streaming';
  if (exchange.clientExpectsContinue) exchange.res.writeContinue();
  exchange.req.pipe(upstreamReq);
  countRead(exchange, exchange.req);
  upstreamReq.once('close', () => dropRestOfBody(exchange));
  watchBodyIdle(exchange.req, exchange.f.clientBodyTimeoutMs, () => exchange.bodyTimedOut());
}

/** Every chunk of a body streamed from `from` counts towards the next young collection. */
function countRead(exchange: AttemptOwner, from: IncomingMessage): void {
  const { readBuffers } = exchange.f;
  from.on('data', (chunk: Buffer) => readBuffers.read(chunk.length));
}

/**
 * The response timeout (the request's `timeout`: its socket stays quiet that long), heard
 * on the socket itself: the request passes on only the socket's first timeout, and one that
 * falls while the client is the quiet side (`waitingForClientBody`) must not be the last.
 * While bytes of the body wait for Vidispine to take them, the same timeout is counted from
 * the last byte it took (`watchWriteStall`), until its answer's head.
 */
function watchResponseTime(
  exchange: AttemptOwner,
  upstreamReq: ClientRequest,
  socket: Socket,
): void {
  let watchingWrites = true;
  const timedOut = (): void => {
    // Bytes still held for Vidispine: the write watch judges, from the last one it took.
    if (watchingWrites && upstreamReq.writableLength > 0) return;
    if (!waitingForClientBody(exchange, upstreamReq)) {
      upstreamReq.destroy(new UpstreamTimeoutError('response'));
    }
  };
  socket.on('timeout', timedOut);
  const stopWatch = watchWriteStall(socket, exchange.f.upstream.responseTimeoutMs, () =>
    upstreamReq.destroy(new UpstreamTimeoutError('send')),
  );
  const stopWatching = (): void => {
    watchingWrites = false;
    stopWatch();
  };
  upstreamReq.once('response', stopWatching);
  upstreamReq.once('close', () => {
    stopWatching();
    socket.off('timeout', timedOut);
  });
}

/**
 * Whether a quiet connection to Vidispine is the client's doing: its body is still on the
 * way and everything read so far has gone upstream. `clientBodyTimeoutSeconds` judges that
 * silence; the response timeout starts again with the next bytes sent, the last included.
 * Bytes Vidispine does not take (still queued for it) leave the response timeout running.
 */
function waitingForClientBody(exchange: AttemptOwner, upstreamReq: ClientRequest): boolean {
  return (
    upstreamReq === exchange.upstreamReq &&
    exchange.bodyState === 'streaming' &&
    !exchange.req.complete &&
    upstreamReq.writableLength === 0
  );
}

/**
 * The request that took the body ended before the body did: Vidispine answered early (a
 * 413 after part of an upload) and closed, or failed. The rest is read and dropped, as
 * nginx discards a body it will not use: left unread it would stall the connection
 * behind the answer, and the client's next request with it.
 */
function dropRestOfBody(exchange: AttemptOwner): void {
  if (exchange.req.complete || exchange.clientGone) return;
  exchange.req.unpipe();
  exchange.req.resume();
}

function onResponse(
  exchange: AttemptOwner,
  upstreamReq: ClientRequest,
  upstreamRes: IncomingMessage,
) {
  if (upstreamReq !== exchange.upstreamReq) {
    upstreamRes.resume();
    return;
  }
  const problem = answerHeadProblem(upstreamRes);
  if (problem !== undefined) {
    upstreamReq.destroy(new UpstreamProtocolError(problem));
    return;
  }
  exchange.clearContinueTimer();
  const status = upstreamRes.statusCode ?? 502;
  if (status === 417 && mayDropExpect(exchange)) {
    // RFC 9110 §10.1.1: a hop on the way takes no expectations. The client asked for none;
    // the body, still unsent, goes with the request again without one.
    upstreamRes.resume();
    exchange.expectRefused = true;
    exchange.retire(upstreamReq);
    exchange.send(exchange.sentToken);
    return;
  }
  if (status === 401) {
    void onUnauthorized(exchange, upstreamReq, upstreamRes);
    return;
  }
  exchange.tellStore(status);
  exchange.dropBody();
  respond(exchange, upstreamReq, upstreamRes, status);
}

/** Whether the `Expect` the proxy added on its own may go, its body not yet sent. */
function mayDropExpect(exchange: AttemptOwner): boolean {
  return (
    exchange.plan === 'expect' &&
    exchange.bodyState === 'held' &&
    !exchange.expectRefused &&
    !exchange.clientExpectsContinue
  );
}

/** Step "on 401"; the answer waits, unread, for the verdict. */
async function onUnauthorized(
  exchange: AttemptOwner,
  upstreamReq: ClientRequest,
  upstreamRes: IncomingMessage,
): Promise<void> {
  const token = exchange.sentToken;
  const verdict = await exchange.verdictOn401(upstreamReq, upstreamRes);
  if (verdict === undefined) {
    upstreamRes.resume();
    return;
  }
  if (verdict === 'replay') {
    upstreamRes.resume();
    exchange.retire(upstreamReq);
    void exchange.replay(token);
    return;
  }
  exchange.dropBody();
  respond(exchange, upstreamReq, upstreamRes, 401);
}

/** Step "rewrite response headers", then stream the body back. */
function respond(
  exchange: AttemptOwner,
  upstreamReq: ClientRequest,
  upstreamRes: IncomingMessage,
  status: number,
): void {
  if (exchange.clientGone) {
    upstreamReq.destroy();
    return;
  }
  const bodyNeverSent = exchange.bodyState === 'held' && exchange.plan === 'expect';
  const headers = exchange.clientHeaders(upstreamRes.rawHeaders, status);
  if (bodyNeverSent) {
    exchange.bodyState = 'abandoned';
    // Vidispine answered without the body: close rather than read a large upload to waste.
    headers.push('Connection', 'close');
  }
  try {
    exchange.writeAnswerHead(status, upstreamRes.statusMessage, headers);
  } catch (err) {
    exchange.cannotPassOn(upstreamReq, err);
    return;
  }
  // From here a quiet upstream socket may just mean a slow client holding back the body;
  // the read timeout below tells the two apart.
  upstreamReq.setTimeout(0);
  exchange.answer = upstreamRes;
  watchUpstreamBody(upstreamReq, upstreamRes, exchange.f.upstream.readTimeoutMs);
  countRead(exchange, upstreamRes);
  upstreamRes.on('close', () => {
    if (!upstreamRes.complete) answerCut(exchange, upstreamReq, headers);
    // The upstream request still owes its body; its connection cannot be reused. One that
    // is still streaming it would stall too: once its answer is complete, Node's client no
    // longer passes on the connection's drain. Ended, the rest is dropped (`dropRestOfBody`).
    else if (bodyNeverSent || !exchange.req.complete) upstreamReq.destroy();
  });
  relay(exchange, upstreamRes);
}

/**
 * Passes a `node:http` answer on as pooled ones are, not with a pipe: Node 20 emits 'drain'
 * on a held-back answer for each write to one pipelined behind it, and a pipe took each
 * for room and read on, into memory (all 64 MiB of an answer behind a client reading none).
 */
function relay(exchange: AttemptOwner, upstreamRes: IncomingMessage): void {
  exchange.holdBackFor(() => upstreamRes.resume());
  upstreamRes.on('data', (chunk: Buffer) => {
    if (!exchange.passOn(chunk)) upstreamRes.pause();
  });
  upstreamRes.on('end', () => exchange.res.end());
}

/**
 * Body bytes of the answer being passed on that Node parsed in the very read that failed
 * (a bad chunk in the segment after them) wait in the answer, unread, when the error comes:
 * they go to the client before the cut, as undici passes each on before its error.
 */
function passOnParsed(exchange: AttemptOwner, upstreamReq: ClientRequest): void {
  const { answer } = exchange;
  // Set by `respond` only, for the attempt whose answer is the client's.
  if (answer === undefined || upstreamReq !== exchange.upstreamReq || exchange.clientGone) return;
  // Each chunk read goes through `relay`'s 'data' listener; they are in memory already.
  while (answer.read() !== null);
}

/**
 * Vidispine's answer ended short. After its head, `node:http` reports no error for a
 * connection closed in order; a reset or our own timeout has already been reported
 * (and the attempt retired) by `onUpstreamError`, and a client gone is no upstream error.
 */
function answerCut(
  exchange: AttemptOwner,
  upstreamReq: ClientRequest,
  headers: readonly string[],
): void {
  if (upstreamReq === exchange.upstreamReq && !exchange.clientGone) {
    exchange.upstreamReq = undefined;
    exchange.f.observer.upstreamError?.(
      'reset',
      exchange.user,
      ANSWER_CUT,
      forwardedRequestOf(exchange.req, exchange.admitted.requestId),
    );
  }
  cutAnswer(exchange.res, headers);
}
