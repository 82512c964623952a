import { defaultSafetyMargin } from '../config/resolve';

/**
 * Renew at 70 % of the usable window (lifetime − margin), moved by up to ±10 % of that
 * (63–77 %) so users spread out.
 */
export const RENEW_FRACTION = 0.7;
const RENEW_JITTER = 0.1;
/**
 * Never renew earlier than half the usable window: however slow the token endpoint is, a
 * user mints at most twice a window. A mint shorter than half the window still arrives in time.
 */
const RENEW_EARLIEST_FRACTION = 0.5;
/** The lead a renewal leaves before the token stops being usable: this at least… */
const RENEW_LEAD_MIN_MS = 1_000;
/** …and this many times as long as the mint that produced the token took. */
const RENEW_LEAD_MINTS = 2;

export interface RenewInput {
  /** Epoch ms the lifetime starts (mint sent, or the last modelled autoRefresh push). */
  readonly from: number;
  readonly lifetimeMs: number;
  /** Stop using the token this long before its expiry (see `safetyMarginMs`). */
  readonly marginMs: number;
  /** How long the mint of this token took (sent to answered): the next one may take as long. */
  readonly mintMs: number;
  /** A draw in [0, 1). */
  readonly random: number;
}

/**
 * Epoch ms at which the next token should be minted: 63–77 % into the usable window, but
 * early enough that a mint as slow as the last one, twice over (1 s at least), completes
 * before the current token stops being usable — and never before half the window. So a
 * renewal always starts while the token is still usable (strictly before `usableUntil`).
 */
export function renewAt({ from, lifetimeMs, marginMs, mintMs, random }: RenewInput): number {
  const window = lifetimeMs - marginMs;
  // Stryker disable next-line EqualityOperator: an empty window gives `from` below too (the earliest bound is `from`, every other at most `from`)
  if (window <= 0) return from;
  const fraction = RENEW_FRACTION * (1 + RENEW_JITTER * (2 * random - 1));
  const planned = from + window * fraction;
  const lead = Math.max(RENEW_LEAD_MIN_MS, RENEW_LEAD_MINTS * Math.max(0, mintMs));
  const latest = from + window - lead;
  const earliest = from + window * RENEW_EARLIEST_FRACTION;
  return Math.max(earliest, Math.min(planned, latest));
}

export interface MarginInput {
  /** The lifetime asked for in the configuration. */
  readonly configuredSeconds: number;
  /** The configured safety margin (given, or the default for the configured lifetime). */
  readonly marginSeconds: number;
  /** The lifetime tokens actually get: shorter than configured once one was learned. */
  readonly lifetimeSeconds: number;
}

/**
 * The safety margin in ms for a token of `lifetimeSeconds`. A margin sized for the configured
 * lifetime can be most of a learned, shorter one (5 s of a 60 s lifetime is 42 % of a 12 s
 * one); so for a shorter lifetime it is never more than the default margin of that lifetime
 * (the smaller of 5 s and 10 %). Never more than half the lifetime in any case.
 */
export function safetyMarginMs({
  configuredSeconds,
  marginSeconds,
  lifetimeSeconds,
}: MarginInput): number {
  const capped =
    lifetimeSeconds < configuredSeconds
      ? Math.min(marginSeconds, defaultSafetyMargin(lifetimeSeconds))
      : marginSeconds;
  return Math.round(Math.min(capped, lifetimeSeconds / 2) * 1000);
}
