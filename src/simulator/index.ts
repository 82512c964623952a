export type {
  CallEndpoint,
  CallFilter,
  FaultLimits,
  SimUser,
  Simulator,
  SimulatorOptions,
  TokenEndpointFault,
  TokenInfo,
} from './types';
export { createSimulator } from './server';
export { DEFAULT_USERS } from './users';
export { patternBytes, PATTERN_PERIOD } from './pattern';
export { simulateCommand } from './cli';
