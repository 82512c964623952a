export { ConfigError, type ConfigIssue } from './errors';
export { boundAddress, formatListen, listenOn, parseListen } from './listen';
export { configFromObject, loadConfig, type LoadOptions } from './load';
export { defaultSafetyMargin } from './resolve';
export { describeSecret, readSecret, SecretError } from './secrets';
export type * from './types';
