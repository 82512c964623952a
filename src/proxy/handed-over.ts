/**
 * Connections Node hands over as raw sockets: WebSocket upgrades and `CONNECT`. Node's
 * server no longer tracks them, so `closeAllConnections` misses them; the listener ends
 * them itself when it closes, or its close would wait on them for ever.
 */
import type { Duplex } from 'node:stream';
import { ignoreError } from './answers';

export class HandedOver {
  private readonly sockets = new Set<Duplex>();

  add(socket: Duplex): void {
    socket.on('error', ignoreError);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Cut every connection still open. */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/**
 * Ends a handed-over connection after the proxy's last answer on it (`last`, if any). What
 * the client still sends is read and dropped: left unread, it would keep Node from ever
 * seeing the client's close, and the connection would stay open (CLOSE_WAIT), holding its
 * descriptor for as long as the process runs.
 */
export function endHandedOver(socket: Duplex, last?: string): void {
  socket.end(last);
  socket.resume();
}
