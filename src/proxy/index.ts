/** The data path: listeners that forward to Vidispine with a token attached. */
export { createDataListeners, DATA_SERVER_TIMEOUTS } from './listener';
export { combineObservers } from './observer';
export type { DataListener, DataListenerDeps, ServerTimeouts } from './listener';
export type { AccessLogger, AccessRecord, ForwardObserver, UpstreamErrorReason } from './observer';
