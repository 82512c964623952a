/**
 * Type-level checks, not tests: nothing here runs. The ops side declares its own structural
 * views of the token store, and its metrics and logs take the forwarder's reports;
 * `npm run typecheck` (tsc --noEmit, which covers test/) fails on the line below that names a
 * contract as soon as it drifts away from its view.
 */
import type { TokenEvents, TokenStore } from '../../src/tokens/types';
import type { ForwardObserver, UpstreamErrorReason } from '../../src/proxy/observer';
import type { TokenEventSource, TokenEventsView, TokenStatusSource } from '../../src/ops/views';
import type { OpsMetrics, UPSTREAM_ERROR_REASONS } from '../../src/ops/metrics';
import type { forwardLogObserver } from '../../src/ops/request-log';

type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Fits<T, View> = [T] extends [View] ? true : false;
type Expect<T extends true> = T;

/**
 * `on` is a method, so its listener parameter is checked bivariantly and would let a payload
 * drift through; the payloads are therefore compared one by one.
 */
type PayloadsFit = {
  [E in keyof TokenEventsView]: E extends keyof TokenEvents
    ? TokenEvents[E] extends TokenEventsView[E]
      ? true
      : false
    : false;
}[keyof TokenEventsView];

export type OpsContracts = [
  // The token store satisfies the status and event views.
  Expect<Fits<TokenStore, TokenStatusSource>>,
  Expect<Fits<TokenStore, TokenEventSource>>,
  // Every event payload the store emits fits the view the ops side reads.
  Expect<Equal<PayloadsFit, true>>,
  // The metrics object and the log observer are ForwardObservers.
  Expect<Fits<OpsMetrics, ForwardObserver>>,
  Expect<Fits<ReturnType<typeof forwardLogObserver>, ForwardObserver>>,
  // The upstream error label values cover the contract enum exactly.
  Expect<Equal<(typeof UPSTREAM_ERROR_REASONS)[number], UpstreamErrorReason>>,
];
