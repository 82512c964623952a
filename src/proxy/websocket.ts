/**
 * WebSocket upgrades (`/APIWS/...`): admitted by the same passes as every other request,
 * sent upstream through `node:http` with the same header policy and our token, then the
 * two sockets are spliced. Vidispine's refusal (any answer but `101`) is passed on like a
 * plain response and its connection closed: it never returns to a pool. A 401 goes through
 * the same token check as any request without a body: dead, the upgrade is sent once more
 * with a fresh token.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TokenLease, TokenStore } from '../tokens/types';
import { messageOf } from '../error-message';
import type { AdmissionRules } from './admission';
import { admit } from './admission';
import {
  SHUTDOWN_RETRY_AFTER,
  SHUTTING_DOWN,
  ignoreError,
  noTokenAnswer,
  noTokenMessage,
  resetConnection,
} from './answers';
import {
  ANSWER_CUT,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  classifyUpstreamError,
  describeUpstreamError,
  statusForUpstreamError,
  upstreamErrorDetail,
} from './errors';
import { NO_BODY } from './framing';
import { answerHeadProblem, attachToken, statusLineProblem } from './headers';
import type { LocationRewriter } from './location';
import type { HandedOver } from './handed-over';
import { endHandedOver } from './handed-over';
import { IdleWaiters } from './idle-waiters';
import { noteStrippedRunAs, type Notice } from './notices';
import {
  CLIENT_CLOSED,
  CONNECTION_DROPPED,
  forwardedRequestOf,
  reportAnswered,
  requestFieldsOf,
  requestIdOf,
  type AccessLogger,
  type ForwardedRequest,
  type ForwardObserver,
  type RequestFields,
  type SessionLogger,
  type UpstreamErrorReason,
} from './observer';
import type { Pipelines } from './pipeline';
import { canReplay } from './replay';
import { WebSocketSession, sessionReadStart } from './session';
import { clientHeadersWithoutToken } from './unauthorized';
import { offersWebSocket } from './upgrade-offer';
import type { Upstream } from './upstream';
import { limitConnect, watchUpstreamBody } from './upstream';
import { authenticates } from '../vidispine/acceptance';
import { cutStalledTunnel, SendTimeout } from './send-timeout';
import { replayed, verdictOn401 } from './verdict';

export interface UpgradeOptions {
  readonly rules: AdmissionRules;
  /** An upgrade waits for what its connection asked before it to be answered. */
  readonly pipelines: Pipelines;
  readonly upstream: Upstream;
  readonly rewriteLocation: LocationRewriter;
  readonly store: TokenStore;
  readonly observer: ForwardObserver;
  /** Shared with the listener's forwarder. */
  readonly notices: Notice;
  /** The listener's raw connections, which it cuts when it closes. */
  readonly handedOver: HandedOver;
  /** Set only when `proxy.accessLog` is on. */
  readonly accessLog?: AccessLogger;
  /** Set only when `proxy.accessLog` is on: one line per session, at its end. */
  readonly sessionLog?: SessionLogger;
  /** A session whose client takes none of the bytes held for it this long is cut (`SendTimeout`). */
  readonly sendTimeoutMs: number;
  /**
   * Whether the listener has closed (the shutdown's delay is over): an upgrade whose turn
   * comes then, or whose token only comes then, is refused, since its session would be cut
   * moments after its 101. During the delay, upgrades are served as any request is.
   */
  readonly listenerClosed: () => boolean;
}

/**
 * An upgrade from its arrival to its answer, when it is reported as a request is: the
 * WebSocket session that may follow a `101` is no request any more.
 */
interface UpgradeReport {
  readonly req: IncomingMessage;
  readonly started: number;
  /** Read on arrival: a socket already destroyed has none. */
  readonly remoteAddress: string | undefined;
  /** Where a session's bytes would start in the client's `bytesRead` (`sessionReadStart`). */
  readonly readBefore: number;
  /** The listener's user until admission says whom the upgrade acts as. */
  user: string;
  requestId: string | undefined;
  replayed: boolean;
}

/** A switched upgrade, as its session's line needs it at the session's end. */
type SessionStart = RequestFields & {
  /** `performance.now()` when the upgrade arrived. */
  readonly started: number;
};

/** An admitted upgrade, as it is sent upstream on each attempt. */
interface Upgrade {
  readonly req: IncomingMessage;
  readonly client: Duplex;
  /** Bytes the client sent after the head, handed on once the sockets are spliced. */
  readonly early: Buffer;
  readonly user: string;
  readonly path: string;
  /** The authority the client reached (`Admitted.authority`), for a rewritten `Location`. */
  readonly authority: string | undefined;
  readonly headers: readonly string[];
  /** Admission's (`Admitted.requestId`). */
  readonly requestId: string | undefined;
}

/**
 * Where an attempt stands: `sent` until the client has its answer (`answered`), or until
 * the attempt no longer speaks to the client (`retired`: failed, or replaced by a replay).
 */
type AttemptStage = 'sent' | 'answered' | 'retired';

/**
 * What a session's line takes from its upgrade, fixing the upgrade's request id first, so
 * that its line at the `101` has the same.
 */
function sessionOf(report: UpgradeReport): SessionStart {
  report.requestId = requestIdOf(report);
  return { ...requestFieldsOf(report), started: report.started };
}

/** The head of an answer written by hand on a socket that asked for an upgrade. */
function head(status: number, reason: string, headers: readonly string[]): string {
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    validateHeaderName(headers[i]);
    validateHeaderValue(headers[i], headers[i + 1]);
    text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  }
  return `${text}\r\n`;
}

/** The proxy's own plain answer on a socket that asked for an upgrade. */
function refuse(
  socket: Duplex,
  status: number,
  message: string,
  extra: readonly string[] = [],
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message.replace(/[\r\n]+/g, ' ')}\n`;
  const headers = [
    'Content-Type',
    'text/plain; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(body)),
    'Connection',
    'close',
    ...extra,
  ];
  endHandedOver(socket, head(status, STATUS_CODES[status] ?? '', headers) + body);
}

/**
 * A WebSocket client has nothing to half-close before its `101`: its FIN then means it went
 * away (a handshake timeout, `terminate()` while connecting), as Node takes it for a plain
 * request. Its connection is closed, so the upgrade is counted as the client's close (499)
 * and its request to Vidispine aborted, as nginx does. Returns what stops the watch, once
 * the upgrade is answered: a FIN in the session is its half-close, passed on.
 */
function watchGone(client: Duplex): () => void {
  const gone = (): void => {
    client.destroy();
  };
  client.once('end', gone);
  return () => client.off('end', gone);
}

export interface UpgradeHandler {
  readonly handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Upgrades received and not answered yet. */
  readonly pending: () => number;
  /**
   * Resolves once every upgrade received has its answer (or lost its client): a closing
   * listener waits for them as for plain requests, then cuts the sessions that follow.
   */
  readonly idle: () => Promise<void>;
  /**
   * Cuts the upgrades not answered yet, counted as the proxy's close (444), not their
   * clients'. One still waiting for its token (never sent, or sent with one Vidispine refused
   * with a 401, so not acted on) is answered 503 instead, as a plain request is (`Exchange.cut`):
   * returns their connections, in their lingering close, for the caller's grace. The sessions
   * open are cut too, both connections at once, as ended by the shutdown.
   */
  readonly cut: () => Socket[];
  /**
   * Every connection was just destroyed: the upgrades not reported yet (one pipelined behind
   * an answer that closed its connection, never served) are reported now, as their `close`
   * would, which a second signal's exit does not wait for.
   */
  readonly accountCut: () => void;
}

export function createUpgradeHandler(options: UpgradeOptions): UpgradeHandler {
  const { rules, pipelines, upstream, rewriteLocation, store, observer, handedOver } = options;
  const { accessLog, sessionLog, notices, sendTimeoutMs, listenerClosed } = options;
  /** The upgrades not answered yet, by client socket. */
  const reports = new Map<Duplex, UpgradeReport>();
  /** The upgrades whose answer is still to come, for `idle`, each with what undoes `watchGone`. */
  const awaiting = new Map<Duplex, () => void>();
  /** The upgrades waiting for a token from the store, never sent yet: what ends that wait. */
  const tokenWaits = new Map<Duplex, { readonly user: string; readonly wait: AbortController }>();
  const idleWaiters = new IdleWaiters();
  /** The sessions open, for the shutdown to cut. */
  const sessions = new Set<WebSocketSession>();

  /** The upgrade on `client` needs nothing more before its listener may close. */
  function settled(client: Duplex): void {
    const unwatch = awaiting.get(client);
    if (unwatch === undefined) return;
    awaiting.delete(client);
    unwatch();
    if (awaiting.size === 0) idleWaiters.idle();
  }

  /** The upgrade on `client` got its answer, `status`: reported once, as a request is. */
  function answered(client: Duplex, status: number): void {
    settled(client);
    const report = reports.get(client);
    if (report === undefined) return;
    reports.delete(client);
    reportAnswered(observer, accessLog, { ...report, status });
  }

  /**
   * Its connection closed, or was just cut, before it was answered: the status says who
   * closed it. The cut (`accountCut`) reports as the `close` to come would, from here.
   */
  function closedUnanswered(client: Duplex): void {
    answered(client, pipelines.unansweredStatus(client as Socket));
  }

  /**
   * Its client closed in the turn Vidispine's answer came in (its FIN read first, see
   * `watchGone`): the answer has nobody to go to, and is counted as the client's close.
   */
  function goneBeforeAnswer(client: Duplex): boolean {
    if (client.writable) return false;
    answered(client, CLIENT_CLOSED);
    return true;
  }

  /** The proxy's own answer to an upgrade, reported. */
  function refuseUpgrade(
    client: Duplex,
    status: number,
    message: string,
    extra?: readonly string[],
  ): void {
    const delivered = client.writable;
    refuse(client, status, message, extra);
    answered(client, delivered ? status : CLIENT_CLOSED);
  }

  /**
   * Once the listeners have closed, the drain has begun: an upgrade sent to Vidispine now
   * would have its session cut as soon as the requests in flight have finished, moments after
   * its 101. Nothing goes to Vidispine, and a 503 sends the client to reconnect (elsewhere)
   * at once. Asked when its turn comes and again when its token does, right before it would
   * go upstream. During the delay it is served, as any request is: the endpoints may not have
   * propagated yet.
   */
  function refusedForShutdown(client: Duplex): boolean {
    if (!listenerClosed()) return false;
    refuseUpgrade(client, 503, SHUTTING_DOWN, ['Retry-After', SHUTDOWN_RETRY_AFTER]);
    return true;
  }

  function failed(
    user: string,
    client: Duplex,
    err: unknown,
    token: string,
    request: ForwardedRequest,
  ): void {
    const reason = classifyUpstreamError(err);
    observer.upstreamError?.(reason, user, upstreamErrorDetail(err, token), request);
    refuseUpgrade(client, statusForUpstreamError(reason), describeUpstreamError(reason));
  }

  /**
   * The session of `user` that follows the `101` just written to `client`, until its end,
   * reported to the observer at both (the session's `ended` is called once, however it ends);
   * with the access log on, its line then, under the id of its upgrade's line. Only what that
   * line needs is kept from the upgrade for the session's lifetime, not its request.
   */
  function openSession(user: string, client: Duplex, server: Socket): WebSocketSession {
    const report = reports.get(client);
    const logged = sessionLog === undefined || report === undefined ? undefined : sessionOf(report);
    const session = new WebSocketSession(client, server, report?.readBefore ?? 0, (outcome) => {
      sessions.delete(session);
      observer.sessionEnded?.(user, outcome.end);
      if (logged === undefined) return;
      const { started, ...fields } = logged;
      sessionLog?.({
        ...fields,
        durationSeconds: (performance.now() - started) / 1000,
        ...outcome,
      });
    });
    sessions.add(session);
    observer.sessionOpened?.(user);
    return session;
  }

  /** Vidispine switched protocols: send its `101` on, then carry bytes both ways. */
  function splice(
    user: string,
    client: Duplex,
    authority: string | undefined,
    res: IncomingMessage,
    server: Socket,
    token: string,
    request: ForwardedRequest,
  ): void {
    if (goneBeforeAnswer(client)) {
      server.destroy();
      return;
    }
    const headers = clientHeadersWithoutToken(
      res.rawHeaders,
      rewriteLocation,
      authority,
      101,
      token,
    );
    headers.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
    let text: string;
    try {
      text = head(101, res.statusMessage ?? '', headers);
    } catch (err) {
      server.destroy();
      observer.upstreamError?.('protocol', user, upstreamErrorDetail(err, token), request);
      refuseUpgrade(client, 502, describeUpstreamError('protocol'));
      return;
    }
    server.on('error', ignoreError);
    probeWhileQuiet(client);
    probeWhileQuiet(server);
    client.write(text);
    // Its end, the first close of either connection, closes the other too.
    const session = openSession(user, client, server);
    answered(client, 101);
    const stalled = (): void => {
      session.endsBy('timeout');
      cutStalledTunnel(client);
    };
    // The pipe pauses Vidispine's side when the client does not take a write at once.
    server.on('pause', new SendTimeout(client, sendTimeoutMs, stalled).held);
    server.pipe(client);
    client.pipe(server);
  }

  /**
   * Vidispine refused the upgrade: its answer goes to the client, then both connections close.
   *
   * @param cutShort Called when Vidispine's connection closed before the answer's end.
   */
  function passOn(
    user: string,
    client: Duplex,
    authority: string | undefined,
    upstreamReq: ClientRequest,
    res: IncomingMessage,
    token: string,
    cutShort: () => void,
    request: ForwardedRequest,
  ): void {
    if (goneBeforeAnswer(client)) {
      res.destroy();
      return;
    }
    const status = res.statusCode ?? 502;
    // As a plain request's answer: the credential it was sent never reaches the client.
    const headers = clientHeadersWithoutToken(
      res.rawHeaders,
      rewriteLocation,
      authority,
      status,
      token,
    );
    headers.push('Connection', 'close');
    let text: string;
    try {
      text = head(status, res.statusMessage ?? '', headers);
    } catch (err) {
      res.destroy();
      observer.upstreamError?.('protocol', user, upstreamErrorDetail(err, token), request);
      refuseUpgrade(client, 502, describeUpstreamError('protocol'));
      return;
    }
    client.write(text);
    answered(client, status);
    // As any answer's body: one that stalls is cut after the read timeout, not the response's.
    watchUpstreamBody(upstreamReq, res, upstream.readTimeoutMs);
    // Without Content-Length the body runs to the close of the connection.
    res.pipe(client);
    // The client's own bytes have nowhere to go; read, they let its close be seen. Once the
    // answer is out, within the lingering close's bounds: a client that keeps the connection
    // open is not let hold it, and its descriptor, until the listener closes.
    client.resume();
    res.once('end', () => endHandedOver(client));
    res.once('close', () => {
      if (!res.complete) cutShort();
    });
  }

  function forward(u: Upgrade, lease: TokenLease, attempt: number): void {
    const { client, user } = u;
    const request = forwardedRequestOf(u.req, u.requestId);
    const outgoing = attachToken(u.headers, upstream.hostHeader, lease.value, NO_BODY, false);
    outgoing.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
    let upstreamReq: ClientRequest;
    try {
      upstreamReq = upstream.request({
        agent: upstream.freshAgent,
        hostname: upstream.hostname,
        port: upstream.port,
        method: 'GET',
        path: upstream.pathPrefix + u.path,
        headers: outgoing,
        timeout: upstream.responseTimeoutMs,
      });
    } catch (err) {
      refuseUpgrade(client, 400, `request cannot be forwarded: ${messageOf(err)}`);
      return;
    }
    const sentAt = store.now();
    // Where Vidispine does not look at the token, its answer tells the token model nothing;
    // no answer (`undefined`) may still mean it took the token and pushed its expiry.
    const tellStore = (status: number | undefined): void => {
      if (authenticates(u.path)) store.answered(user, lease.value, sentAt, status);
    };
    if (authenticates(u.path)) store.sent(user, lease.value, sentAt);
    let stage: AttemptStage = 'sent';
    limitConnect(upstreamReq, upstream.connectTimeoutMs);
    upstreamReq.on('timeout', () => upstreamReq.destroy(new UpstreamTimeoutError('response')));
    /**
     * Vidispine's refusal, passed on, ended short: counted as a plain answer's would be, and
     * its client's connection reset, since the close of that connection delimits the refusal
     * (see `cutAnswer`): an orderly close would make a short body look whole.
     */
    const cut = (reason: UpstreamErrorReason, detail: string): void => {
      if (stage !== 'answered' || client.destroyed) return;
      stage = 'retired';
      observer.upstreamError?.(reason, user, detail, request);
      if (!resetConnection(client)) client.destroy();
    };
    // After the refusal's head, `node:http` reports no error for a connection closed in order.
    const cutShort = (): void => cut('reset', ANSWER_CUT);
    upstreamReq.on('error', (err) => {
      if (stage === 'answered')
        cut(classifyUpstreamError(err), upstreamErrorDetail(err, lease.value));
      else if (stage === 'sent') {
        stage = 'retired';
        tellStore(undefined);
        // Aborted because its client left (below): the proxy's own doing, no failure of
        // Vidispine's to log or count, as for a plain request whose client went away.
        if (!client.destroyed) failed(user, client, err, lease.value, request);
      }
    });
    client.once('close', () => upstreamReq.destroy());
    upstreamReq.on('upgrade', (res, server: Socket, serverEarly: Buffer) => {
      // RFC 9110 §7.8: a switch only to the protocol offered; the client is told `websocket`.
      const problem =
        statusLineProblem(101, res.statusMessage) ??
        (offersWebSocket(res.headers) ? undefined : 'switched to a protocol other than websocket');
      if (problem !== undefined) {
        server.destroy();
        stage = 'retired';
        tellStore(undefined);
        failed(user, client, new UpstreamProtocolError(problem), lease.value, request);
        return;
      }
      stage = 'answered';
      tellStore(101);
      // A WebSocket may rightly stay quiet for hours.
      server.setTimeout(0);
      if (serverEarly.length > 0) server.unshift(serverEarly);
      if (u.early.length > 0) client.unshift(u.early);
      splice(user, client, u.authority, res, server, lease.value, request);
    });
    upstreamReq.on('response', (res) => {
      const problem = answerHeadProblem(res);
      if (problem !== undefined) {
        upstreamReq.destroy(new UpstreamProtocolError(problem));
        return;
      }
      if (res.statusCode !== 401) {
        stage = 'answered';
        tellStore(res.statusCode ?? 502);
        passOn(user, client, u.authority, upstreamReq, res, lease.value, cutShort, request);
        return;
      }
      // The 401 waits, unread, for the verdict, as a plain request's does.
      void verdictOn401({
        store,
        observer,
        user,
        token: lease.value,
        sentAt,
        rawHeaders: res.rawHeaders,
        replayable: canReplay('none', attempt, false, store.current(user)?.value !== lease.value),
        current: () => stage === 'sent' && !client.destroyed,
      }).then((verdict) => {
        // Even a 401 passed on at once waits a tick, in which the attempt may have failed.
        if (verdict === undefined || stage !== 'sent') {
          upstreamReq.destroy();
          return;
        }
        if (verdict === 'replay') {
          stage = 'retired';
          upstreamReq.destroy();
          withToken(u, attempt + 1, lease.value);
          return;
        }
        stage = 'answered';
        passOn(user, client, u.authority, upstreamReq, res, lease.value, cutShort, request);
      });
    });
    upstreamReq.end();
  }

  /**
   * Sends the upgrade with the store's token, minting one if need be; 503 when none can be
   * had, or when the store has nothing newer than the token Vidispine just `rejected`.
   */
  function withToken(u: Upgrade, attempt: number, rejected?: string): void {
    const replaying = rejected !== undefined;
    /** Ends the wait for a token to mint, once the shutdown answered it (`cut`). */
    const wait = new AbortController();
    const noToken = (err: unknown): void => {
      if (replaying) replayed(observer, u.user, false);
      const answer = noTokenAnswer(u.user, err);
      refuseUpgrade(u.client, 503, answer.message, ['Retry-After', answer.retryAfter]);
    };
    const send = (lease: TokenLease): void => {
      if (u.client.destroyed || wait.signal.aborted) {
        if (replaying) replayed(observer, u.user, false);
        return;
      }
      if (lease.value === rejected) {
        noToken(undefined);
        return;
      }
      // The token came once the listeners had closed (a mint held through the delay's end).
      if (refusedForShutdown(u.client)) {
        if (replaying) replayed(observer, u.user, false);
        return;
      }
      if (replaying) {
        replayed(observer, u.user, true);
        const report = reports.get(u.client);
        if (report !== undefined) report.replayed = true;
      }
      forward(u, lease, attempt);
    };
    const lease = store.current(u.user);
    if (lease !== undefined) {
      send(lease);
      return;
    }
    tokenWaits.set(u.client, { user: u.user, wait });
    const waited = (): void => {
      tokenWaits.delete(u.client);
    };
    store.get(u.user, wait.signal).then(
      (held) => {
        waited();
        send(held);
      },
      (err: unknown) => {
        waited();
        // The shutdown's 503 already answered it (`cut`).
        if (wait.signal.aborted) {
          if (replaying) replayed(observer, u.user, false);
          return;
        }
        noToken(err);
      },
    );
  }

  const handle = (req: IncomingMessage, client: Duplex, early: Buffer): void => {
    // Parsed from the read that had its connection reset for the bound on waiting requests.
    if (pipelines.wasDropped(client as Socket)) return;
    handedOver.add(client);
    // Read behind an answer that already closes the connection (RFC 9112 §9.6): never
    // processed, so neither counted nor logged, as a plain request read there is not
    // (`unlessClosing`); its client resends it. The connection ends after that answer.
    if (pipelines.isClosing(client as Socket)) return;
    awaiting.set(client, watchGone(client));
    reports.set(client, {
      req,
      started: performance.now(),
      remoteAddress: req.socket.remoteAddress,
      readBefore: sessionReadStart(client, early),
      user: rules.identity.defaultUser,
      requestId: undefined,
      replayed: false,
    });
    observer.requestStarted?.();
    client.once('close', () => closedUnanswered(client));
    // Node hands the socket over at once; answers still owed on it go first.
    pipelines.enter(client as Socket, {
      safe: false,
      small: false,
      start: () => upgrade(req, client, early),
    });
  };

  function upgrade(req: IncomingMessage, client: Duplex, early: Buffer): void {
    // Behind an answer that came to close the connection after it was read (RFC 9112 §9.6):
    // never served, however long the connection stays open for its lingering close; counted
    // at its close, as a plain request read before that answer is.
    if (client.destroyed || pipelines.isClosing(client as Socket)) {
      settled(client);
      return;
    }
    const admission = admit(req, rules, true);
    if (!admission.ok) {
      if (admission.event !== undefined) notices({ event: admission.event }, admission.reason);
      const allow = admission.allow === undefined ? [] : ['Allow', admission.allow];
      refuseUpgrade(client, admission.status, admission.reason, allow);
      return;
    }
    const { user, path, authority, headers } = admission;
    if (admission.runAsStripped) noteStrippedRunAs(notices, user);
    const report = reports.get(client);
    if (report !== undefined) {
      report.user = user;
      report.requestId = admission.requestId;
    }
    if (refusedForShutdown(client)) return;
    const { requestId } = admission;
    withToken({ req, client, early, user, path, authority, headers, requestId }, 0);
  }

  const idle = (): Promise<void> => idleWaiters.wait(awaiting.size);

  const cut = (): Socket[] => {
    const refused: Socket[] = [];
    for (const client of [...awaiting.keys()]) {
      const waiting = tokenWaits.get(client);
      if (waiting !== undefined && client.writable) {
        // Nothing went upstream: a 503 says so, where a bare close would leave the client
        // guessing whether Vidispine had it.
        waiting.wait.abort();
        refuseUpgrade(client, 503, noTokenMessage(waiting.user, SHUTTING_DOWN), [
          'Retry-After',
          SHUTDOWN_RETRY_AFTER,
        ]);
        if (client instanceof Socket) refused.push(client);
        continue;
      }
      answered(client, CONNECTION_DROPPED);
      client.destroy();
    }
    for (const session of [...sessions]) session.cutForShutdown();
    return refused;
  };

  const accountCut = (): void => {
    for (const client of [...reports.keys()]) closedUnanswered(client);
  };

  return { handle, pending: () => awaiting.size, idle, cut, accountCut };
}

/**
 * A session may rightly stay quiet for hours, so no timer cuts it; a peer that vanished
 * without a word (a host gone, a NAT or firewall that forgot the connection) is found by TCP
 * keepalive's probes after this long without a byte, and the session's close ends the other
 * side too. A live peer answers the probes, so a quiet session stays. nginx leaves such
 * sessions to `proxy_read_timeout` (60 s, which cuts quiet ones too) and keepalive off.
 */
const SESSION_KEEPALIVE_MS = 60_000;

function probeWhileQuiet(socket: Duplex): void {
  // A client's connection is a Socket (a TLSSocket behind https too), save in tests.
  if (socket instanceof Socket) socket.setKeepAlive(true, SESSION_KEEPALIVE_MS);
}
