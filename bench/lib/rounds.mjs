// Side-by-side scenarios repeated in rounds, reduced to what the report shows: each figure's
// median and range over the rounds, and this proxy's ratios taken within each round — the
// rounds ran under different background load, so a ratio is only fair between figures
// measured in the same minutes.

/** Figures that are counts, not measures: totalled over rounds and never turned into a ratio. */
export const COUNTS = new Set(['errors', 'failed', 'stillOpen', 'settledOpen', 'mints']);

const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

/** `list` turned by `by` places: each contender goes first in turn, round after round. */
export const rotated = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

/**
 * The middle value, or the mean of the two middle ones; undefined for no values. What is not
 * a finite number (a figure a run did not measure) is left out.
 */
export function median(values) {
  const sorted = values.filter(isNumber).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `value / ref` when both are finite numbers and `ref` is not 0. */
export function ratio(value, ref) {
  if (!isNumber(value) || !isNumber(ref) || ref === 0) return undefined;
  return value / ref;
}

/** "median" — and over more than one value "median (lo–hi)", unless lo and hi read the same. */
export function medianAndRange(values, format, unit = '') {
  const mid = `${format(median(values))}${unit}`;
  if (values.length < 2) return mid;
  const [lo, hi] = [format(Math.min(...values)), format(Math.max(...values))];
  return lo === hi ? mid : `${mid} (${lo}–${hi})`;
}

/** Whether `key` is a scenario measured in rounds (rather than once, on fresh processes). */
export const inRounds = (rounds, key) => rounds.some((round) => round[key] !== undefined);

/** One figure of one contender in every round that measured it. */
export const figureByRound = (rounds, key, name, field) =>
  rounds.map((round) => round[key]?.[name]?.[field]).filter(isNumber);

/** `name`'s figure divided by `ref`'s, in every round that measured both. */
export const ratioByRound = (rounds, key, field, name, ref) =>
  rounds
    .map((round) => ratio(round[key]?.[name]?.[field], round[key]?.[ref]?.[field]))
    .filter(isNumber);

/**
 * One contender's figures in one scenario over the rounds: each measure's median and each
 * count's total, from the rounds that did not fail; the first failure when all of them did.
 */
function mergeFigures(entries) {
  const measured = entries.filter((e) => e !== undefined && e.error === undefined);
  if (measured.length === 0) return entries.find((e) => e !== undefined);
  const fields = [...new Set(measured.flatMap((e) => Object.keys(e)))];
  return Object.fromEntries(
    fields.map((field) => {
      const values = measured.map((e) => e[field]).filter(isNumber);
      if (values.length === 0) return [field, measured[0][field] ?? null];
      const total = values.reduce((a, b) => a + b, 0);
      return [field, COUNTS.has(field) ? total : median(values)];
    }),
  );
}

/** The rounds as one set of results, shaped as a single run's: `{ [scenario]: { [name]: figures } }`. */
export function mergeRounds(rounds) {
  const merged = {};
  for (const key of new Set(rounds.flatMap((round) => Object.keys(round)))) {
    const names = new Set(rounds.flatMap((round) => Object.keys(round[key] ?? {})));
    merged[key] = Object.fromEntries(
      [...names].map((name) => [name, mergeFigures(rounds.map((round) => round[key]?.[name]))]),
    );
  }
  return merged;
}
