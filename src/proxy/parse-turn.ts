/**
 * Requests Node parses in one turn of the event loop, on all data connections of the
 * process. Node parses a whole read (64 KiB: some 1,700 small GETs) before the proxy sees
 * the first of its requests, and on to its end even once the connection is reset; what the
 * reads of one turn bring stays in memory until the turn ends, that of connections reset
 * meanwhile included (some 6 MB a connection). 200 connections that each wrote 64 KiB of
 * GETs at once took the proxy past a 192 MiB heap, whatever the bound on requests waiting
 * their turn. Once more than the budget were parsed in a turn, no connection is read again
 * before the next turn: one turn holds at most the budget and the read being parsed, and a
 * connection not read in it is read in the next, nothing refused.
 */
import type { Socket } from 'node:net';
import { forgetHold, holdReading, releaseReading } from './held-reading';

export class ParseTurn {
  private parsed = 0;
  /**
   * Connections Node's parser reads (not handed over, not closed), the one read longest ago
   * first: those held in a turn are read again in this order in the next, so a client that
   * sent one request is not kept waiting behind connections read turn after turn.
   */
  private readonly parsing = new Set<Socket>();
  private lastRead: Socket | undefined;
  /** Those not read for the rest of this turn; none while reading goes on. */
  private held: Set<Socket> | undefined;

  /** @param budget Requests parsed in one turn before reading stops for the rest of it. */
  constructor(readonly budget: number) {}

  /** A data connection accepted: read as long as the turn allows. */
  readonly connected = (socket: Socket): void => {
    this.parsing.add(socket);
    socket.once('close', () => this.parsing.delete(socket));
    if (this.held !== undefined) this.hold(this.held, socket);
  };

  /** `socket` is no longer Node's to parse (a WebSocket, a CONNECT): its new owner reads it. */
  handedOver(socket: Socket): void {
    this.parsing.delete(socket);
    if (this.held?.delete(socket)) forgetHold(socket);
  }

  /** Node handed over a request it parsed from `socket`. */
  parsedOne(socket: Socket): void {
    if (this.parsed === 0) setImmediate(this.endTurn);
    this.parsed += 1;
    if (socket !== this.lastRead && this.parsing.delete(socket)) {
      this.lastRead = socket;
      this.parsing.add(socket);
    }
    if (this.parsed <= this.budget || this.held !== undefined) return;
    const held = new Set<Socket>();
    this.held = held;
    for (const open of this.parsing) this.hold(held, open);
  }

  /**
   * A connection paused already is not read anyway, and stays paused for its own reason:
   * Node's (answers not taken), `Pipelines`' (requests waiting), a body's (not taken).
   */
  private hold(held: Set<Socket>, socket: Socket): void {
    if (socket.isPaused()) return;
    held.add(socket);
    holdReading(socket);
  }

  /** After the poll phase, where every read of the turn was parsed. */
  private readonly endTurn = (): void => {
    this.parsed = 0;
    this.lastRead = undefined;
    const { held } = this;
    this.held = undefined;
    if (held === undefined) return;
    for (const socket of held) {
      if (socket.destroyed) forgetHold(socket);
      else releaseReading(socket);
    }
  };
}
