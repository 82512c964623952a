/** Renew at 70 % of the lifetime, moved by up to ±10 % of that (63–77 %) so users spread out. */
export const RENEW_FRACTION = 0.7;
export const RENEW_JITTER = 0.1;

export interface RenewInput {
  /** Epoch ms the lifetime starts (mint sent, or the last modelled autoRefresh push). */
  readonly from: number;
  readonly lifetimeMs: number;
  /** Stop using the token this long before its expiry; renewal is never later than that. */
  readonly marginMs: number;
  /** A draw in [0, 1). */
  readonly random: number;
}

/** Epoch ms at which the next token should be minted. */
export function renewAt({ from, lifetimeMs, marginMs, random }: RenewInput): number {
  const fraction = RENEW_FRACTION * (1 + RENEW_JITTER * (2 * random - 1));
  const planned = from + lifetimeMs * fraction;
  const latest = from + lifetimeMs - marginMs;
  return Math.max(from, Math.min(planned, latest));
}
