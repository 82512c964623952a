/**
 * "Did you mean …?" for a mistyped key or variable: the nearest valid name by edit distance,
 * offered only when it is close enough to be the likely intent.
 */
import { distance } from 'fastest-levenshtein';
import { alternatives, YAML_NAMES } from './errors';

/** Edits allowed for a key of this length: one for short keys, up to three for long ones. */
function keyTolerance(length: number): number {
  if (length <= 4) return 1;
  return length <= 8 ? 2 : 3;
}

/**
 * The candidate `word` most likely meant (case ignored), or undefined when none is within
 * `tolerance(candidate length)` edits.
 */
export function nearest(
  word: string,
  candidates: Iterable<string>,
  tolerance: (length: number) => number = keyTolerance,
): string | undefined {
  const lower = word.toLowerCase();
  let best: { name: string; edits: number } | undefined;
  for (const name of candidates) {
    const edits = distance(lower, name.toLowerCase());
    if (edits <= tolerance(name.length) && (best === undefined || edits < best.edits)) {
      best = { name, edits };
    }
  }
  return best?.name;
}

/**
 * `unknown key; did you mean password?`, or when no key is that near, the keys there are
 * (`x: &defaults` written to hold an anchor is no slip of any of them).
 */
export function unknownKeyProblem(key: string, candidates: readonly string[]): string {
  const guess = nearest(key, candidates);
  if (guess !== undefined) return `unknown key; did you mean ${guess}?`;
  if (candidates.length === 0) return 'unknown key';
  const listed = alternatives(
    YAML_NAMES,
    candidates.map((name) => [name]),
    'and',
  );
  return `unknown key; the keys here are ${listed}`;
}
