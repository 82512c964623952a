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
   */
  constructor(
    private readonly target: SendTarget,
    private readonly ms: number,
    private readonly onStalled: () => void,
    private readonly queued: () => boolean = () => false,
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
    this.target.on('drain', () => (this.waiting = false));
    this.target.once('close', () => {
      this.closed = true;
      clearTimeout(this.timer);
    });
  };
}

/** Cuts an answer whose client stopped reading, with a reset (`resetConnection`). */
export function cutStalledAnswer(res: ServerResponse): void {
  if (!resetConnection(res.socket)) res.destroy();
}

/** Cuts a WebSocket session whose client stopped reading, with a reset. */
export function cutStalledTunnel(client: Duplex): void {
  if (!resetConnection(client)) client.destroy();
}
