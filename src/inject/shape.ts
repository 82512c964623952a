/**
 * Checks of untrusted JSON on the review path: each asserts one field's type in place and
 * throws a `ShapeError` naming the field's path and what it must be. Nothing is copied —
 * the checked value is read as it came from `JSON.parse` — because the webhook reads a
 * handful of fields of a review it answers thousands of times a second; a schema library
 * that builds a validated copy cost as much as the rest of the decision. Configuration,
 * read once, keeps its zod schemas.
 */
import { shownKeyPath, visibleText } from '../visible-text';

/** What a JSON value is, as a message names it. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A field that is not what the webhook reads: its dotted path, what it must be and what it is. */
export class ShapeError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    found: unknown,
    /** Found text is quoted rather than called "a string" (a version that is not ours). */
    quote = false,
  ) {
    const got =
      quote && typeof found === 'string' ? JSON.stringify(visibleText(found, 64)) : kindOf(found);
    // The path holds the object's own keys (labels, annotations): text of the sender's.
    super(`${shownKeyPath(path) || 'the object'}: expected ${expected}, got ${got}`);
    this.name = 'ShapeError';
  }
}

/** A JSON object (not an array, not null), its fields still unchecked. */
export type Fields = Readonly<Record<string, unknown>>;

/** Asserts that the value at `path` is a `T`, and returns it as one. */
export type Check<T> = (value: unknown, path: string) => T;

/** `path` then `.key`, or `key` at the top. */
export const at = (path: string, key: string | number): string =>
  path === '' ? String(key) : `${path}.${key}`;

export const object: Check<Fields> = (value, path) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ShapeError(path, 'an object', value);
  return value as Fields;
};

const primitive =
  <T>(type: 'string' | 'number' | 'boolean', expected: string): Check<T> =>
  (value, path) => {
    if (typeof value !== type) throw new ShapeError(path, expected, value);
    return value as T;
  };

export const string = primitive<string>('string', 'a string');
export const number = primitive<number>('number', 'a number');
export const boolean = primitive<boolean>('boolean', 'a boolean');

/** Absent or null (Go encodes nil that way), or what `check` asserts. */
export const optional =
  <T>(check: Check<T>): Check<T | null | undefined> =>
  (value, path) =>
    value === undefined || value === null ? value : check(value, path);

/** An array whose every element passes `check`. */
export const listOf =
  <T>(check: Check<T>): Check<T[]> =>
  (value, path) => {
    if (!Array.isArray(value)) throw new ShapeError(path, 'an array', value);
    for (let i = 0; i < value.length; i++) check(value[i], at(path, i));
    return value as T[];
  };

/** An object whose every value is a string (labels, annotations). */
export const stringMap: Check<Readonly<Record<string, string>>> = (value, path) => {
  const fields = object(value, path);
  for (const key in fields) string(fields[key], at(path, key));
  return fields as Readonly<Record<string, string>>;
};
