/** Pure rules for reading a token request: lifetime, autoRefresh, the cap, the media type. */

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Vidispine's `seconds` is a Java int. */
const MAX_INT = 2_147_483_647;

export function parseSeconds(raw: string | null, defaultSeconds: number): Parsed<number> {
  if (raw === null) return { ok: true, value: defaultSeconds };
  if (!/^[+-]?\d+$/.test(raw)) return { ok: false, reason: 'seconds must be an integer' };
  const n = Number(raw);
  if (n <= 0) return { ok: false, reason: 'seconds must be positive' };
  if (n > MAX_INT) return { ok: false, reason: `seconds must be at most ${MAX_INT}` };
  return { ok: true, value: n };
}

export function parseAutoRefresh(raw: string | null): Parsed<boolean> {
  if (raw === null) return { ok: true, value: false };
  const v = raw.toLowerCase();
  if (v === 'true' || v === 'false') return { ok: true, value: v === 'true' };
  return { ok: false, reason: 'autoRefresh must be true or false' };
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
