/** A test file's proxy (the harness) forwarding to its own strict recording upstream. */
import { startRawUpstream, type RawUpstream } from './raw-upstream';
import { startHarness, type Harness, type HarnessOptions } from './app';

export interface BehindRawUpstream {
  readonly upstream: RawUpstream;
  readonly h: Harness;
  /** The listener has nothing in flight. */
  settled(): boolean;
}

/** Starts both before the file's tests and closes them after; read the fields inside tests. */
export function behindRawUpstream(
  options: Omit<HarnessOptions, 'forwardTo'> = {},
): BehindRawUpstream {
  let upstream: RawUpstream | undefined;
  let h: Harness | undefined;
  beforeAll(async () => {
    upstream = await startRawUpstream();
    h = await startHarness({ ...options, forwardTo: upstream.url });
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('used outside a test');
    return value;
  };
  return {
    get upstream() {
      return started(upstream);
    },
    get h() {
      return started(h);
    },
    settled: () => started(h).listeners[0].inFlight() === 0,
  };
}
