/**
 * nginx's `send_timeout`: an answer whose client takes none of the bytes the proxy holds
 * for it for `sendTimeoutSeconds` is cut, and so is a WebSocket session's. Backpressure
 * holds Vidispine's bytes back for a client that stopped reading, which is right for a slow
 * one, but a client that never reads again (a hung process, a peer gone behind a NAT that
 * still acknowledges for it) would otherwise keep its connection and one to Vidispine for
 * as long as it stays connected.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { resetConnection } from './answers';

/** Where the held bytes go: an answer, or the client's side of a WebSocket tunnel. */
export interface SendTarget {
  /** A write was not taken at once and the target is still open: bytes are held. */
  readonly writableNeedDrain: boolean;
  on(name: 'drain', listener: () => void): unknown;
  once(name: 'close', listener: () => void): unknown;
}

export class SendTimeout {
  private timer: NodeJS.Timeout | undefined;
  /** A write waits for the client's connection to drain. */
  private waiting = false;
  private closed = false;

  /**
   * @param queued whether the target is still waiting for its turn on the connection: an
   * answer pipelined behind another is not held by its client.
   * @param onDrain how the target says it drained (`onAnswerDrained` for an answer).
   */
  constructor(
    private readonly target: SendTarget,
    private readonly ms: number,
    private readonly onStalled: () => void,
    private readonly queued: () => boolean = () => false,
    private readonly onDrain: (listener: () => void) => void = (listener) =>
      target.on('drain', listener),
  ) {}

  /**
   * A write the client's connection did not take at once: the clock runs until it drains.
   * A pipe also pauses its source when it comes apart, at the answer's end or its client's
   * leaving, with nothing held: no clock then, which would keep the answer for a minute.
   */
  readonly held = (): void => {
    if (this.closed || !this.target.writableNeedDrain || this.queued()) return;
    this.waiting = true;
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      if (this.waiting) this.onStalled();
    }, this.ms);
    this.onDrain(() => (this.waiting = false));
    this.target.once('close', () => {
      this.closed = true;
      clearTimeout(this.timer);
    });
  };
}

/**
 * `listener` each time the client's connection of `res` drained after a write to `res` was
 * held back. Node also emits 'drain' on an answer from inside a write to one pipelined
 * behind it (`socketOnDrain`), with the connection still full: taken for room, that let the
 * answer be read on into memory, a chunk for each write behind it, and kept its send timeout
 * from running out. The listener runs after the write that emitted it returned: that may be
 * undici handing over another request's body chunk, and undici's parsers share one "parsing
 * now" slot and assert that none resumes while another parses (the other request failed as a
 * Vidispine error, reason "other", with its connection).
 */
export function onAnswerDrained(res: ServerResponse, listener: () => void): void {
  const drained = (): void => {
    const { socket } = res;
    if (socket?.writableNeedDrain === true) socket.once('drain', drained);
    else queueMicrotask(listener);
  };
  res.on('drain', drained);
}

/** Cuts an answer whose client stopped reading, with a reset (`resetConnection`). */
export function cutStalledAnswer(res: ServerResponse): void {
  if (!resetConnection(res.socket)) res.destroy();
}

/** Cuts a WebSocket session whose client stopped reading, with a reset. */
export function cutStalledTunnel(client: Duplex): void {
  if (!resetConnection(client)) client.destroy();
}
