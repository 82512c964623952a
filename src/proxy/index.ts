/** The data path: listeners that forward to Vidispine with a token attached. */
export { createDataListeners, NO_OBSERVER } from './listener';
export type { DataListener, DataListenerDeps } from './listener';
export type { ForwardObserver, UpstreamErrorReason } from './observer';
