/**
 * The deterministic content of simulated files: byte i is i mod 251. A prime period makes
 * any offset mistake (a Range off by one, a lost chunk) change the bytes.
 */
export const PATTERN_PERIOD = 251;

/** Repeats the period so that any slice starting within the first period has `WRITE_SIZE` bytes. */
const WRITE_SIZE = PATTERN_PERIOD * 256;

/** The bytes at [offset, offset + length) of a simulated file. */
export function patternBytes(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (offset + i) % PATTERN_PERIOD;
  return out;
}

const BLOCK = patternBytes(0, WRITE_SIZE + PATTERN_PERIOD);

/**
 * Chunks of the pattern from `offset`, at most `WRITE_SIZE` bytes each, without copying:
 * every chunk is a view of one shared block.
 */
export function* patternChunks(offset: number, length: number): Generator<Buffer> {
  const start = offset % PATTERN_PERIOD;
  for (let left = length; left > 0; left -= WRITE_SIZE) {
    yield BLOCK.subarray(start, start + Math.min(left, WRITE_SIZE));
  }
}

export type RangeRequest =
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range against a resource of `size` bytes (RFC 9110 §14). Several ranges or a
 * malformed header are ignored, as the RFC allows: the whole resource is sent.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'full' };
  const m = /^bytes\s*=(?<first>[\d\s]*)-(?<last>[\d\s]*)$/i.exec(header.trim());
  const [first, last] = [m?.groups?.first.trim(), m?.groups?.last.trim()];
  if (first === undefined || last === undefined || !/^\d*$/.test(first) || !/^\d*$/.test(last)) {
    return { kind: 'full' };
  }
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
