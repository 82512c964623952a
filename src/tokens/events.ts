import { EventEmitter } from 'node:events';
import type { TokenEventName, TokenEvents } from './types';

/**
 * Typed events. A listener that throws must not break the store's bookkeeping, so its error is
 * reported as a process warning instead of propagating into the store.
 */
export class TokenEventBus {
  private readonly emitter = new EventEmitter();

  on<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): void {
    this.emitter.on(event, listener);
  }

  off<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): void {
    this.emitter.off(event, listener);
  }

  emit<E extends TokenEventName>(event: E, payload: TokenEvents[E]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        (listener as (p: TokenEvents[E]) => void)(payload);
      } catch (err) {
        process.emitWarning(`token event listener for "${event}" threw: ${String(err)}`);
      }
    }
  }
}
