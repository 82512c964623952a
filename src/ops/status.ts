/**
 * The per-user view served by `/status` and the `/` page. Built field by field from the
 * store's status, so nothing the store might carry besides these fields can ever leak.
 */
import { redactSecrets } from './logger';
import type { UserTokenView } from './views';

export interface UserStatusJson {
  readonly user: string;
  readonly mode: string;
  readonly endpoint: string;
  readonly state: string;
  readonly expiresAt: string | null;
  readonly expiresInSeconds: number | null;
  readonly lastRefreshAt: string | null;
  readonly lastError: {
    readonly reason: string;
    readonly message: string;
    readonly at: string;
  } | null;
  readonly failures: number;
  readonly lifetimeSeconds: number;
}

export function userStatusJson(view: UserTokenView, now: number): UserStatusJson {
  return {
    user: view.user,
    mode: view.mode,
    endpoint: view.endpoint,
    state: view.state,
    expiresAt: isoOrNull(view.expiresAt),
    expiresInSeconds: view.expiresAt === null ? null : Math.round((view.expiresAt - now) / 1000),
    lastRefreshAt: isoOrNull(view.lastRefreshAt),
    lastError:
      view.lastError === null
        ? null
        : {
            reason: view.lastError.reason,
            message: redactSecrets(view.lastError.message),
            at: new Date(view.lastError.at).toISOString(),
          },
    failures: view.failures,
    lifetimeSeconds: view.effectiveSeconds,
  };
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
