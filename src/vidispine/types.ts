/**
 * The minting contract: what one token request to Vidispine yields, and how a token is
 * checked. The token store depends on these interfaces only; `minter.ts` and `whoami.ts`
 * implement them over HTTP.
 */
import type { MintEndpoint } from './endpoints';
import type { MintFailureReason } from './failures';

/** Thrown by a `TokenMinter` on failure. `message` must never contain a secret. */
export class MintError extends Error {
  constructor(
    readonly reason: MintFailureReason,
    message: string,
    /** HTTP status when Vidispine answered. */
    readonly status?: number,
    /** Vidispine's `Retry-After` (on a 503 or 429), in ms. */
    readonly retryAfterMs?: number,
    /**
     * The endpoint the failed request went to: not always the minter's `endpoint` once it
     * answers, since another user's 404 may have moved the process on meanwhile.
     */
    readonly endpoint?: MintEndpoint,
  ) {
    super(message);
    this.name = 'MintError';
  }
}

export interface MintedToken {
  readonly value: string;
  /** Epoch ms when the token request was sent: Vidispine's clock starts there. */
  readonly sentAt: number;
  /** Lifetime asked for (`seconds=`). */
  readonly seconds: number;
}

/** One mint, over HTTP in production; the store never knows how. */
export interface TokenMinter {
  readonly endpoint: MintEndpoint;
  /** The secret file each mint reads, if its secret is in one. */
  readonly secretFile?: string;
  mint(signal?: AbortSignal): Promise<MintedToken>;
}

/**
 * What Vidispine says of a token now: `alive` (it authenticates a request), `dead` (401),
 * `unavailable` (the server has no such check: 404, 405, 501), or `unknown` (no clear answer:
 * unreachable, timed out, another status).
 */
export const TOKEN_CHECKS = ['alive', 'dead', 'unknown', 'unavailable'] as const;
export type TokenCheck = (typeof TOKEN_CHECKS)[number];

/** Asks Vidispine whether a token still works (`GET /API/whoami` in production). */
export interface TokenChecker {
  check(token: string, signal?: AbortSignal): Promise<TokenCheck>;
}
