/** Metric names and label values: what every series is called and the bounded values its labels take. */
export const METRIC_PREFIX = 'vidispine_auth_proxy_';

export const UPSTREAM_ERROR_REASONS = [
  'refused',
  'reset',
  'timeout',
  'dns',
  'tls',
  'protocol',
  'other',
] as const;

/**
 * What ended a WebSocket session, as its access-log line's `end` names it (the proxy's
 * `SessionEnd`): the values of `websocket_sessions_ended_total`'s `end`.
 */
export const SESSION_ENDS = [
  'client_closed',
  'upstream_closed',
  'error',
  'timeout',
  'shutdown',
] as const;

export type SessionEndLabel = (typeof SESSION_ENDS)[number];

/** `reason` label of a successful refresh, so every series has the same label set. */
export const SUCCESS_REASON = 'none';

/** `user` label for a request that could not be tied to a configured user. */
export const UNKNOWN_USER = '(unknown)';

/** `method` label for anything outside the standard methods, keeping cardinality bounded. */
const OTHER_METHOD = 'OTHER';

const STANDARD_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);

export function normaliseMethod(method: string): string {
  const upper = method.toUpperCase();
  return STANDARD_METHODS.has(upper) ? upper : OTHER_METHOD;
}

/** An HTTP status as a label, or "0" when the value is not a status at all. */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 999 ? String(status) : '0';
}

/** A reason as a label value: one of `known`, else `fallback`, so cardinality stays bounded. */
export function boundedReason(reason: string, known: readonly string[], fallback: string): string {
  return known.includes(reason) ? reason : fallback;
}
