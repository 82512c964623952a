/**
 * Pipelined requests (several sent on one connection before the first is answered). Node
 * emits them all at once; forwarded as they come they would reach Vidispine on different
 * pooled connections in any order. RFC 9112 §9.3.2: only safe requests may be processed
 * in parallel — so a request starts at once only if nothing on its connection is still
 * being served, or if it and everything being served are safe and fewer than
 * `MAX_SAFE_AT_ONCE` are; otherwise it waits, in arrival order.
 */
import type { Socket } from 'node:net';

const SAFE: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Most requests of one connection served at once. Without a bound, one connection that
 * pipelines a few hundred GETs and reads no answer holds every connection to Vidispine
 * (`maxSockets`) until they time out, and every other client waits. Bounded, it holds no more
 * than eight ordinary clients do.
 */
const MAX_SAFE_AT_ONCE = 8;

/**
 * Most requests of one connection waiting their turn before the proxy stops reading it.
 * Node parses all a connection sends and stops reading only while its answers back up, so
 * a client that pipelined 200,000 GETs and read nothing had every one of them held at once
 * (600 MB). Stopped, a connection holds at most this many and what one read brought past it.
 * A connection not read cannot be seen closing until an answer is written to it, so this is
 * far above what any client pipelines in earnest.
 */
const MAX_WAITING = 256;

export function isSafe(method: string | undefined): boolean {
  return method !== undefined && SAFE.has(method);
}

/** A request waiting for, or holding, its turn on a connection. */
export interface Turn {
  readonly safe: boolean;
  start(): void;
}

/** The requests of one client connection being served, and those waiting their turn. */
class ConnectionQueue {
  private serving = 0;
  private unsafeServing = false;
  private readonly waiting: Turn[] = [];

  enter(turn: Turn): void {
    if (this.waiting.length === 0 && this.mayStart(turn)) this.run(turn);
    else this.waiting.push(turn);
  }

  leave(turn: Turn): void {
    const queued = this.waiting.indexOf(turn);
    if (queued >= 0) {
      this.waiting.splice(queued, 1);
      return;
    }
    this.serving -= 1;
    if (!turn.safe) this.unsafeServing = false;
    for (let next = this.waiting.at(0); next && this.mayStart(next); next = this.waiting.at(0)) {
      this.waiting.shift();
      this.run(next);
    }
  }

  /** Enough requests wait their turn: the connection is not read until some have started. */
  isCrowded(): boolean {
    return this.waiting.length >= MAX_WAITING;
  }

  /** Nothing being served and nothing waiting: the connection is idle. */
  isIdle(): boolean {
    return this.serving === 0 && this.waiting.length === 0;
  }

  private mayStart(turn: Turn): boolean {
    return (
      this.serving === 0 || (turn.safe && !this.unsafeServing && this.serving < MAX_SAFE_AT_ONCE)
    );
  }

  private run(turn: Turn): void {
    this.serving += 1;
    if (!turn.safe) this.unsafeServing = true;
    turn.start();
  }
}

/** One queue per client connection while it has requests, dropped when it turns idle. */
export class Pipelines {
  private readonly queues = new WeakMap<Socket, ConnectionQueue>();
  private readonly closing = new WeakSet<Socket>();
  /** Connections not read while crowded. */
  private readonly held = new WeakSet<Socket>();

  /**
   * An answer on `socket` said `Connection: close`: nothing that follows it on the
   * connection may be answered (RFC 9112 §9.6). Node stops reading requests itself, but a
   * CONNECT or an upgrade pipelined behind it has already been handed over as a raw socket.
   */
  closeAfterAnswer(socket: Socket): void {
    this.closing.add(socket);
  }

  /** Whether an answer already given on `socket` closes it. */
  isClosing(socket: Socket): boolean {
    return this.closing.has(socket);
  }

  /** Starts `turn` now, or once the connection's earlier requests allow. */
  enter(socket: Socket, turn: Turn): void {
    let queue = this.queues.get(socket);
    if (queue === undefined) {
      queue = new ConnectionQueue();
      this.queues.set(socket, queue);
    }
    queue.enter(turn);
    if (queue.isCrowded()) this.hold(socket);
  }

  /** `turn` was answered, or its client went away: the next may start. */
  leave(socket: Socket, turn: Turn): void {
    const queue = this.queues.get(socket);
    if (queue === undefined) return;
    queue.leave(turn);
    if (!queue.isCrowded()) this.release(socket);
    if (queue.isIdle()) this.queues.delete(socket);
  }

  private hold(socket: Socket): void {
    if (this.held.has(socket)) return;
    this.held.add(socket);
    socket.on('resume', stayPaused);
    socket.pause();
  }

  private release(socket: Socket): void {
    if (!this.held.delete(socket)) return;
    socket.off('resume', stayPaused);
    socket.resume();
  }
}

/**
 * Undoes a resume of a held connection (Node's own, once an answer drained; a body being
 * read) at once, as Node undoes one of its own pauses.
 */
function stayPaused(this: Socket): void {
  this.pause();
}
