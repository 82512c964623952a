import { randomBytes } from 'node:crypto';
import { afterUse, isExpired, newTokenState, type TokenState } from './tokens';

/** Past this many known tokens, issuing one first forgets those that have expired. */
const SWEEP_THRESHOLD = 10_000;

export type TokenLookup =
  { ok: true; state: TokenState } | { ok: false; reason: 'unknown' | 'expired'; user?: string };

/** Every token the server has issued, keyed by value. */
export class TokenRegistry {
  private readonly tokens = new Map<string, TokenState>();

  constructor(
    private readonly now: () => number,
    private readonly refreshIntervalMs: number,
  ) {}

  issue(user: string, seconds: number, autoRefresh: boolean): string {
    if (this.tokens.size >= SWEEP_THRESHOLD) this.sweep();
    // 192 random bits: a token is a bearer credential and must not be guessable.
    const value = randomBytes(24).toString('base64url');
    this.tokens.set(value, newTokenState(user, seconds, autoRefresh, this.now()));
    return value;
  }

  /** Validates a token for one authenticated call, applying the autoRefresh push. */
  use(value: string): TokenLookup {
    const state = this.tokens.get(value);
    if (!state) return { ok: false, reason: 'unknown' };
    const now = this.now();
    if (isExpired(state, now)) return { ok: false, reason: 'expired', user: state.user };
    const next = afterUse(state, now, this.refreshIntervalMs);
    if (next !== state) this.tokens.set(value, next);
    return { ok: true, state: next };
  }

  peek(value: string): TokenState | undefined {
    return this.tokens.get(value);
  }

  revoke(value: string): void {
    this.tokens.delete(value);
  }

  revokeAll(): void {
    this.tokens.clear();
  }

  size(): number {
    return this.tokens.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [value, state] of this.tokens) if (isExpired(state, now)) this.tokens.delete(value);
  }
}
