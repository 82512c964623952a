/** The token store's events as a test sees them: recorded in order, or awaited one by one. */
import { HANG_GUARD_MS } from './wait';
import type { TokenEventName, TokenEvents, TokenStore } from '../../src/tokens/types';

/** Every event the store emits (a new one fails to compile until listed). */
const NAMES = Object.keys({
  minted: true,
  mintFailed: true,
  expired: true,
  invalidated: true,
  checked: true,
  lifetimeLearned: true,
  lifetimeRestored: true,
} satisfies Record<TokenEventName, true>) as TokenEventName[];

type Events = Pick<TokenStore, 'on' | 'off'>;

export interface RecordedEvent {
  readonly name: TokenEventName;
  readonly payload: TokenEvents[TokenEventName];
}

export interface TokenEventLog {
  readonly events: RecordedEvent[];
  /** The names of the events so far, in order. */
  names(): TokenEventName[];
  /**
   * The next `name` event from now on. No deadline of its own: under a manual clock the
   * test decides when time passes (and jest's timeout ends a wait that never resolves).
   */
  next<E extends TokenEventName>(name: E): Promise<TokenEvents[E]>;
}

/** One event, awaited by a listener that removes itself once it has fired or given up. */
function once<E extends TokenEventName>(
  store: Events,
  name: E,
  timeoutMs: number | undefined,
): Promise<TokenEvents[E]> {
  return new Promise((resolve, reject) => {
    const listener = (payload: TokenEvents[E]): void => {
      store.off(name, listener);
      clearTimeout(timer);
      resolve(payload);
    };
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            store.off(name, listener);
            reject(new Error(`no ${name} event within ${timeoutMs} ms`));
          }, timeoutMs);
    store.on(name, listener);
  });
}

/** The payload of the next `name` event; rejects after `timeoutMs` of real time. */
export function nextEvent<E extends TokenEventName>(
  store: Events,
  name: E,
  timeoutMs = HANG_GUARD_MS,
): Promise<TokenEvents[E]> {
  return once(store, name, timeoutMs);
}

/** Records every event of `store` from now on. */
export function recordTokenEvents(store: Events): TokenEventLog {
  const events: RecordedEvent[] = [];
  for (const name of NAMES) store.on(name, (payload) => events.push({ name, payload }));
  return {
    events,
    names: () => events.map((e) => e.name),
    next: (name) => once(store, name, undefined),
  };
}
