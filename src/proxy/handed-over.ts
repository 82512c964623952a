/**
 * Connections Node hands over as raw sockets: WebSocket upgrades and `CONNECT`. Node's
 * server no longer tracks them, so `closeAllConnections` misses them; the listener ends
 * them itself when it closes, or its close would wait on them for ever.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { attachedAnswer, ignoreError } from './answers';
import { LINGER, lingerOn } from './lingering';

export class HandedOver {
  private readonly sockets = new Set<Duplex>();

  add(socket: Duplex): void {
    socket.on('error', ignoreError);
    relayDrains(socket);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Cut every connection still open but those `spared`: in their lingering close, for an
   * answer just written to be read, they are cut at the end of their grace.
   */
  destroyAll(spared: (socket: Duplex) => boolean = () => false): void {
    for (const socket of this.sockets) {
      if (spared(socket)) continue;
      socket.destroy();
      this.sockets.delete(socket);
    }
  }
}

/**
 * Node stops passing the connection's drains on to the answer it is writing once it hands the
 * connection over (its parser's upgrade path removes the 'drain' listener, in Node 20 and 24
 * alike), yet the answers to requests pipelined before the upgrade or CONNECT are still
 * written on it, in turn. One its client had not taken whole by then waited for a 'drain'
 * that never came: it never finished, stayed in flight with no access line, and the upgrade
 * queued behind it never went to Vidispine. Passed on here as Node's own `socketOnDrain`
 * does; once the last answer is out none is attached and a tunnel's drains pass by. Node
 * also clears the answer's private need-drain flag: left set, its `writableNeedDrain` stays
 * true until it ends and a later drain of the connection is passed on again, which only lets
 * its body flow once the connection has room (`onAnswerDrained`).
 */
function relayDrains(socket: Duplex): void {
  socket.on('drain', () => {
    const answer = attachedAnswer(socket);
    if (answer?.writableNeedDrain === true) answer.emit('drain');
  });
}

/**
 * Ends a handed-over connection after the proxy's last answer on it (`last`, if any), with
 * a lingering close (`lingerOn`): what the client still sends is read and dropped, within
 * its bounds. Left unread, it would keep Node from ever seeing the client's close, and the
 * connection would stay open (CLOSE_WAIT); read without a bound, a client that kept it open
 * held its descriptor until the listener closed.
 */
export function endHandedOver(socket: Duplex, last?: string, bounds = LINGER): void {
  if (socket instanceof Socket) {
    lingerOn(socket, bounds, last);
    return;
  }
  socket.end(last);
  socket.resume();
}
