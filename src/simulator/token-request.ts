/** Pure rules for reading a token request: lifetime, autoRefresh, the cap, the media type. */

export type Parsed<T> = { ok: true; value: T } | { ok: false; status: 400 | 404; reason: string };

/** Vidispine's `seconds` is a Java int. */
const MAX_INT = 2_147_483_647;
const MIN_INT = -2_147_483_648;

/**
 * VidiCore is a JAX-RS (Jersey) server: a blank query parameter takes its default, any other
 * value is converted with `valueOf` of its Java type, and a value that does not convert
 * answers 404 (JAX-RS, for query, matrix and path parameters). Integer.valueOf takes an
 * optional sign and decimal digits within the int range, nothing else (no spaces).
 */
export function parseSeconds(raw: string | null, defaultSeconds: number): Parsed<number> {
  if (raw === null || raw.trim() === '') return { ok: true, value: defaultSeconds };
  const n = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= MIN_INT && n <= MAX_INT)) {
    return { ok: false, status: 404, reason: 'seconds is not a Java int' };
  }
  if (n <= 0) return { ok: false, status: 400, reason: 'seconds must be positive' };
  return { ok: true, value: n };
}

/**
 * A Java boolean query parameter as Jersey reads it, with Boolean.valueOf: `true` in any case
 * is true, every other value false (`yes`, `1`, ` true`); blank or absent, the default, false.
 */
export function parseAutoRefresh(raw: string | null): boolean {
  return raw !== null && raw.toLowerCase() === 'true';
}

export interface LifetimePolicy {
  readonly maxSeconds: number;
  readonly aboveMax: 'reject' | 'cap';
}

/** The lifetime granted to a caller; administrators are not capped. */
export function grantSeconds(
  requested: number,
  isAdministrator: boolean,
  policy: LifetimePolicy,
): Parsed<number> {
  if (isAdministrator || requested <= policy.maxSeconds) return { ok: true, value: requested };
  if (policy.aboveMax === 'cap') return { ok: true, value: policy.maxSeconds };
  return {
    ok: false,
    status: 400,
    reason: `seconds exceeds userTokenMaxInterval (${policy.maxSeconds}) for a non-administrator`,
  };
}

interface AcceptRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(header: string): AcceptRange[] {
  const ranges: AcceptRange[] = [];
  for (const part of header.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!type) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    ranges.push({ type, q: Number.isFinite(q) ? q : 0 });
  }
  return ranges;
}

function matches(range: string, type: string): boolean {
  if (range === '*/*' || range === type) return true;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1));
}

/** The q a client gives a type: the most specific matching range decides (RFC 9110 §12.5.1). */
function qualityOf(type: string, ranges: AcceptRange[]): number {
  let best: AcceptRange | undefined;
  const specificity = (r: AcceptRange): number =>
    r.type === '*/*' ? 0 : r.type.endsWith('/*') ? 1 : 2;
  for (const r of ranges) {
    if (matches(r.type, type) && (!best || specificity(r) > specificity(best))) best = r;
  }
  return best?.q ?? 0;
}

/**
 * The offered type to answer with, or undefined for 406. No Accept at all means the first
 * offer; among equally acceptable types the client's order wins, then the server's.
 */
export function negotiate(
  accept: string | undefined,
  offered: readonly string[],
): string | undefined {
  if (accept === undefined || accept.trim() === '') return offered[0];
  const ranges = parseAccept(accept);
  let chosen: string | undefined;
  let chosenQ = 0;
  let chosenPos = Infinity;
  for (const type of offered) {
    const q = qualityOf(type, ranges);
    const pos = ranges.findIndex((r) => r.type === type);
    const rank = pos < 0 ? ranges.length : pos;
    if (q > chosenQ || (q === chosenQ && q > 0 && rank < chosenPos)) {
      chosen = type;
      chosenQ = q;
      chosenPos = rank;
    }
  }
  return chosen;
}
