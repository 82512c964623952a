/**
 * The forwarder: serves one data listener's requests. Each admitted request becomes an
 * `Exchange` (exchange.ts: the steps attach token → forward → on 401 replay → rewrite
 * response headers), which sends each attempt through one of two engines (pooled-engine.ts,
 * streamed-engine.ts) and writes the answer back through its `Reply` (reply.ts). This file
 * admits, refuses, and accounts for what is in flight so the listener can drain.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Refusal } from './admission';
import { admit } from './admission';
import { ignoreError, sendPlain } from './answers';
import { Exchange } from './exchange';
import type { ForwarderOptions } from './forwarder-options';
import { noteStrippedRunAs } from './notices';
import { reportAnswered } from './observer';
import { InFlight } from './in-flight';
import { IdleWaiters } from './idle-waiters';

/**
 * Whether a body follows the head of `req`, whose framing admission has found valid: Node
 * tells only once the body has been read.
 */
function bodyFollows(req: IncomingMessage): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
  );
}

/**
 * What to do for each answer still queued on a connection when the connection closes, with
 * one `close` listener per connection however many requests are pipelined on it: one for
 * each made Node warn of a listener leak on stderr once a client pipelined more than ten.
 */
class QueuedAnswers {
  private readonly lost = new WeakMap<Socket, Set<() => void>>();

  /** Calls `onLost` if `socket` closes first; the function returned forgets it. */
  add(socket: Socket, onLost: () => void): () => void {
    const waiting = this.lost.get(socket) ?? this.watch(socket);
    waiting.add(onLost);
    return () => waiting.delete(onLost);
  }

  private watch(socket: Socket): Set<() => void> {
    const waiting = new Set<() => void>();
    this.lost.set(socket, waiting);
    socket.once('close', () => {
      this.lost.delete(socket);
      for (const lost of waiting) lost();
    });
    return waiting;
  }
}

/** A request in flight: its exchange, if it was admitted, and what accounts for it now. */
interface Tracked {
  readonly exchange: Exchange | undefined;
  readonly account: () => void;
}

/** Serves one data listener's requests; counts what is in flight for draining. */
export class Forwarder {
  private inFlightCount = 0;
  /** The requests in flight; those admitted have an exchange, whose answer may be under way. */
  private readonly tracked = new InFlight<Tracked>();
  private readonly queued = new QueuedAnswers();
  private readonly idleWaiters = new IdleWaiters();

  constructor(private readonly f: ForwarderOptions) {}

  inFlight(): number {
    return this.inFlightCount;
  }

  /** Cuts every answer under way (see `Exchange.cut`); their connections close with it. */
  cutAnswers(): Socket[] {
    const answered: Socket[] = [];
    for (const { exchange } of this.tracked.values()) {
      if (exchange?.cut() === true) answered.push(exchange.req.socket);
    }
    return answered;
  }

  /**
   * Every connection was just destroyed: each request still in flight is accounted for now
   * (counted, its access line written), as the `close` events to come would, which a second
   * signal's exit does not wait for.
   */
  accountCut(): void {
    for (const { account } of this.tracked.values()) account();
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    return this.idleWaiters.wait(this.inFlightCount);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res, false);
  };

  /** Node's `checkContinue`: the client waits for our `100` before it sends the body. */
  readonly handleExpectingContinue = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res, true);
  };

  private serve(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const started = performance.now();
    this.inFlightCount += 1;
    this.f.observer.requestStarted?.();
    req.on('error', ignoreError);
    const admission = admit(req, this.f.rules, false);
    if (!admission.ok) {
      this.refuse(res, admission, started);
      return;
    }
    if (admission.runAsStripped) noteStrippedRunAs(this.f.notices, admission.user);
    const exchange = new Exchange(this.f, req, res, expectsContinue, admission);
    this.track(res, admission.user, started, exchange, admission.requestId);
    exchange.arrived();
    this.f.pipelines.enter(req.socket, exchange);
  }

  /**
   * A request admission turned away: answered at once, nothing forwarded. Unless the request
   * was sound (a wrong user, an expectation not met), the connection closes too — what
   * follows on it cannot be trusted. So does a sound one's with a body to come: kept open,
   * Node would read an upload to waste, with no body timeout to end a client that stalls in it.
   */
  private refuse(res: ServerResponse, refusal: Refusal, started: number): void {
    if (refusal.event !== undefined) this.f.notices({ event: refusal.event }, refusal.reason);
    this.track(res, this.f.rules.identity.defaultUser, started, undefined);
    const closes = refusal.keepsConnection !== true || bodyFollows(res.req);
    if (closes) this.f.pipelines.closeAfterAnswer(res.req.socket);
    sendPlain(res, refusal.status, refusal.reason, {
      ...(closes && { Connection: 'close' }),
      ...(refusal.allow !== undefined && { Allow: refusal.allow }),
    });
  }

  /**
   * Accounts for a request once it is over: answered, or its client gone (then what is
   * left upstream is aborted). A response queued behind an earlier one on a pipelined
   * connection gets no `close` event of its own if the connection dies before its turn, so
   * for those the connection's `close` counts too, until the turn comes.
   */
  private track(
    res: ServerResponse,
    user: string,
    started: number,
    exchange: Exchange | undefined,
    requestId?: string,
  ): void {
    const socket = res.req.socket;
    // Read now: a socket already destroyed (a client gone, an answer cut) has none any more.
    const remoteAddress = socket.remoteAddress;
    let over = false;
    const finish = (connectionLost: boolean): void => {
      if (over) return;
      over = true;
      this.tracked.delete(inFlight);
      if (exchange !== undefined) {
        exchange.over();
        this.f.pipelines.leave(socket, exchange);
      }
      const answered = res.headersSent && !connectionLost && exchange?.abandoned !== true;
      const refusal = answered ? undefined : this.f.pipelines.refusedBody(socket);
      reportAnswered(this.f.observer, this.f.accessLog, {
        req: res.req,
        user,
        requestId,
        status: answered ? res.statusCode : this.f.pipelines.unansweredStatus(socket),
        started,
        remoteAddress,
        replayed: exchange?.replayed ?? false,
        // Its head went out, its body not whole (`AccessRecord.cut`): 'finish' is the last
        // byte handed to the kernel.
        cut: answered && !res.writableFinished,
        ...(refusal !== undefined && { refusal }),
      });
      this.finished();
    };
    // Whether the connection's `close` ends it (below), not its own: until its turn comes.
    // Not `res.socket`, which Node also clears from an answer that finished, before its
    // `close`: that one was answered.
    let queued = res.socket === null;
    // As the `close` that ends it would.
    const inFlight = this.tracked.add({ exchange, account: () => finish(queued) });
    if (!queued) {
      res.once('close', () => finish(false));
      return;
    }
    const forget = this.queued.add(socket, () => finish(true));
    // Once its turn comes its head goes out, and its own 'close' says what the client got,
    // as for an answer at the head of the connection.
    res.once('socket', () => {
      queued = false;
      forget();
    });
    res.once('close', () => {
      forget();
      finish(false);
    });
  }

  private finished(): void {
    this.inFlightCount -= 1;
    if (this.inFlightCount === 0) this.idleWaiters.idle();
  }
}
