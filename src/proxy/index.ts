/** The data path: listeners that forward to Vidispine with a token attached. */
export { createDataListeners, DATA_SERVER_TIMEOUTS, NO_OBSERVER } from './listener';
export type { DataListener, DataListenerDeps, ServerTimeouts } from './listener';
export type { AccessLogger, AccessRecord, ForwardObserver, UpstreamErrorReason } from './observer';
