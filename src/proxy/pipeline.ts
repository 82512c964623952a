/**
 * Pipelined requests (several sent on one connection before the first is answered). Node
 * emits them all at once; forwarded as they come they would reach Vidispine on different
 * pooled connections in any order. RFC 9112 §9.3.2: only safe requests may be processed
 * in parallel — so a request starts at once only if nothing on its connection is still
 * being served, or if it and everything being served are safe, fewer than
 * `MAX_SAFE_AT_ONCE` are, and the connection takes its answers (`takesAnswers`); otherwise
 * it waits, in arrival order.
 */
import type { Socket } from 'node:net';
import { resetConnection } from './answers';
import { holdReading, releaseReading } from './held-reading';
import { CLIENT_CLOSED, CONNECTION_DROPPED } from './observer';

const SAFE: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Most requests of one connection served at once, once it takes its answers. Each holds a
 * connection to Vidispine (of `maxSockets`) until its answer is out of Vidispine: side by
 * side from the first request, a client that pipelined downloads and read nothing held eight
 * until `sendTimeoutSeconds` cut them (32 such clients held all 256 of the default pool), and
 * every other client waited that long. So side by side is earned: a connection serves one request
 * at a time, as nginx serves them all, until an answer went out whole while it took its
 * bytes (`takesAnswers`): one that pipelines and reads nothing holds one connection to
 * Vidispine, not eight, whatever the size of its answers.
 */
const MAX_SAFE_AT_ONCE = 8;

/**
 * How long a connection's client may take nothing (its side backed up, not drained once)
 * while answers served beside its head wait their turn with their buffers full, each holding
 * a connection to Vidispine, and other requests wait for one (`mayAbandon`), before the
 * connection is closed behind the answer under way. One small answer read earns side by
 * side service (`takesAnswers`): a client that then pipelined eight downloads and read
 * nothing held eight connections to Vidispine until `sendTimeoutSeconds` cut the first (a
 * minute by default), and 32 such clients held the default pool. The head answer keeps its
 * own send timeout, and the requests behind it are left unanswered, as behind any answer
 * that closes a connection, for the client to send again.
 */
const STALLED_BEHIND_MS = 5_000;

/**
 * Whether a connection whose answers wait behind one its client took nothing of for
 * `STALLED_BEHIND_MS` is closed behind it. A drain says little of a client that reads
 * slowly: Linux wakes a writer only once a third of its send buffer is free (some 1.4 MB on
 * loopback, autotuned up to tcp_wmem's 4 MiB), so a client reading at 200 KB/s drains every
 * 7 s, one at 50 KB/s every 28 s. Its connections to Vidispine cost nobody anything while
 * none of the pool's is wanted: they are let go only once another request waits for one.
 */
export function mayAbandon(clientBackedUp: boolean, poolWanted: boolean): boolean {
  return clientBackedUp && poolWanted;
}

/**
 * Most requests of one connection waiting their turn before the proxy stops reading it.
 * Node parses all a connection sends and stops reading only while its answers back up, so
 * a client that pipelined 200,000 GETs and read nothing had every one of them held at once
 * (600 MB). Stopped, a connection holds at most this many and what one read brought past it.
 * A connection not read cannot be seen closing until an answer is written to it, so this is
 * far above what any client pipelines in earnest.
 */
const MAX_WAITING = 256;

/**
 * Most requests waiting their turn on all connections of the process together; past it the
 * connection with the most of them is reset. `MAX_WAITING` alone does not bound them: Node
 * parses a whole read before a connection stops being read, and one read of small GETs
 * (64 KiB) is some 1,700 requests, about 3.8 KB of heap each, so 40 connections that
 * pipelined and read nothing held 0.7–0.9 GB, and on the shared gateway any client could have
 * the proxy killed for its memory. 4,096 is some 15 MB, under a tenth of the sidecar's
 * 192 MiB limit; two connections that each send a whole read of GETs fit under it, and
 * pipelining in earnest holds less: 256 connections 16 deep hold 2,048 (8 of each are
 * served, not waiting), and 3,840 before their first answer went out (one of each is).
 */
const MAX_WAITING_TOTAL = 4096;

export function isSafe(method: string | undefined): boolean {
  return method !== undefined && SAFE.has(method);
}

/** A request waiting for, or holding, its turn on a connection. */
export interface Turn {
  readonly safe: boolean;
  /**
   * Its answer's body, if any, fits the buffer of an answer waiting its turn: one pipelined
   * behind another takes it whole, so it never holds its connection to Vidispine while it
   * waits. Asked once the turn is over.
   */
  readonly small: boolean;
  /**
   * Its answer waits its turn behind another with its buffer full: it holds its connection
   * to Vidispine until its turn. Only an exchange's answer can.
   */
  readonly heldBehind?: boolean;
  start(): void;
  /** Its connection closes before its turn: what it holds upstream is let go, never answered. */
  abandon?(): void;
}

function isHeldBehind(turn: Turn): boolean {
  return turn.heldBehind === true;
}

/**
 * Whether requests of a connection may be served side by side after an answer went out: it
 * was small (see `Turn.small`) and its client's side had room for it. A large answer, or one
 * that backs up because its client does not read, and the connection serves one at a time:
 * the next answers may be large too, and held back behind it each would hold a connection to
 * Vidispine. The kernel takes megabytes for a client that reads nothing, so an answer that
 * went out whole does not show by itself that its client reads.
 */
function takesAnswers(answerSmall: boolean, clientBackedUp: boolean): boolean {
  return answerSmall && !clientBackedUp;
}

/** The requests of one client connection being served, and those waiting their turn. */
class ConnectionQueue {
  /** Being served, in the order their answers go out. */
  private readonly serving: Turn[] = [];
  private unsafeServing = false;
  private readonly waiting: Turn[] = [];
  /** Closed behind the answer under way (`abandonBehind`): nothing more starts. */
  private closed = false;
  private stallWatch: NodeJS.Timeout | undefined;

  /**
   * @param takingAnswers See `takesAnswers`: as its last answer left it, false before the
   *   first.
   */
  constructor(
    readonly socket: Socket,
    readonly owner: Pipelines,
    private takingAnswers: boolean,
  ) {}

  /** See `takesAnswers`. */
  get takesAnswers(): boolean {
    return this.takingAnswers;
  }

  /** Requests waiting their turn. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Starts `turn` or queues it; whether it waits. */
  enter(turn: Turn): boolean {
    if (this.waiting.length === 0 && this.mayStart(turn)) {
      this.run(turn);
      return false;
    }
    this.waiting.push(turn);
    return true;
  }

  /** How many stopped waiting: `turn` itself if it was waiting, else those that started. */
  leave(turn: Turn): number {
    const queued = this.waiting.indexOf(turn);
    if (queued >= 0) {
      this.waiting.splice(queued, 1);
      return 1;
    }
    const at = this.serving.indexOf(turn);
    if (at >= 0) this.serving.splice(at, 1);
    if (!turn.safe) this.unsafeServing = false;
    this.takingAnswers = takesAnswers(turn.small, this.socket.writableNeedDrain);
    let started = 0;
    for (let next = this.waiting.at(0); next && this.mayStart(next); next = this.waiting.at(0)) {
      this.waiting.shift();
      this.run(next);
      started += 1;
    }
    return started;
  }

  /** Enough requests wait their turn: the connection is not read until some have started. */
  isCrowded(): boolean {
    return this.waiting.length >= MAX_WAITING;
  }

  /** Nothing being served and nothing waiting: the connection is idle. */
  isIdle(): boolean {
    return this.serving.length === 0 && this.waiting.length === 0;
  }

  /**
   * An answer served beside the head waits its turn with its buffer full: once its client
   * took nothing for `ms` while it does, and other requests want a connection to Vidispine
   * (`mayAbandon`), `onStalled`. Its client's side backed up without draining once in that
   * time; a head answer slow at Vidispine, with the client's side empty, is not the
   * client's doing and keeps it watched, as does a pool with connections to spare.
   */
  watchStall(ms: number, poolWanted: () => boolean, onStalled: () => void): void {
    if (this.stallWatch !== undefined || this.closed) return;
    const { socket } = this;
    // Each drain is bytes taken: the clock starts again.
    const onDrain = (): void => {
      timer.refresh();
    };
    const stop = (): void => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', stop);
      this.stallWatch = undefined;
    };
    const timer = setTimeout(() => {
      if (!this.serving.some(isHeldBehind)) stop();
      else if (mayAbandon(socket.writableNeedDrain, poolWanted())) {
        stop();
        onStalled();
      } else timer.refresh();
    }, ms);
    this.stallWatch = timer;
    socket.on('drain', onDrain);
    socket.once('close', stop);
  }

  /**
   * Closes the connection behind the answers that can still go out: from the first that
   * waits its turn holding Vidispine, every request served is let go and its connection
   * closes where its answer would have gone (`Turn.abandon`); none waiting starts. How many
   * were let go, and how many wait.
   */
  abandonBehind(): { served: number; waiting: number } {
    this.closed = true;
    const from = this.serving.findIndex(isHeldBehind);
    const behind = from < 0 ? [] : this.serving.slice(from);
    for (const turn of behind) turn.abandon?.();
    return { served: behind.length, waiting: this.waiting.length };
  }

  private mayStart(turn: Turn): boolean {
    if (this.closed) return false;
    return (
      this.serving.length === 0 ||
      (turn.safe &&
        !this.unsafeServing &&
        this.serving.length < MAX_SAFE_AT_ONCE &&
        this.takingAnswers &&
        // Its client stopped taking the answer under way: the next may wait for it as well.
        !this.socket.writableNeedDrain)
    );
  }

  private run(turn: Turn): void {
    this.serving.push(turn);
    if (!turn.safe) this.unsafeServing = true;
    turn.start();
  }
}

/**
 * The requests waiting their turn on every connection of the process, shared by the
 * listeners' `Pipelines`, and the connections they wait on: the only ones that may be reset
 * for it. Nothing is counted for a request that starts at once, as every request does on a
 * connection that does not pipeline.
 */
export class WaitingRequests {
  private count = 0;
  private readonly crowds = new Set<ConnectionQueue>();

  /** @param budget Default `MAX_WAITING_TOTAL`. */
  constructor(readonly budget: number = MAX_WAITING_TOTAL) {}

  /** One more waits on `queue`: past the budget, the deepest queue's connection is reset. */
  added(queue: ConnectionQueue): void {
    this.count += 1;
    this.crowds.add(queue);
    if (this.count > this.budget) {
      const deepest = deepestOf(this.crowds, queue);
      this.forget(deepest);
      deepest.owner.drop(deepest);
    }
  }

  /** `left` of those waiting on `queue` started or went. */
  removed(queue: ConnectionQueue, left: number): void {
    this.count -= left;
    if (queue.depth === 0) this.crowds.delete(queue);
  }

  private forget(queue: ConnectionQueue): void {
    this.count -= queue.depth;
    this.crowds.delete(queue);
  }
}

/** Only when the budget is exceeded, so only under abuse, are the queues looked through. */
function deepestOf(queues: Iterable<ConnectionQueue>, first: ConnectionQueue): ConnectionQueue {
  let deepest = first;
  for (const queue of queues) if (queue.depth > deepest.depth) deepest = queue;
  return deepest;
}

/** Told of a connection reset because it had the most requests waiting, and how many. */
export type Dropped = (socket: Socket, waiting: number) => void;

/**
 * Told of a connection closed behind its answer under way because its client took nothing
 * while answers beside it held connections to Vidispine: how many of those were let go, and
 * how many requests waited their turn.
 */
export type Abandoned = (socket: Socket, counts: { served: number; waiting: number }) => void;

/** One queue per client connection while it has requests, dropped when it turns idle. */
export class Pipelines {
  private readonly queues = new WeakMap<Socket, ConnectionQueue>();
  private readonly closing = new WeakSet<Socket>();
  /** Connections not read while crowded. */
  private readonly held = new WeakSet<Socket>();
  /**
   * Connections the proxy closes before answers it owes: reset for the bound on waiting
   * requests, closed behind the answer under way (`heldBehind`), or at the end of the drain.
   */
  private readonly dropped = new WeakSet<Socket>();
  /**
   * Connections whose request at the head, its body refused by the parser, was answered by
   * the listener itself (Node's 400) before they closed: its status and the parser's code.
   */
  private readonly refused = new WeakMap<Socket, { status: number; code: string }>();
  /**
   * Idle connections that took their last answer (see `takesAnswers`): a client that
   * pipelines in batches, as wrk does, waits for the answers of one before it sends the next.
   */
  private readonly taking = new WeakSet<Socket>();

  /**
   * @param waiting The process-wide count, shared by every listener; one of its own by default.
   * @param onDropped Told before the connection is reset (its address is gone after).
   * @param onAbandoned Told when a connection is closed behind its answer under way.
   * @param poolWanted Whether other requests wait for a connection to Vidispine (`mayAbandon`).
   */
  constructor(
    private readonly waiting: WaitingRequests = new WaitingRequests(),
    private readonly onDropped: Dropped = () => undefined,
    private readonly onAbandoned: Abandoned = () => undefined,
    private readonly poolWanted: () => boolean = () => true,
  ) {}

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

  /** Whether the proxy closes `socket` before answers it owes (see `dropped`). */
  wasDropped(socket: Socket): boolean {
    return this.dropped.has(socket);
  }

  /** The proxy closes `socket` before the answers it owes (its drain window ran out). */
  dropping(socket: Socket): void {
    this.dropped.add(socket);
  }

  /**
   * The parser refused the body of the request at the head of `socket`, and the listener
   * answered it `status` itself before closing the connection: that request's status, not
   * a client gone (`refusedBody`).
   */
  refusing(socket: Socket, status: number, code: string): void {
    this.refused.set(socket, { status, code });
  }

  /** The status of a request whose connection closed before its answer: who closed it. */
  unansweredStatus(socket: Socket): number {
    if (this.dropped.has(socket)) return CONNECTION_DROPPED;
    return this.refused.get(socket)?.status ?? CLIENT_CLOSED;
  }

  /** Why the parser refused the body of that request, when it did (`refusing`). */
  refusedBody(socket: Socket): string | undefined {
    return this.dropped.has(socket) ? undefined : this.refused.get(socket)?.code;
  }

  /** Starts `turn` now, or once the connection's earlier requests allow. */
  enter(socket: Socket, turn: Turn): void {
    let queue = this.queues.get(socket);
    if (queue === undefined) {
      queue = new ConnectionQueue(socket, this, this.taking.has(socket));
      this.queues.set(socket, queue);
    }
    if (!queue.enter(turn)) return;
    if (queue.isCrowded()) this.hold(socket);
    this.waiting.added(queue);
  }

  /**
   * An answer served beside the head of `socket` waits its turn with its buffer full, holding
   * its connection to Vidispine: if its client takes nothing for `STALLED_BEHIND_MS` while it
   * does and other requests wait for a connection to Vidispine, the connection is closed
   * behind the answers that can still go out, and those
   * served behind them let go (`ConnectionQueue.abandonBehind`).
   */
  heldBehind(socket: Socket): void {
    const queue = this.queues.get(socket);
    queue?.watchStall(STALLED_BEHIND_MS, this.poolWanted, () => {
      this.closing.add(socket);
      this.dropped.add(socket);
      this.onAbandoned(socket, queue.abandonBehind());
    });
  }

  /** `turn` was answered, or its client went away: the next may start. */
  leave(socket: Socket, turn: Turn): void {
    const queue = this.queues.get(socket);
    if (queue === undefined) return;
    const left = queue.leave(turn);
    if (left > 0) {
      this.waiting.removed(queue, left);
      if (!queue.isCrowded()) this.release(socket);
    }
    if (!queue.isIdle()) return;
    this.queues.delete(socket);
    if (queue.takesAnswers) this.taking.add(socket);
    else this.taking.delete(socket);
  }

  /**
   * Resets the connection of `queue`, which `WaitingRequests` no longer counts. Its requests
   * end as on any client that left; none waiting starts. Those Node parses after it from the
   * same read are not handled at all, as behind an answer that closes the connection.
   */
  drop(queue: ConnectionQueue): void {
    const { socket } = queue;
    this.queues.delete(socket);
    this.closing.add(socket);
    this.dropped.add(socket);
    this.onDropped(socket, queue.depth);
    if (!resetConnection(socket)) socket.destroy();
  }

  private hold(socket: Socket): void {
    if (this.held.has(socket)) return;
    this.held.add(socket);
    holdReading(socket);
  }

  private release(socket: Socket): void {
    if (!this.held.delete(socket)) return;
    releaseReading(socket);
  }
}
