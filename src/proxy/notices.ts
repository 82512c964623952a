/** What a listener says about the requests of a client that keeps doing the same wrong thing. */
import type { Logger } from 'pino';

/** The events a listener says at warn once, then at debug. */
export type NoticeEvent = 'user_selection_refused' | 'runas_stripped';

export type Notice = (
  fields: { readonly event: NoticeEvent; readonly user?: string },
  message: string,
) => void;

/**
 * A notice is said at warn the first time its event happens on a listener, then at debug: a
 * legacy app sends the same header on every request, and a client may do it on purpose, so
 * at warn each time they would fill the log. The first tells the operator what to fix.
 */
export function listenerNotices(logger: Logger): Notice {
  const said = new Set<NoticeEvent>();
  return (fields, message) => {
    const level = said.has(fields.event) ? 'debug' : 'warn';
    said.add(fields.event);
    logger[level](fields, message);
  };
}

/** A request's `RunAs` was removed because the user it acts as does not allow it. */
export function noteStrippedRunAs(notices: Notice, user: string): void {
  notices(
    { event: 'runas_stripped', user },
    `RunAs header removed: the request acts as "${user}", who does not allow it (allowRunAs is false)`,
  );
}
