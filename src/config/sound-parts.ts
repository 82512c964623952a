/**
 * What a configuration that fails its schema still says: its sound parts, so that the rules
 * across keys (`resolve.ts`) can judge them in the same start as the schema's problems, and
 * which of their findings would only repeat a problem already named.
 *
 * The bad parts are taken out as the schema would read their absence: an unknown key
 * removed, a bad value left out (its default then applies), a required value that is bad or
 * missing taken out with the block that holds it, or replaced by a stand-in where the block
 * cannot go. Every part taken out is remembered, and a finding that touches one is dropped:
 * "no password" for a user whose `pasword:` is unknown, "no listen address" beside a bad
 * one, a clash with the default a bad value gave way to.
 */
import type * as z from 'zod';
import type { KeyIssue, KeyNames, KeyPath } from './errors';
import { keyPath } from './errors';
import { keysAt, rawAt } from './keys';
import { nearest } from './suggest';

/** A part of the configuration taken out before the rules across keys judged the rest. */
export interface UnsoundPart {
  readonly path: KeyPath;
  /**
   * An unknown key: it may be a slip of any key of its block, so what is missing there may
   * be missing because of it; what is present there is sound.
   */
  readonly unknownKey: boolean;
  /**
   * The key an unknown key is a slip of, as its message suggests it (`pasword` → `password`):
   * then only that key is missing because of it.
   */
  readonly meant?: string;
}

/**
 * Values that stand in for a part that cannot be left out, by path (list items as `[]`):
 * each where the rules across keys do not look, or in a part that stays unsound.
 */
export type StandIns = Readonly<Record<string, unknown>>;

/** `users.[].name` for `['users', 3, 'name']`: a path as `StandIns` are keyed. */
const standInKey = (path: KeyPath): string =>
  path.map((s) => (typeof s === 'number' ? '[]' : s)).join('.');

/** Enough rounds for a bad value, its block, and the stand-in of the block. */
const MAX_ROUNDS = 8;

/**
 * The value `schema` reads from what is sound in `raw`, and the parts taken out for it;
 * undefined when nothing sound is left to judge (the top level itself, or a required list).
 */
export function soundParts<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  standIns: StandIns,
): { readonly value: z.output<S>; readonly unsound: readonly UnsoundPart[] } | undefined {
  let input = raw;
  const unsound: UnsoundPart[] = [];
  const stoodIn = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const parsed = schema.safeParse(input, { jitless: true });
    if (parsed.success) return { value: parsed.data, unsound };
    // The issues describe the input of this round: one inside a part already taken out in it
    // is gone with that part, and walking up from it would take out a block above it.
    const takenOut: KeyPath[] = [];
    for (const issue of parsed.error.issues) {
      const path = issue.path as KeyPath;
      if (takenOut.some((part) => within(path, part))) continue;
      if (issue.code === 'unrecognized_keys') {
        const valid = keysAt(schema, path);
        for (const k of issue.keys) {
          input = withValueAt(input, [...path, k], undefined);
          // As the message reads a key that may hold a value (`password:x`): up to `:`.
          const meant = nearest(k.split(/[:=\s]/)[0] ?? k, valid);
          unsound.push({ path: [...path, k], unknownKey: true, meant });
        }
        continue;
      }
      const out = partToTakeOut(input, path, standIns, stoodIn);
      if (out === undefined) return undefined;
      input = withValueAt(input, out.path, out.standIn);
      unsound.push({ path: out.path, unknownKey: false });
      takenOut.push(out.path);
    }
  }
  return undefined;
}

/**
 * The nearest part at or above `path` that can be taken out: a stand-in's place (once), else
 * a value that is there and is no list item (which would move the items after it).
 */
function partToTakeOut(
  input: unknown,
  path: KeyPath,
  standIns: StandIns,
  stoodIn: Set<string>,
): { path: KeyPath; standIn: unknown } | undefined {
  for (let at = path; at.length > 0; at = at.slice(0, -1)) {
    const place = keyPath(at);
    const standIn = standIns[standInKey(at)];
    if (standIn !== undefined && !stoodIn.has(place)) {
      stoodIn.add(place);
      return { path: at, standIn };
    }
    if (typeof at[at.length - 1] !== 'number' && rawAt(input, at) !== undefined) {
      return { path: at, standIn: undefined };
    }
  }
  return undefined;
}

/** `raw` with `value` at `path` (the key removed for undefined), the blocks on the way copied. */
function withValueAt(raw: unknown, path: KeyPath, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(raw)) {
    const items: unknown[] = [...raw];
    items[Number(head)] = withValueAt(items[Number(head)], rest, value);
    return items;
  }
  const block: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const child = withValueAt(block[head], rest, value);
  if (child === undefined) delete block[head];
  else block[head] = child;
  return block;
}

const within = (inner: KeyPath, outer: KeyPath): boolean =>
  outer.length <= inner.length && outer.every((s, i) => s === inner[i]);

/** Every key a finding is about: its own, those its text names, those it rests on. */
function keysOf(issue: KeyIssue): KeyPath[] {
  const named: KeyPath[] = [issue.path, ...(issue.restsOn ?? [])];
  if (typeof issue.problem !== 'string') {
    const recorder: KeyNames = {
      name: (path) => {
        named.push(path);
        return keyPath(path);
      },
      canSet: () => true,
    };
    issue.problem(recorder);
  }
  return named;
}

/** A path as `followsFromUnsound` indexes it: `0` (an item) and `'0'` (a key) stay apart. */
const indexKey = (path: KeyPath): string => JSON.stringify(path);

/** `path` and every block above it, up to the top level (`[]`). */
const prefixesOf = (path: KeyPath): KeyPath[] =>
  Array.from({ length: path.length + 1 }, (_, n) => path.slice(0, n));

/**
 * `issues`, found on the sound parts of `raw`, without those that may follow from a part
 * taken out: a key they are about (their own, one their text names, one they rest on) is that
 * part or inside it, or is missing from the block of an unknown key.
 */
export function exceptFollowingUnsound(
  issues: readonly KeyIssue[],
  unsound: readonly UnsoundPart[],
  raw: unknown,
): KeyIssue[] {
  if (unsound.length === 0) return [...issues];
  const follows = followsFromUnsound(unsound, raw);
  return issues.filter((issue) => !follows(issue));
}

/**
 * Whether an issue follows from one of `unsound`. The parts are indexed by path once, so an
 * issue costs the length of its keys rather than the number of parts: thousands of users,
 * each with a misspelt key, would otherwise cost each finding a pass over every user.
 */
function followsFromUnsound(
  unsound: readonly UnsoundPart[],
  raw: unknown,
): (issue: KeyIssue) => boolean {
  /** The parts taken out for a bad value. */
  const bad = new Set<string>();
  /** The blocks that held an unknown key, with the keys it is a slip of (undefined: any). */
  const unknownKeyBlocks = new Map<string, Set<string | undefined>>();
  for (const { path, unknownKey, meant } of unsound) {
    if (!unknownKey) {
      bad.add(indexKey(path));
      continue;
    }
    const block = indexKey(path.slice(0, -1));
    const meants = unknownKeyBlocks.get(block) ?? new Set<string | undefined>();
    unknownKeyBlocks.set(block, meants.add(meant));
  }
  const slipOf = (block: KeyPath, key: PropertyKey): boolean => {
    const meants = unknownKeyBlocks.get(indexKey(block));
    return meants !== undefined && (meants.has(undefined) || meants.has(String(key)));
  };
  // A block the text names (`already used by users[0]`, `vidispine.admin or …runAs`) is
  // named as a whole: a bad key inside it leaves the finding standing.
  const touches = (k: KeyPath): boolean =>
    prefixesOf(k).some(
      (block, n) =>
        bad.has(indexKey(block)) ||
        (n < k.length && slipOf(block, k[n] ?? '') && rawAt(raw, k.slice(0, n + 1)) === undefined),
    );
  // A part below the finding's own block does not count: a bad token lifetime leaves "no
  // password" and "no listener" standing (the keys a finding rests on say what it follows from).
  return (issue) => keysOf(issue).some(touches);
}
