/**
 * What `/status` and the `/` page report: for the process, the Vidispine URL, version and
 * uptime; for each user, where it listens, what mints its tokens, how they are kept alive (in
 * words), the token's state, recent traffic and — when failing — the reason, the hint and
 * the next attempt. Built field by field from the configuration's fixed facts and the store's
 * status, so nothing the store might carry besides these fields can ever leak; no token and
 * no password ever reaches here.
 */
import { isoTime } from '../clock-text';
import type { KeyNames } from '../config/errors';
import { formatListen } from '../config/listen';
import { describeSecret } from '../config/secrets';
import type { Credential, ProxyConfig } from '../config/types';
import { shownBaseUrl } from '../vidispine/connection';
import { mintModeFor, mintRequestLine } from '../vidispine/endpoints';
import { mintFailureHint } from '../vidispine/failures';
import { redactSecrets } from './logger';
import type { RecentCounts } from './recent-requests';
import type { UserTokenStatus } from '../tokens/types';
import { holdsUnexpiredToken } from './views';

/** What the configuration says of one user: fixed for the life of the process. */
export interface UserSetup {
  readonly user: string;
  /** `127.0.0.1:8080`, or null for a user reached only through a select header. */
  readonly listen: string | null;
  /** Whose credential mints the token, in words: `own password`, `admin "admin"`, `RunAs "svc"`. */
  readonly credential: string;
  /** Where that credential's secret is set: `file /run/secrets/pw (VIDISPINE_PASSWORD_FILE)`. */
  readonly secretSource: string;
  readonly configuredSeconds: number;
  readonly autoRefresh: boolean;
  readonly serverRefreshIntervalSeconds: number;
}

/** The process's fixed facts, as the status reports them. */
export interface StatusSetup {
  /** Origin and path of the Vidispine URL (never credentials). */
  readonly vidispine: string;
  readonly version: string;
  /** Epoch ms the process started. */
  readonly startedAt: number;
  /** The fraction of a token's lifetime at which renew mode mints the next one. */
  readonly renewFraction: number;
  /** How the configuration names its settings, for the hints. */
  readonly names: KeyNames;
  readonly users: readonly UserSetup[];
}

export function statusSetup(
  config: ProxyConfig,
  facts: { readonly version: string; readonly startedAt: number; readonly renewFraction: number },
): StatusSetup {
  const { admin, runAs, url } = config.vidispine;
  const key = (c: Credential | undefined) =>
    c?.kind === 'accessKey' ? `access key ${c.basicUser}` : undefined;
  return {
    ...facts,
    names: config.names,
    vidispine: shownBaseUrl(url),
    users: config.users.map((user) => {
      const mode = mintModeFor(user, config.vidispine);
      const account = mode === 'own' ? user.credential : mode === 'runAs' ? runAs : admin;
      const viaKey = key(account);
      return {
        user: user.name,
        listen: user.listen ? formatListen(user.listen) : null,
        credential:
          mode === 'own'
            ? `own ${viaKey ?? 'password'}`
            : `${mode === 'runAs' ? 'RunAs' : 'admin'} "${account?.username ?? ''}"${viaKey ? ` (${viaKey})` : ''}`,
        secretSource: account ? describeSecret(account.secret) : '—',
        configuredSeconds: user.token.seconds,
        autoRefresh: user.token.autoRefresh,
        serverRefreshIntervalSeconds: user.token.serverRefreshIntervalSeconds,
      };
    }),
  };
}

export interface UserStatusJson {
  readonly user: string;
  readonly listen: string | null;
  /** How the token is minted: the request, whose credential, where its secret is set. */
  readonly mint: {
    readonly request: string;
    readonly credential: string;
    readonly secretSource: string;
  };
  readonly mode: 'renew' | 'autoRefresh';
  /** The mode and lifetime in words: "renews at ~70 % of the usable 55 s (60 s lifetime − 5 s margin)". */
  readonly renewal: string;
  readonly endpoint: string;
  readonly state: string;
  /** Holds an unexpired token now (what `/readyz` asks of every user). */
  readonly ready: boolean;
  readonly expiresAt: string | null;
  readonly expiresInSeconds: number | null;
  readonly lastRefreshAt: string | null;
  readonly lastError: {
    readonly reason: string;
    readonly message: string;
    /** What to do about it. */
    readonly hint: string;
    readonly at: string;
  } | null;
  /** Failed mints since the last success. */
  readonly failures: number;
  /** When the next mint is attempted after a failure, or null. */
  readonly nextAttemptAt: string | null;
  readonly nextAttemptInSeconds: number | null;
  /** The lifetime in use (shorter than configured once Vidispine was seen ending tokens early). */
  readonly lifetimeSeconds: number;
  readonly configuredLifetimeSeconds: number;
  /** Answers sent for this user in the last `minutes`, and how many were 5xx. */
  readonly requests: RecentCounts;
}

export interface StatusJson {
  readonly time: string;
  readonly version: string;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly vidispine: string;
  readonly ready: boolean;
  readonly shuttingDown: boolean;
  readonly users: readonly UserStatusJson[];
}

/** The mode and lifetime in words, as an operator would explain them. */
export function renewalInWords(
  setup: UserSetup,
  lifetime: { readonly seconds: number; readonly marginSeconds: number },
  renewFraction: number,
): string {
  const shortened =
    lifetime.seconds < setup.configuredSeconds
      ? `${setup.configuredSeconds} s asked, but Vidispine ends them after about ${lifetime.seconds} s`
      : undefined;
  if (setup.autoRefresh) {
    return `kept alive by autoRefresh: each use pushes expiry ${lifetime.seconds} s ahead (at most every ${setup.serverRefreshIntervalSeconds} s); minted again when idle${shortened ? ` (${shortened})` : ''}`;
  }
  // Renewal is planned within the usable window, which ends the margin before expiry.
  const usable = tenths(lifetime.seconds - lifetime.marginSeconds);
  const window = `${lifetime.seconds} s lifetime − ${tenths(lifetime.marginSeconds)} s margin`;
  return `renews at ~${Math.round(renewFraction * 100)} % of the usable ${usable} s (${[window, shortened].filter(Boolean).join('; ')})`;
}

/** Seconds to a tenth, without a trailing `.0`. */
const tenths = (seconds: number): number => Math.round(seconds * 10) / 10;

const iso = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));
const secondsUntil = (ms: number | null, now: number): number | null =>
  ms === null ? null : Math.round((ms - now) / 1000);

function userStatusJson(
  setup: StatusSetup,
  view: UserTokenStatus,
  requests: RecentCounts,
  now: number,
): UserStatusJson {
  const user = setup.users.find((u) => u.user === view.user);
  if (user === undefined) throw new Error(`no configuration for user ${view.user}`);
  return {
    user: view.user,
    listen: user.listen,
    // The request as the store makes it now: a server without GET /API/token moves it.
    mint: {
      request: mintRequestLine(view.endpoint, view.user),
      credential: user.credential,
      secretSource: user.secretSource,
    },
    mode: view.mode,
    renewal: renewalInWords(
      user,
      { seconds: view.effectiveSeconds, marginSeconds: view.marginSeconds },
      setup.renewFraction,
    ),
    endpoint: view.endpoint,
    state: view.state,
    ready: holdsUnexpiredToken(view, now),
    expiresAt: iso(view.expiresAt),
    expiresInSeconds: secondsUntil(view.expiresAt, now),
    lastRefreshAt: iso(view.lastRefreshAt),
    lastError:
      view.lastError === null
        ? null
        : {
            reason: view.lastError.reason,
            message: redactSecrets(view.lastError.message),
            hint: mintFailureHint(view.lastError.reason, setup.names),
            at: isoTime(view.lastError.at),
          },
    failures: view.failures,
    nextAttemptAt: iso(view.nextAttemptAt),
    nextAttemptInSeconds: secondsUntil(view.nextAttemptAt, now),
    lifetimeSeconds: view.effectiveSeconds,
    configuredLifetimeSeconds: user.configuredSeconds,
    requests,
  };
}

/** Where `/status` reads what changes: the token store, the recent traffic, the listeners. */
export interface StatusSources {
  readonly tokens: { status(): readonly UserTokenStatus[] };
  readonly recent: { counts(user: string): RecentCounts };
  /** Where a user's listener is bound (port 0 resolved); the configured address otherwise. */
  readonly boundAddress?: (user: string) => string | null;
}

/** The whole report at `now`; `ready` and `shuttingDown` as the readiness probe sees them. */
export function statusReport(
  setup: StatusSetup,
  { tokens, recent, boundAddress }: StatusSources,
  probe: { readonly ok: boolean; readonly shuttingDown: boolean },
  now: number,
): StatusJson {
  return {
    time: isoTime(now),
    version: setup.version,
    startedAt: isoTime(setup.startedAt),
    uptimeSeconds: Math.max(0, Math.round((now - setup.startedAt) / 1000)),
    vidispine: setup.vidispine,
    ready: probe.ok,
    shuttingDown: probe.shuttingDown,
    users: tokens.status().map((view) => {
      const json = userStatusJson(setup, view, recent.counts(view.user), now);
      return { ...json, listen: boundAddress?.(view.user) ?? json.listen };
    }),
  };
}
