/** Waiting in tests: for pending callbacks to run, or for a condition with no event of its own. */

/**
 * A guard against a hang, not a time limit: for end-to-end tests that await every step in
 * real time, which on a loaded machine take as long as the CPU they get. A bound that the
 * test asserts belongs in the benchmark, not here.
 */
export const HANG_GUARD_MS = 120_000;

/** Lets every pending promise callback and I/O callback run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Polls `condition` every 10 ms: for counts in another server or process that announce
 * nothing. Whatever the code under test announces is awaited as an event instead.
 */
export async function until(
  condition: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
