/**
 * Requests Node's parser refuses. Node answers them itself when nobody listens for its
 * `clientError` event: 400 (431 for headers too large, 413 for chunk extensions too large,
 * 408 for a head not sent in time), unless an answer on the connection has begun, then
 * closes the connection. That stays so for errors in a request's own head or body. What
 * changes is bytes that do not parse after a whole request whose answer is still owed:
 *
 * - After a request that said `Connection: close` (`HPE_CLOSED_CONNECTION`), RFC 9112 §9.6
 *   wants that request answered, the connection closed after it and nothing else on it
 *   read — as nginx does. Node answered 400 instead, so the request was never forwarded,
 *   or was aborted on its way if the bytes came later. The bytes are now ignored.
 * - Anything else there: Node's 400, written at once, would be read as the answer to the
 *   request before them, and cutting the connection instead would throw away the answers
 *   owed before them (a download half sent, a request Vidispine is applying). No request
 *   more is read (what follows is dropped); the answers owed go out whole, then the
 *   refusal, for the bytes it refuses, and the connection closes after it, lingering as
 *   nginx's does while its client still sends: what nginx, which reads a request only once
 *   the one before it is answered, sends.
 *
 * A request whose body the parser refuses (a chunk size that is not hex, or past 64 bits)
 * was handed on and counted when its head arrived: it is logged and counted with the
 * refusal its client got, as nginx logs its 400, not as a client gone (499). Answers to
 * requests before it still owed go out whole first, the refusal in its turn, as nginx
 * sends them: written at once, it would be read as the first of them.
 *
 * And HTTP/2 with prior knowledge (`curl --http2-prior-knowledge`), whose preface
 * (`PRI * HTTP/2.0`) the parser stops at, is refused in HTTP/2 rather than with a 400 its
 * client cannot read.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { attachedAnswer } from './answers';

interface Answer {
  readonly status: number;
  readonly text: string;
}

const answer = (status: number): Answer => ({
  status,
  text: `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n\r\n`,
});

/** Node's own error answers, as it words them. */
const ANSWERS: Readonly<Record<string, Answer>> = {
  HPE_HEADER_OVERFLOW: answer(431),
  HPE_CHUNK_EXTENSIONS_OVERFLOW: answer(413),
  ERR_HTTP_REQUEST_TIMEOUT: answer(408),
};
const BAD_REQUEST = answer(400);

/**
 * HTTP/2 is not offered, and an HTTP/2 client reads only HTTP/2: the server's preface (an
 * empty SETTINGS frame), then the client's first stream reset with HTTP_1_1_REQUIRED
 * (RFC 9113 §7), on which curl repeats the request over HTTP/1.1 on a new connection.
 */
const HTTP2_REFUSAL = Buffer.from([
  // SETTINGS: no parameters, stream 0.
  ...[0, 0, 0, 0x04, 0, 0, 0, 0, 0],
  // RST_STREAM on stream 1: HTTP_1_1_REQUIRED (0xd).
  ...[0, 0, 4, 0x03, 0, 0, 0, 0, 1, 0, 0, 0, 0x0d],
]);
/** Counted as the status HTTP/1.1 has for it: 505 HTTP Version Not Supported. */
const HTTP2_REFUSED_STATUS = 505;

/** The parser's own verdicts (`HPE_…`) and the head timeout, as against a failing connection. */
const isRefusal = (code: string | undefined): code is string =>
  code !== undefined && (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT');

/**
 * Whether Node still holds an answer on the connection whose head has gone out: an answer
 * this listener gave before the request was handed on (admission's own refusals) is not
 * owed any more, yet a second answer behind it would be read as the next request's. Node's
 * own handler asks the same of the connection's `_httpMessage`.
 */
function answerUnderWay(socket: Duplex): boolean {
  return attachedAnswer(socket)?.headersSent === true;
}

/** What became of requests already handed on when the parser refuses what follows them. */
export interface OwedRefusal {
  /**
   * The body of the request at the head of `socket` was refused: the listener answered it
   * `status` (the parser's `code`) and closes the connection, which ends that request.
   */
  answered(socket: Duplex, status: number, code: string): void;
  /** The proxy cuts `socket` before the answers still owed on it. */
  cut(socket: Duplex): void;
}

/**
 * Whether the parser refused bytes of a request already handed on. Not its end-of-input
 * error (`HPE_INVALID_EOF_STATE`): a client that ends its side in the middle of a body went
 * away (499), as any client that leaves before its answer.
 */
const refusedOwed = (code: string | undefined): code is string =>
  isRefusal(code) && code !== 'HPE_INVALID_EOF_STATE';

/**
 * Whether the parser refused the bytes itself, and so reads no request more from the
 * connection. Not the head timeout (`ERR_HTTP_REQUEST_TIMEOUT`), after which it goes on
 * parsing what the client sends: a refusal held back behind the answers owed would follow a
 * request read and forwarded meanwhile, and be read as its answer.
 */
const parserStopped = (code: string): boolean => code.startsWith('HPE_');

/**
 * Whether answers to requests before `owed` are still to go out on `socket`: the first of
 * them is the one attached to it, and a refusal written now would be read as its answer.
 */
function answersAhead(socket: Duplex, owed: ServerResponse | undefined): boolean {
  const head = attachedAnswer(socket);
  return owed !== undefined && head !== null && head !== owed;
}

/**
 * The listener's `clientError` handler.
 *
 * @param owedAnswer The answer still owed to the latest request read on `socket`, if any.
 * @param refused Told of each refusal written for a request never handed on, by its status,
 *   connection and the parser's code: a request the parser refused is still a request its
 *   client sent, and must show in the listener's metrics and access log.
 * @param owedRefused Told of a refusal that ends requests already handed on (`OwedRefusal`).
 * @param lingering The connections in their lingering close: Node calls again for each
 *   chunk such a connection still reads, which is dropped.
 */
export function clientErrorHandler(
  owedAnswer: (socket: Duplex) => ServerResponse | undefined,
  refused: (status: number, socket: Duplex, code: string) => void,
  owedRefused: OwedRefusal,
  lingering: { has(socket: Duplex): boolean; afterRefusal(socket: Duplex): void },
): (err: Error, socket: Duplex) => void {
  const toldHttp2 = new WeakSet<Duplex>();
  /**
   * Writes `refusal` behind the answers owed on `socket` and closes it lingering, whatever
   * the status: its client may still be sending (an upload behind the refused head, more
   * requests), and a close with its bytes unread would reset the connection, and the reset
   * throw away the refusal and the tail of the answers before it still in the kernel's
   * buffers, which the client was owed whole.
   */
  const closeAfter = (socket: Duplex, refusal: Answer): void => {
    socket.write(refusal.text);
    lingering.afterRefusal(socket);
  };
  /** Connections whose refusal waits for the answers owed before it (`refuseAfter`). */
  const refusingAfter = new WeakSet<Duplex>();
  /**
   * Writes the refusal of `code` once `last`, the answer to the latest whole request on
   * `socket`, has gone out (Node writes pipelined answers in order, so every answer before it
   * has too), then closes the connection; cuts it if that answer is cut.
   */
  const refuseAfter = (socket: Duplex, last: ServerResponse, code: string): void => {
    refusingAfter.add(socket);
    const refusal = ANSWERS[code] ?? BAD_REQUEST;
    last.once('close', () => {
      if (!last.writableFinished) {
        socket.destroy();
        return;
      }
      // The answer said `close`: Node closes the connection after it, nothing may follow it.
      if (!socket.writable) return;
      refused(refusal.status, socket, code);
      closeAfter(socket, refusal);
    });
  };
  /**
   * Writes the refusal of `code` in place of `refused`, the answer to the request whose body
   * it refuses, once the answers before it have gone out and it is the connection's turn,
   * then closes the connection. Ending the connection first keeps that request from reaching
   * Vidispine when its turn comes (`Exchange.start`). If an answer of its own is under way
   * by then, or the connection is gone, it is cut.
   */
  const refuseInTurn = (socket: Duplex, refused: ServerResponse, code: string): void => {
    refusingAfter.add(socket);
    const refusal = ANSWERS[code] ?? BAD_REQUEST;
    refused.once('socket', () => {
      if (refused.headersSent || !socket.writable) {
        owedRefused.cut(socket);
        socket.destroy();
        return;
      }
      owedRefused.answered(socket, refusal.status, code);
      closeAfter(socket, refusal);
    });
  };
  return (err, socket) => {
    if (lingering.has(socket) || refusingAfter.has(socket)) return;
    const { code } = err as NodeJS.ErrnoException;
    const owed = owedAnswer(socket);
    if (owed?.req.complete === true) {
      // The answer owed says `close` and ends the connection; Node keeps reading it meanwhile
      // (and calls again for each further chunk), which spares the client a reset.
      if (code === 'HPE_CLOSED_CONNECTION') return;
      if (refusedOwed(code) && parserStopped(code)) {
        refuseAfter(socket, owed, code);
        return;
      }
      if (refusedOwed(code)) owedRefused.cut(socket);
      socket.destroy(err);
      return;
    }
    if (toldHttp2.has(socket)) {
      // Node calls again for each further chunk; the head timeout ends a client that stays.
      if (code !== 'HPE_PAUSED_H2_UPGRADE') socket.destroy(err);
      return;
    }
    if (code === 'HPE_PAUSED_H2_UPGRADE' && owed === undefined && socket.writable) {
      toldHttp2.add(socket);
      socket.write(HTTP2_REFUSAL);
      refused(HTTP2_REFUSED_STATUS, socket, code);
      // Closed by the client: curl takes a close before it has read the reset for an empty
      // reply, and does not repeat the request.
      socket.once('end', () => socket.destroy());
      return;
    }
    if (
      socket.writable &&
      owed?.headersSent !== true &&
      !answerUnderWay(socket) &&
      !answersAhead(socket, owed)
    ) {
      const refusal = ANSWERS[code ?? ''] ?? BAD_REQUEST;
      socket.write(refusal.text);
      // A connection that failed under a head or a body (reset) was not a request refused.
      // A request whose answer is owed was counted when it arrived: it ends with this one.
      if (owed === undefined) {
        if (isRefusal(code)) refused(refusal.status, socket, code);
      } else if (refusedOwed(code)) owedRefused.answered(socket, refusal.status, code);
      // The client may still be sending what follows the bytes refused (an upload behind
      // the head, a head too large): a close with them unread draws a reset, which throws
      // the refusal away unread, logged as the client's. It lingers, as nginx's does with
      // bytes still to read (`lingering_close on`), whatever the status. Not after the head
      // timeout, whose client is too slow to be waited for, nor after the client ended
      // its side (end-of-input error): nothing more comes.
      if (owed === undefined && refusedOwed(code) && parserStopped(code)) {
        lingering.afterRefusal(socket);
        return;
      }
    } else if (owed !== undefined && refusedOwed(code)) {
      if (
        socket.writable &&
        !owed.headersSent &&
        answersAhead(socket, owed) &&
        parserStopped(code)
      ) {
        refuseInTurn(socket, owed, code);
        return;
      }
      owedRefused.cut(socket);
    }
    socket.destroy(err);
  };
}
