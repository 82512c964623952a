/**
 * The answer passed back to the client, whichever engine brought it: its head as written,
 * its body written chunk by chunk with Vidispine's side held back while the client's is
 * full, and the send timeout that cuts it once the client stops taking it.
 */
import type { ServerResponse } from 'node:http';
import { cutAnswer } from './answers';
import { SendTimeout, cutStalledAnswer, onAnswerDrained } from './send-timeout';

/** What a reply holds as its answer's head before one was written. */
const NO_HEADERS: readonly string[] = [];

/**
 * The client's side of an exchange. A base class rather than an object of its own: an
 * exchange per small GET is the hot path, and this way it stays one allocation.
 */
export abstract class Reply {
  /** The head of the answer passed on, as written: how its end is delimited. */
  private answerHeaders: readonly string[] = NO_HEADERS;
  /** Of the answer being passed on. */
  private sendTimeout: SendTimeout | undefined;
  /** Body bytes of the answer passed on so far. */
  private passedOn = 0;

  constructor(
    readonly res: ServerResponse,
    private readonly sendTimeoutMs: number,
  ) {}

  /** Writes the answer's head; throws, writing nothing, where Node refuses it. */
  writeAnswerHead(status: number, statusMessage: string | undefined, headers: string[]): void {
    this.res.writeHead(status, statusMessage, headers);
    this.answerHeaders = headers;
  }

  /** See `Turn.small`. */
  get small(): boolean {
    return this.passedOn <= this.res.writableHighWaterMark;
  }

  /** See `Turn.heldBehind`: Node buffers an answer waiting its turn, and it filled. */
  get heldBehind(): boolean {
    return this.res.socket === null && this.res.writableNeedDrain;
  }

  /** Writes a chunk of the answer; `false` while the client's side is full: hold back. */
  passOn(chunk: Buffer): boolean {
    this.passedOn += chunk.length;
    const taken = this.res.write(chunk);
    if (!taken) {
      this.sendTimeout?.held();
      if (this.res.socket === null) this.heldWhileWaiting();
    }
    return taken;
  }

  /** Its answer, waiting its turn, holds its connection to Vidispine (`heldBehind`). */
  protected abstract heldWhileWaiting(): void;

  /** The answer's body flows again through `resume` once its client took what it held. */
  holdBackFor(resume: () => void): void {
    this.sendTimeout = this.watchSend();
    onAnswerDrained(this.res, resume);
  }

  /** Cuts the answer under way (see `cutAnswer`), by the head it was written with. */
  protected cutWritten(): void {
    cutAnswer(this.res, this.answerHeaders);
  }

  /** The answer is cut once its client stops taking it (see `SendTimeout`); what went upstream goes with it. */
  private watchSend(): SendTimeout {
    return new SendTimeout(
      this.res,
      this.sendTimeoutMs,
      () => cutStalledAnswer(this.res),
      () => this.res.socket === null,
      (listener) => onAnswerDrained(this.res, listener),
    );
  }
}
