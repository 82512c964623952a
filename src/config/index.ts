export { parseConfigArgs } from './args';
export { ConfigError, type ConfigIssue } from './errors';
export { formatListen } from './listen';
export { loadConfig, type LoadOptions } from './load';
export { defaultSafetyMargin } from './resolve';
export { describeSecret, readSecret, SecretError } from './secrets';
export type * from './types';
