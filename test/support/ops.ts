/**
 * A stand-in for the token store as the ops side sees it (status + events), scripted by
 * the tests, and a log capture. The real store satisfies the same views
 * (contracts.ts), and the ops endpoints only read status and listen to events.
 */
import { EventEmitter } from 'node:events';
import { YAML_NAMES } from '../../src/config/errors';
import { createLogger, type Logger } from '../../src/ops/logger';
import type { StatusSetup } from '../../src/ops/status';
import type { TokenEvents, UserTokenStatus } from '../../src/tokens/types';
import type { MintFailureReason } from '../../src/vidispine/failures';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class ScriptedTokens extends EventEmitter {
  private readonly views = new Map<string, Mutable<UserTokenStatus>>();

  constructor(
    users: readonly string[],
    private readonly clock: () => number,
  ) {
    super();
    for (const user of users) {
      this.views.set(user, {
        user,
        mode: 'renew',
        endpoint: 'token',
        state: 'pending',
        expiresAt: null,
        lastRefreshAt: null,
        lastError: null,
        failures: 0,
        everHeld: false,
        effectiveSeconds: 60,
        marginSeconds: 5,
        nextAttemptAt: null,
      });
    }
  }

  status(): UserTokenStatus[] {
    return [...this.views.values()].map((view) => ({ ...view }));
  }

  private view(user: string): Mutable<UserTokenStatus> {
    const view = this.views.get(user);
    if (!view) throw new Error(`no such user ${user}`);
    return view;
  }

  private send<E extends keyof TokenEvents>(event: E, payload: TokenEvents[E]): void {
    this.emit(event, payload);
  }

  minted(user: string, seconds = 60, durationSeconds = 0.02): void {
    const now = this.clock();
    const view = this.view(user);
    Object.assign(view, {
      state: 'valid',
      expiresAt: now + seconds * 1000,
      lastRefreshAt: now,
      lastError: null,
      failures: 0,
      everHeld: true,
      effectiveSeconds: seconds,
      // The default margin: 5 s, or 10 % of a shorter lifetime.
      marginSeconds: Math.min(5, seconds / 10),
      nextAttemptAt: null,
    });
    this.send('minted', {
      user,
      endpoint: view.endpoint,
      seconds,
      durationSeconds,
      expiresAt: now + seconds * 1000,
    });
  }

  failed(
    user: string,
    reason: MintFailureReason,
    message: string,
    durationSeconds = 0.1,
    retryInMs = 2000,
  ): void {
    const now = this.clock();
    const view = this.view(user);
    const holds = view.expiresAt !== null && view.expiresAt > now;
    Object.assign(view, {
      state: holds ? 'failing' : view.everHeld ? 'expired' : 'pending',
      lastError: { reason, message, at: now, endpoint: view.endpoint },
      failures: view.failures + 1,
      nextAttemptAt: now + retryInMs,
    });
    this.send('mintFailed', {
      user,
      endpoint: view.endpoint,
      reason,
      message,
      durationSeconds,
      retryInMs,
    });
  }

  expired(user: string): void {
    Object.assign(this.view(user), { state: 'expired', expiresAt: null });
    this.send('expired', { user });
  }

  /** `retryInMs`: when the replacement's mint starts; null when a newer token is held. */
  invalidated(
    user: string,
    retryInMs: number | null = 0,
    cause: TokenEvents['invalidated']['cause'] = 'unauthorized',
  ): void {
    if (retryInMs !== null) {
      Object.assign(this.view(user), {
        state: 'invalidated',
        expiresAt: null,
        nextAttemptAt: retryInMs > 0 ? this.clock() + retryInMs : null,
      });
    }
    this.send('invalidated', { user, cause, retryInMs });
  }

  checked(user: string, result: TokenEvents['checked']['result'], dropped = false): void {
    this.send('checked', { user, result, dropped });
  }

  learned(user: string, configuredSeconds: number, observedSeconds: number): void {
    this.send('lifetimeLearned', { user, configuredSeconds, observedSeconds });
  }
}

export interface LogCapture {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  readonly raw: string[];
}

export function captureLogs(level = 'trace'): LogCapture {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return { logger, lines, raw };
}

/** The configuration facts of `/status` for scripted users: own password, 60 s, renew mode. */
export function scriptedSetup(
  users: readonly string[],
  { version = '9.9.9', startedAt = 0 }: { version?: string; startedAt?: number } = {},
): StatusSetup {
  return {
    vidispine: 'http://vidispine:8080',
    version,
    startedAt,
    renewFraction: 0.7,
    names: YAML_NAMES,
    users: users.map((user, i) => ({
      user,
      listen: `127.0.0.1:${8080 + i}`,
      request: 'GET /API/token',
      credential: 'own password',
      secretSource: `file /run/secrets/${user} (users[${i}].passwordFile)`,
      configuredSeconds: 60,
      autoRefresh: false,
      serverRefreshIntervalSeconds: 10,
    })),
  };
}
