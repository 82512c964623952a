/**
 * nginx's `send_timeout`: an answer whose client takes none of the bytes the proxy holds
 * for it for `sendTimeoutSeconds` is cut. Backpressure holds Vidispine's answer back for a
 * client that stopped reading, which is right for a slow one, but a client that never reads
 * again (a hung process, a peer gone behind a NAT that still acknowledges for it) would
 * otherwise keep its connection and one to Vidispine for as long as it stays connected.
 */
import type { ServerResponse } from 'node:http';

export class SendTimeout {
  private timer: NodeJS.Timeout | undefined;
  /** A write waits for the client's connection to drain. */
  private waiting = false;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly ms: number,
    private readonly onStalled: () => void,
  ) {}

  /**
   * A write the client's connection did not take at once: the clock runs until it drains.
   * An answer pipelined behind another has no connection yet (`res.socket` is null): it
   * waits for its turn, not for its client.
   */
  readonly held = (): void => {
    if (this.closed || this.res.socket === null) return;
    this.waiting = true;
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      if (this.waiting) this.onStalled();
    }, this.ms);
    this.res.on('drain', () => (this.waiting = false));
    this.res.once('close', () => {
      this.closed = true;
      clearTimeout(this.timer);
    });
  };
}

/**
 * Cuts an answer whose client stopped reading. A reset, not an orderly close: the bytes
 * queued for the client are dropped at once rather than kept by the kernel, in an orphaned
 * socket, for a reader that does not read.
 */
export function cutStalledAnswer(res: ServerResponse): void {
  const socket = res.socket;
  if (socket === null || socket.destroyed) res.destroy();
  else socket.resetAndDestroy();
}
