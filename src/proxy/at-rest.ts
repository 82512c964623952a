/**
 * Memory given back once the proxy has gone quiet. V8's memory reducer shrinks the heap only
 * after it has seen a low allocation rate, and it samples that rate at garbage collections.
 * A proxy that goes quiet runs none, so the reducer goes on reading the rate of the last
 * burst, or of start-up, and puts itself off 8 s at a time for as long as the quiet lasts.
 * At rest, without this and with it (side by side, the benchmark's upstream):
 *
 * - Node.js 24 (the image's runtime), whose reducer never ran after start-up: 69.2 and
 *   66.9 MiB 30 s after a first request; with 1,000 idle keep-alive connections, 137.9 and
 *   108.4 MiB 30 s after they opened;
 * - Node.js 20 after small GETs at 256 connections and a 256 MiB download: 114.6 MiB 45 s
 *   later, and 77.1 from 30 s on.
 *
 * So one young collection runs when no request has started or finished for `quietMs`: under a
 * millisecond with next to nothing alive, and the reducer takes it from there with its own
 * collections. A collection ends each quiet spell; nothing wakes the process at rest after it.
 */
import type { ForwardObserver } from './observer';

/** How long without a request starting or finishing before the collection. */
export const QUIET_SECONDS = 10;

export class AtRest implements ForwardObserver {
  /** Requests started and finished so far; only whether it moved is read. */
  private activity = 0;
  /** `activity` when the timer was set. */
  private seen = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /**
   * Waits for a first quiet spell at once, so that a proxy that never gets a request gives
   * back what start-up left.
   * @param collectYoung Runs a young-generation collection.
   */
  constructor(
    private readonly collectYoung: () => void,
    private readonly quietMs = QUIET_SECONDS * 1000,
  ) {
    this.wait();
  }

  requestStarted(): void {
    this.moved();
  }

  requestFinished(): void {
    this.moved();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Per request only a count: the timer is set again when it fires, so a busy proxy pays
   * one timer per `quietMs`, and the collection comes between one and two of them after the
   * last request.
   */
  private moved(): void {
    this.activity += 1;
    if (this.timer === undefined && !this.stopped) this.wait();
  }

  private wait(): void {
    this.seen = this.activity;
    this.timer = setTimeout(() => this.check(), this.quietMs).unref();
  }

  private check(): void {
    this.timer = undefined;
    if (this.activity !== this.seen) this.wait();
    else this.collectYoung();
  }
}
