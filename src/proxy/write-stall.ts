/**
 * nginx's `proxy_send_timeout` for a request body: Vidispine takes no byte of what the proxy
 * holds for it for the response timeout, and the request is cut. Node's socket timeout cannot
 * tell this: it lets its first expiry pass whenever the kernel took part of a write since
 * the write was handed over (`Socket#_onTimeout` compares the queue's size with the one at
 * that write), which a window filling up always does, so a stalled upload was cut only
 * after twice the timeout (600 s by default).
 */
import type { Socket } from 'node:net';

/**
 * How many looks one timeout is split into: a stall is seen no sooner than the timeout after
 * the last byte Vidispine took, and at most a tenth of it later.
 */
export const LOOKS_PER_TIMEOUT = 10;

/** Where a connection's writes stand: any change between two looks is a byte taken (or a new write). */
export function writeMark(socket: Socket): string {
  return `${socket.bytesWritten}/${socket.writableLength}/${inKernelQueue(socket)}`;
}

/** A stream handle's libuv write queue, where Node keeps it (`Socket#_onTimeout` reads it too). */
interface QueuedHandle {
  readonly writeQueueSize?: unknown;
  /** Under a TLS connection's handle (the TLSWrap): the TCP connection's own. */
  readonly _parent?: QueuedHandle | null;
}

/**
 * Bytes of the write under way that the kernel has not taken yet (libuv's queue). A write
 * counts in `writableLength` until the kernel took all of it; its part taken is progress.
 * Over TLS the connection's queue holds the whole batch of records until the kernel took its
 * last byte, so the TCP connection's queue under it is what shows a part taken.
 */
function inKernelQueue(socket: Socket): string {
  const handle = (socket as unknown as { _handle?: QueuedHandle | null })._handle;
  return `${queueSize(handle)}/${queueSize(handle?._parent)}`;
}

function queueSize(handle: QueuedHandle | null | undefined): number {
  const size = handle?.writeQueueSize;
  return typeof size === 'number' ? size : 0;
}

/**
 * Calls `onStalled` once `socket` holds bytes it could not write and none went for `ms`;
 * returns the stop. Quiet with nothing held (the client sending slowly, Vidispine thinking
 * over its answer) is judged elsewhere.
 */
export function watchWriteStall(socket: Socket, ms: number, onStalled: () => void): () => void {
  let mark = writeMark(socket);
  let quietLooks = 0;
  const look = (): void => {
    const now = writeMark(socket);
    if (socket.writableLength === 0 || now !== mark) {
      mark = now;
      quietLooks = 0;
      return;
    }
    quietLooks += 1;
    if (quietLooks < LOOKS_PER_TIMEOUT) return;
    clearInterval(timer);
    onStalled();
  };
  const timer = setInterval(look, ms / LOOKS_PER_TIMEOUT);
  return () => clearInterval(timer);
}
