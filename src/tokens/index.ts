export { createTokenStore, type TokenStoreOptions } from './store';
export { type Clock, systemClock } from './clock';
export { RENEW_FRACTION } from './renew-policy';
export * from './types';
