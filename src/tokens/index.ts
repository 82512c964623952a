export { createTokenStore, type TokenStoreOptions } from './store';
export { type Clock, systemClock } from './clock';
export * from './types';
