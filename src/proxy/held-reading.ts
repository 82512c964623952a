/**
 * A connection kept from being read while someone holds it. Node resumes a connection of its
 * own accord (once an answer drained, a body being read), and a connection may be held for
 * more than one reason: each holder's listener undoes any resume while it holds, at once, as
 * Node undoes one of its own pauses, so the connection is read only once nobody holds it.
 */
import type { Socket } from 'node:net';

export function holdReading(socket: Socket): void {
  socket.on('resume', stayPaused);
  socket.pause();
}

/** Lets go of one hold; the connection is read again unless another still holds it. */
export function releaseReading(socket: Socket): void {
  socket.off('resume', stayPaused);
  socket.resume();
}

/**
 * Lets go of one hold on a connection handed over (a WebSocket, a CONNECT): its new owner
 * decides when it is read.
 */
export function forgetHold(socket: Socket): void {
  socket.off('resume', stayPaused);
}

function stayPaused(this: Socket): void {
  this.pause();
}
