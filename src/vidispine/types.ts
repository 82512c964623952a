/**
 * The minting contract: what one token request to Vidispine yields. The token store depends
 * on this interface only; `minter.ts` implements it over HTTP.
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
  mint(signal?: AbortSignal): Promise<MintedToken>;
}
