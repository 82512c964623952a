/**
 * Client request bodies: the process-wide budget for those held in memory to replay after a
 * 401, reading one whole, and the idle timeout that ends a body the client stopped sending
 * (nginx's `client_body_timeout`).
 */
import type { IncomingMessage } from 'node:http';

/**
 * Bytes of request bodies held at once, across every listener. A body that does not fit
 * is streamed instead (with `Expect: 100-continue`, as a large one), so a crowd of clients
 * that send 1 MiB and stall costs sockets, not memory.
 */
export class BodyBudget {
  private used = 0;

  constructor(private readonly limit: number) {}

  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

/**
 * A body of declared length, as the chunks the parser handed over (nothing allocated
 * ahead, so a client that declares 1 MiB and sends 10 bytes holds 10). Rejects when the
 * client goes away first.
 */
export function readWhole(req: IncomingMessage): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks));
    req.once('close', () => {
      if (!req.complete) reject(new Error('client closed before sending the whole body'));
    });
  });
}

/**
 * Calls `onIdle` when the client sends no body byte for `ms` while the proxy is ready to
 * read — time the body spends held back by backpressure (the proxy paused it) does not
 * count. Stops by itself at the body's end or close, or its connection's close: a request
 * answered before its body ended (Vidispine's early 413) is no longer Node's to close with
 * its connection, and its timer would hold it, and what it was read for, until it fired.
 */
export function watchBodyIdle(req: IncomingMessage, ms: number, onIdle: () => void): void {
  const socket = req.socket;
  const timer = setTimeout(() => {
    if (req.readableFlowing === false) timer.refresh();
    else onIdle();
  }, ms);
  const refresh = (): void => {
    timer.refresh();
  };
  const stop = (): void => {
    clearTimeout(timer);
    req.off('data', refresh);
    req.off('end', stop);
    req.off('close', stop);
    // One connection carries request after request: each leaves no listener behind.
    socket.off('close', stop);
  };
  req.on('data', refresh);
  req.once('end', stop);
  req.once('close', stop);
  socket.once('close', stop);
}
