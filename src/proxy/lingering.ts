/**
 * The lingering close (nginx's `lingering_close`): a connection whose answer said `close`
 * while its request's body was still coming is not closed at once. Linux answers the close
 * of a socket with unread bytes, or bytes arriving after it, with a reset, and a reset
 * makes the client's kernel throw away what it had not read yet — the answer itself — so
 * a client that writes its body before it reads (many do, until the body is sent) would see
 * ECONNRESET instead of the status. The proxy half-closes instead (FIN after the answer),
 * reads and drops what the client still sends, and closes once the client closes, or when a
 * bound below is reached. What is read here was a refused request's body: it goes nowhere.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export interface LingerBounds {
  /** The whole lingering close, at most (nginx's `lingering_time`). */
  readonly totalMs: number;
  /** The wait for each read (nginx's `lingering_timeout`). */
  readonly idleMs: number;
  /** Bytes dropped, at most: beyond them the client is not going to read while it sends. */
  readonly bytes: number;
}

/**
 * nginx's bounds, 30 s and 5 s; nginx has none on bytes. 1 GiB read to waste at most:
 * dropping holds no memory, only reads, and on loopback, where a sidecar's client sends
 * fastest, the time bounds alone would let one client keep a core busy for 30 s.
 */
export const LINGER: LingerBounds = { totalMs: 30_000, idleMs: 5_000, bytes: 1024 * 1024 * 1024 };

/**
 * How long the connections answered at the drain window's end (the 503 to an upload still
 * coming), and those lingering once a drain has nothing left in flight, linger before the
 * final cut. A client that reads while it writes has the answer
 * within milliseconds, on loopback or in a pod; this covers one held up by a pause of its own
 * (a collection, a busy core). No longer: the window's end is a deadline, and the chart only
 * asks that `delaySeconds + drainSeconds` be below `terminationGracePeriodSeconds`, so the
 * time left before the kubelet's SIGKILL may be as little as 1 s, which the stop and the exit
 * need too. Ends sooner once every such client has closed.
 */
export const CUT_ANSWER_GRACE_MS = 500;

/** One connection's lingering close so far. */
export interface Lingered {
  readonly startedAt: number;
  /** When the client last sent a byte (or the lingering close began). */
  readonly lastReadAt: number;
  /** Bytes read and dropped. */
  readonly read: number;
}

/** Which bound, if any, ends a lingering close at `now`. */
export function lingerEnd(
  s: Lingered,
  now: number,
  bounds: LingerBounds,
): 'total' | 'idle' | 'bytes' | undefined {
  if (s.read > bounds.bytes) return 'bytes';
  if (now - s.startedAt >= bounds.totalMs) return 'total';
  if (now - s.lastReadAt >= bounds.idleMs) return 'idle';
  return undefined;
}

/**
 * How often a lingering close looks at what was read: every second, or a fifth of a shorter
 * bound, so a client silent for nginx's 5 s is closed within 6 s.
 */
export const lingerTickMs = (bounds: LingerBounds): number =>
  Math.max(1, Math.min(1000, bounds.idleMs / 5, bounds.totalMs / 5));

/** The connections of one listener in their lingering close. */
export class LingeringClose {
  private readonly sockets = new Set<Socket>();
  /** The latest request read on each connection: its body is what may still be coming. */
  private readonly latest = new WeakMap<Socket, IncomingMessage>();

  /**
   * @param closing Told of a connection as it begins its lingering close: no request read
   *   on it after this one may be served (RFC 9112 §9.6).
   */
  constructor(
    private readonly closing: (socket: Socket) => void,
    private readonly bounds: LingerBounds = LINGER,
  ) {}

  /**
   * `req` was read on its connection. Node closes a connection after an answer that says
   * `close` through its `destroySoon` (in both Node.js 20 and 24), the one place that knows
   * the answer went out: the connection's own takes its place.
   */
  received(req: IncomingMessage): void {
    const socket = req.socket;
    if (!this.latest.has(socket)) {
      const destroySoon = socket.destroySoon.bind(socket);
      socket.destroySoon = () => {
        const latest = this.latest.get(socket);
        if (latest === undefined || latest.complete) destroySoon();
        else this.linger(socket, latest);
      };
    }
    this.latest.set(socket, req);
  }

  /** How many connections are in their lingering close. */
  count(): number {
    return this.sockets.size;
  }

  /** Closes them all now (the drain window is over). */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * Calls `cut` once the clients of `answered` (just answered: their lingering close is about
   * to begin) and of every connection in its lingering close have closed them, or once
   * `graceMs` have passed, whichever comes first. Returns a function that calls it now.
   */
  cutAfter(answered: readonly Socket[], graceMs: number, cut: () => void): () => void {
    const open = new Set([...answered, ...this.sockets].filter((s) => !s.destroyed));
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cut();
    };
    const timer = setTimeout(finish, graceMs);
    for (const socket of open) {
      socket.once('close', () => {
        open.delete(socket);
        if (open.size === 0) finish();
      });
    }
    if (open.size === 0) finish();
    return finish;
  }

  /**
   * A refusal was written on `socket` for a request its client may still be sending (Node's
   * parser stopped reading it): the connection lingers instead of being closed now.
   */
  afterRefusal(socket: Socket): void {
    if (!this.sockets.has(socket)) this.begin(socket);
  }

  /**
   * `socket`, a handed-over connection already in a lingering close of its own
   * (`endHandedOver`), is given the same grace as those of this listener's requests.
   */
  adopt(socket: Socket): void {
    if (this.sockets.has(socket) || socket.destroyed) return;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Whether `socket` is in its lingering close. */
  has(socket: Socket): boolean {
    return this.sockets.has(socket);
  }

  private linger(socket: Socket, req: IncomingMessage): void {
    // Whatever still reads the body (a pipe to an attempt given up on) reads no more; the
    // rest flows to nowhere.
    req.unpipe();
    req.resume();
    this.begin(socket);
  }

  private begin(socket: Socket): void {
    this.sockets.add(socket);
    this.closing(socket);
    socket.once('close', () => this.sockets.delete(socket));
    lingerOn(socket, this.bounds);
  }
}

/**
 * Ends `socket` after `last` (its last answer, if not written yet) with a lingering close:
 * FIN, then what the client still sends is read and dropped until it closes or a bound is
 * reached.
 */
export function lingerOn(socket: Socket, bounds: LingerBounds, last?: string): void {
  // Counted on the socket: Node's parser drops a body nobody read without a 'data' event.
  const state: Lingered = { startedAt: Date.now(), lastReadAt: Date.now(), read: 0 };
  const firstRead = socket.bytesRead;
  const check = setInterval(() => {
    const read = socket.bytesRead - firstRead;
    const now = Date.now();
    if (read !== state.read) Object.assign(state, { read, lastReadAt: now });
    if (lingerEnd(state, now, bounds) !== undefined) socket.destroy();
  }, lingerTickMs(bounds));
  dropBelowParser(socket);
  // The client closed its side: everything it sent was read, the close resets nothing.
  socket.once('end', () => socket.destroy());
  socket.once('close', () => clearInterval(check));
  // The FIN goes after the answer, still queued or not.
  if (last === undefined) socket.end();
  else socket.end(last);
  socket.resume();
}

/** What a net.Socket keeps of its libuv handle: whether it reads, and how it starts. */
interface ReadingHandle {
  reading: boolean;
  readStart(): number;
}

/**
 * What `socket` still reads is dropped as bytes from now on, never fed to Node's HTTP parser:
 * fed to it, each request the client pipelines behind the answer would become a request and
 * an answer Node keeps, unanswered, until the connection closes, and a client could pile up
 * hundreds of MB of them within the lingering close's bounds. A listener of its own first
 * (Node's server then stops feeding its parser from the socket's handle directly), then
 * every other one goes, the server's among them.
 */
function dropBelowParser(socket: Socket): void {
  const drop = (): void => undefined;
  socket.on('data', drop);
  for (const listener of socket.listeners('data')) {
    if (listener !== drop) socket.removeListener('data', listener as (chunk: Buffer) => void);
  }
  // While the parser read the handle, the stream's own state never followed it: a handle the
  // server stopped, for a body nobody read, is not started again by `resume` (the server's
  // listener that did is gone with its parser), and the connection would be read no more,
  // the client's close unseen. Started here as Node's server itself starts it.
  const handle = (socket as unknown as { _handle: ReadingHandle | null })._handle;
  if (handle !== null && !handle.reading && !socket.readableEnded) {
    handle.reading = true;
    handle.readStart();
  }
}
