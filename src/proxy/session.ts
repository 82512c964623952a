/**
 * A WebSocket session, from its `101` to its end: what ended it, and the bytes it carried
 * each way. Those are read from the client's socket's own counts at the end, so the bytes of
 * the session cost nothing on their way through.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { messageOf } from '../error-message';
import { shownValue } from '../visible-text';
import type { SessionEnd } from './observer';

/** The session's two connections. */
type Side = 'client' | 'upstream';

/** An event of one of them that may be the first sign of the session's end. */
type ConnectionEvent = 'end' | 'close' | 'error';

/**
 * What the first such event says ended the session. A FIN counts as the close of its side:
 * the other side is told, and the session is over once it closes too. At TCP level, as
 * Envoy's and nginx's are: an orderly WebSocket close ends with the server's close of the
 * connection (RFC 6455 §7.1.1), whichever side sent the first close frame, and the frames are
 * not read to tell.
 */
function sessionEndOf(side: Side, event: ConnectionEvent): SessionEnd {
  if (event === 'error') return 'error';
  return side === 'client' ? 'client_closed' : 'upstream_closed';
}

const CONNECTION_NAMES: Readonly<Record<Side, string>> = {
  client: 'client connection',
  upstream: 'Vidispine connection',
};

export interface SessionOutcome {
  readonly end: SessionEnd;
  /** For `error`: which connection failed, and how (`client connection: read ECONNRESET`). */
  readonly detail?: string;
  readonly bytesReceived: number;
  readonly bytesSent: number;
}

/** A client's connection is a Socket, save in tests: no counts otherwise. */
const bytesRead = (socket: Duplex): number => (socket instanceof Socket ? socket.bytesRead : 0);
const bytesWritten = (socket: Duplex): number =>
  socket instanceof Socket ? socket.bytesWritten : 0;
/**
 * The bytes the kernel took of those written to `socket`: Node's `bytesWritten` also counts
 * those the stream still holds (`writableLength`: its buffer and the write under way), which
 * a cut drops and its client never gets.
 */
const bytesTaken = (socket: Duplex): number =>
  socket instanceof Socket ? socket.bytesWritten - socket.writableLength : 0;

/**
 * Where the bytes of `client`'s session start in its `bytesRead`: past its upgrade's head,
 * read with `early` (what the client sent behind it), at the moment Node hands it over.
 */
export function sessionReadStart(client: Duplex, early: Buffer): number {
  return bytesRead(client) - early.length;
}

export class WebSocketSession {
  private end: SessionEnd | undefined;
  private detail: string | undefined;
  private readonly writtenBefore: number;
  /** The session's bytes, read once its end is known, before a cut drops what is held. */
  private counts: Pick<SessionOutcome, 'bytesReceived' | 'bytesSent'> | undefined;
  private over = false;

  /**
   * To be made once the `101`'s head is written to `client`. The first close of either
   * connection ends the session: both are destroyed, then `ended` is told how it went.
   *
   * @param readBefore where the session's bytes start in the client's `bytesRead`
   * (`sessionReadStart`)
   */
  constructor(
    private readonly client: Duplex,
    private readonly server: Duplex,
    private readonly readBefore: number,
    private readonly ended: (outcome: SessionOutcome) => void,
  ) {
    this.writtenBefore = bytesWritten(client);
    this.watch(client, 'client');
    this.watch(server, 'upstream');
  }

  /**
   * The proxy ends the session itself: said before it cuts it, as the cut's events follow.
   * Returns the end recorded: a close or error seen before stays the session's end.
   */
  endsBy(end: 'shutdown' | 'timeout'): SessionEnd {
    this.count();
    return (this.end ??= end);
  }

  /**
   * Ends the session for the proxy's shutdown, both connections closed at once, and reports
   * it now: their close events come after the shutdown may have exited.
   */
  cutForShutdown(): void {
    this.close(this.endsBy('shutdown'));
  }

  private watch(socket: Duplex, side: Side): void {
    socket.once('end', () => this.seen(side, 'end'));
    socket.once('error', (err: unknown) => this.seen(side, 'error', err));
    socket.once('close', () => this.close(this.seen(side, 'close')));
  }

  /** Records the session's end when this is the first sign of it; returns the end recorded. */
  private seen(side: Side, event: ConnectionEvent, err?: unknown): SessionEnd {
    if (this.end === undefined) {
      this.end = sessionEndOf(side, event);
      if (event === 'error')
        this.detail = shownValue(`${CONNECTION_NAMES[side]}: ${messageOf(err)}`);
    }
    return this.end;
  }

  private close(end: SessionEnd): void {
    if (this.over) return;
    this.over = true;
    const counts = this.count();
    this.client.destroy();
    this.server.destroy();
    this.ended({ end, ...(this.detail === undefined ? {} : { detail: this.detail }), ...counts });
  }

  /**
   * The session's bytes, read the first time: before the proxy cuts it, or as it closes and
   * before the other connection is destroyed, neither reads or writes another byte after.
   */
  private count(): Pick<SessionOutcome, 'bytesReceived' | 'bytesSent'> {
    return (this.counts ??= {
      bytesReceived: Math.max(0, bytesRead(this.client) - this.readBefore),
      bytesSent: Math.max(0, bytesTaken(this.client) - this.writtenBefore),
    });
  }
}
