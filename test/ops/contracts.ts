/**
 * Type-level checks, not tests: nothing here runs. The ops side reads the token store through
 * narrow views of its contract, and its metrics and logs take the forwarder's reports;
 * `npm run typecheck` (tsc --noEmit, which covers test/) fails on the line below that names a
 * contract as soon as it and what the ops side expects drift apart.
 */
import type { TokenStore } from '../../src/tokens/types';
import type { ForwardObserver, UpstreamErrorReason } from '../../src/proxy/observer';
import type { TokenEventSource, TokenStatusSource } from '../../src/ops/views';
import type { OpsMetrics, UPSTREAM_ERROR_REASONS } from '../../src/ops/metrics';
import type { forwardLogObserver } from '../../src/ops/request-log';

type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Fits<T, View> = [T] extends [View] ? true : false;
type Expect<T extends true> = T;

export type OpsContracts = [
  // The token store satisfies the status and event views.
  Expect<Fits<TokenStore, TokenStatusSource>>,
  Expect<Fits<TokenStore, TokenEventSource>>,
  // The metrics object and the log observer are ForwardObservers.
  Expect<Fits<OpsMetrics, ForwardObserver>>,
  Expect<Fits<ReturnType<typeof forwardLogObserver>, ForwardObserver>>,
  // The upstream error label values cover the contract enum exactly.
  Expect<Equal<(typeof UPSTREAM_ERROR_REASONS)[number], UpstreamErrorReason>>,
];
