/**
 * When the requests still in flight with one autoRefresh token were sent, earliest first.
 * Vidispine may have taken any of them, and pushed the token's expiry, before a later request
 * that comes back first: that push held the later one's back, so the expiry the later answer
 * shows counts from the earliest of them (`observeSliding`).
 */
export class InFlightSends {
  private readonly times: number[] = [];

  add(sentAt: number): void {
    // Sends come in clock order, so this is nearly always an append.
    let i = this.times.length;
    while (i > 0 && this.times[i - 1] > sentAt) i -= 1;
    this.times.splice(i, 0, sentAt);
  }

  /** One request sent at `sentAt` is over; a send never added is ignored. */
  remove(sentAt: number): void {
    const i = this.times.indexOf(sentAt);
    if (i >= 0) this.times.splice(i, 1);
  }

  /** The earliest send still in flight, or undefined when none is. */
  earliest(): number | undefined {
    return this.times[0];
  }
}
