/**
 * The minting contract: what one token request to Vidispine yields. The token store depends
 * on this interface only; `minter.ts` implements it over HTTP.
 */

/** Why a mint failed; also the `reason` label of `token_refreshes_total`. */
export const MINT_FAILURE_REASONS = [
  'unauthorized', // 401: bad password/access key — re-read the secret, retry slowly
  'forbidden', // 403: caller may not mint for that user (admin lacks _administrator)
  'user_disabled', // 409
  'bad_request', // 400/other 4xx: e.g. seconds above userTokenMaxInterval
  'server_error', // 5xx
  'network', // refused, reset, DNS, TLS
  'timeout', // no answer within the mint timeout
  'empty_token', // 200 with an empty or blank body
  'secret_unreadable', // the password file/env could not be read
] as const;

export type MintFailureReason = (typeof MINT_FAILURE_REASONS)[number];

/** Which Vidispine endpoint mints a user's tokens. */
export type MintEndpoint = 'token' | 'user_token'; // GET /API/token | GET /API/user/{u}/token

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
