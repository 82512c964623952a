/**
 * An attempt at a request upstream, and the exchange it belongs to as an engine sees it.
 * The engines (`pooled-engine`, `streamed-engine`) depend on this, never on the exchange
 * itself: the exchange picks an engine per attempt, each engine hands its answer, its 401
 * and its failure back to the exchange's steps.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Rejection } from '../tokens/types';
import type { Admitted } from './admission';
import type { ForwarderOptions } from './forwarder-options';
import type { BodyPlan } from './replay';

/** An attempt at the request upstream, through either engine (`ClientRequest`, `PooledCall`). */
export interface Attempt {
  /** Ends the attempt, with `err` as its error if given. */
  destroy(err?: Error): void;
}

/** How far the client's body has gone upstream, for `expect` bodies. */
export type BodyState = 'held' | 'streaming' | 'abandoned';

/** The exchange an attempt belongs to: its request, its state across attempts, its steps. */
export interface AttemptOwner {
  readonly f: ForwarderOptions;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly admitted: Admitted;
  readonly user: string;
  readonly plan: BodyPlan;
  readonly clientExpectsContinue: boolean;
  /** The attempt whose answer the client is to get; `undefined` between attempts. */
  upstreamReq: Attempt | undefined;
  /** The latest attempt's token. */
  readonly sentToken: string;
  /** A pooled connection failed: every attempt from now on goes on a new connection. */
  readonly freshConnection: boolean;
  /** A hop refused the `Expect` the proxy added (417): attempts from now on go without. */
  expectRefused: boolean;
  bodyState: BodyState;
  /** The buffered body, as received. */
  readonly body: Buffer[] | undefined;
  readonly clientGone: boolean;
  continueTimer: NodeJS.Timeout | undefined;
  /** The `node:http` answer being passed on. */
  answer: IncomingMessage | undefined;

  /** Vidispine sent bytes after the answer passed on; `err` says what its client read. */
  bytesAfterAnswer(err: Error): void;
  /** `attempt` went upstream now, with `sentToken`: its end is owed to the token model. */
  began(attempt: Attempt): void;
  /** Step "forward" again, for the same client request. */
  send(token: string): void;
  /** How an attempt ended, other than in a 401: an answer's status. */
  tellStore(status: number): void;
  /** The buffered body will not be sent again. */
  dropBody(): void;
  /** Step "on 401": whether to replay, pass the 401 on (a rejection), or neither. */
  verdictOn401(
    attempt: Attempt,
    answer: { readonly rawHeaders: readonly string[] },
  ): Promise<Rejection | undefined>;
  /** Step "on 401 replay", once the 401's attempt is retired. */
  replay(rejected: string): Promise<void>;
  /** Stop listening to a request that will not produce the client's answer. */
  retire(upstreamReq: Attempt): void;
  /** The answer's headers for the client. */
  clientHeaders(rawHeaders: readonly string[], status: number): string[];
  /** See `Reply.writeAnswerHead`. */
  writeAnswerHead(status: number, statusMessage: string | undefined, headers: string[]): void;
  /** Node refused to write Vidispine's answer head: 502 instead. */
  cannotPassOn(upstreamReq: Attempt, err: unknown): void;
  /** See `Reply.passOn`. */
  passOn(chunk: Buffer): boolean;
  /** See `Reply.holdBackFor`. */
  holdBackFor(resume: () => void): void;
  /** The attempt failed before a whole answer; `reused`: on a connection that served others. */
  onUpstreamError(upstreamReq: Attempt, err: Error, reused: boolean): void;
  /** The proxy's own answer, in place of Vidispine's. */
  sendOwn(status: number, message: string): void;
  /** The client stopped sending its body. */
  bodyTimedOut(): void;
  clearContinueTimer(): void;
}
