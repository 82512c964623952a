/** Operations: health probes, metrics, the ops listener, logs and graceful shutdown. */
export {
  createOpsServer,
  createProbeServer,
  type MetricsSource,
  type OpsServer,
  type ProbeAnswer,
  type ProcessProbes,
} from './server';
export { Health } from './health';
export { createLogger, type Logger, redactSecrets } from './logger';
export { OpsMetrics, recordTokenEvents } from './metrics';
export { RecentRequests } from './recent-requests';
export { statusSetup } from './status';
export { createAccessLog, forwardLogObserver } from './request-log';
export {
  installProcessErrorHandlers,
  type Servable,
  serveUntilStopped,
  ShutdownCoordinator,
  type ShutdownSteps,
} from './shutdown';
export { logStartup } from './startup-log';
export { logTokenEvents } from './token-log';
