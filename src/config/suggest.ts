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

/** `text` cut into `count` pieces of (nearly) equal length, some empty when it is shorter. */
function pieces(text: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    text.slice(Math.floor((i * text.length) / count), Math.floor(((i + 1) * text.length) / count)),
  );
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A finder of the candidate a word most likely meant (case ignored): undefined when none is
 * within `tolerance(candidate length)` edits.
 *
 * The proxy runs one for every variable of its environment at each start, against each of
 * its own names. An edit distance for every pair made V8 optimise the distance function
 * (from two dozen variables on), and the optimising compiler's pages then stayed resident
 * in every idle pod: 4 MiB. So one regular expression rules out almost every word first,
 * by a test that is exact: cut a candidate into `tolerance + 1` pieces; an edit spoils at
 * most one piece, so a word within the tolerance still holds one of them as it was.
 */
export function nearestAmong(
  candidates: Iterable<string>,
  tolerance: (length: number) => number = keyTolerance,
): (word: string) => string | undefined {
  const names = [...candidates].map((name) => ({
    name,
    lower: name.toLowerCase(),
    allowed: tolerance(name.length),
  }));
  const clue = new RegExp(
    names.flatMap(({ lower, allowed }) => pieces(lower, allowed + 1).map(escapeRegExp)).join('|'),
  );
  return function nearestOf(word) {
    const lower = word.toLowerCase();
    if (!clue.test(lower)) return undefined;
    let best: { name: string; edits: number } | undefined;
    for (const { name, lower: meant, allowed } of names) {
      if (Math.abs(lower.length - meant.length) > allowed) continue;
      const edits = distance(lower, meant);
      if (edits <= allowed && (best === undefined || edits < best.edits)) best = { name, edits };
    }
    return best?.name;
  };
}

/** The candidate `word` most likely meant: {@link nearestAmong} for a single word. */
export function nearest(
  word: string,
  candidates: Iterable<string>,
  tolerance?: (length: number) => number,
): string | undefined {
  return nearestAmong(candidates, tolerance)(word);
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
