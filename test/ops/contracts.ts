/**
 * The ops side declares its own structural views of the token store, and its metrics and
 * logs take the forwarder's reports. These assignments fail `tsc --noEmit` (part of `npm run typecheck`) as soon as
 * a contract drifts away from the view.
 */
import type { TokenEvents, TokenStore } from '../../src/tokens/types';
import type { ForwardObserver, UpstreamErrorReason } from '../../src/proxy/observer';
import type { TokenEventSource, TokenEventsView, TokenStatusSource } from '../../src/ops/views';
import type { Logger } from '../../src/ops/logger';
import { OpsMetrics, UPSTREAM_ERROR_REASONS } from '../../src/ops/metrics';
import { forwardLogObserver } from '../../src/ops/request-log';

type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

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

function accepts<T>(_value: T): true {
  return true;
}

describe('ops views match the committed contracts', () => {
  it('the token store satisfies the status and event views', () => {
    const asStatus = (store: TokenStore): TokenStatusSource => store;
    const asEvents = (store: TokenStore): TokenEventSource => store;
    expect(typeof asStatus).toBe('function');
    expect(typeof asEvents).toBe('function');
  });

  it('every event payload the store emits fits the view the ops side reads', () => {
    const payloads: Equal<PayloadsFit, true> = true;
    expect(accepts(payloads)).toBe(true);
  });

  it('the metrics object and the log observer are ForwardObservers', () => {
    const asObserver = (metrics: OpsMetrics): ForwardObserver => metrics;
    const logAsObserver = (logger: Logger): ForwardObserver => forwardLogObserver(logger);
    expect(typeof asObserver).toBe('function');
    expect(typeof logAsObserver).toBe('function');
  });

  it('the upstream error label values cover the contract enum exactly', () => {
    const upstream: Equal<(typeof UPSTREAM_ERROR_REASONS)[number], UpstreamErrorReason> = true;
    expect(accepts(upstream)).toBe(true);
  });
});
