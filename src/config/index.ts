export {
  ConfigError,
  type ConfigIssue,
  type KeyNames,
  type KeyPath,
  namesWith,
  YAML_NAMES,
} from './errors';
export { boundAddress, formatListen, ListenError, listenOn, parseListen } from './listen';
export { configFromObject, loadConfig, type LoadOptions } from './load';
export { defaultSafetyMargin } from './resolve';
export { describeSecret, readSecret, SecretError } from './secrets';
export type * from './types';
