/**
 * Checks of untrusted JSON on the review path: each asserts one field's type in place and
 * throws a `ShapeError` naming the field's path and what it must be. Nothing is copied —
 * the checked value is read as it came from `JSON.parse` — because the webhook reads a
 * handful of fields of a review it answers thousands of times a second; a schema library
 * that builds a validated copy cost as much as the rest of the decision. Configuration,
 * read once, keeps its zod schemas.
 */

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
  ) {
    super(`${path || 'the object'}: expected ${expected}, got ${kindOf(found)}`);
    this.name = 'ShapeError';
  }
}

/** A JSON object (not an array, not null), its fields still unchecked. */
export type Fields = Readonly<Record<string, unknown>>;

const isFields = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `path` then `.key`, or `key` at the top. */
export const at = (path: string, key: string | number): string =>
  path === '' ? String(key) : `${path}.${key}`;

export function object(value: unknown, path: string): Fields {
  if (!isFields(value)) throw new ShapeError(path, 'an object', value);
  return value;
}

export function string(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new ShapeError(path, 'a string', value);
  return value;
}

export function number(value: unknown, path: string): number {
  if (typeof value !== 'number') throw new ShapeError(path, 'a number', value);
  return value;
}

/** Absent or null (Go encodes nil that way), or the type `check` asserts. */
export function optional<T>(
  value: unknown,
  path: string,
  check: (value: unknown, path: string) => T,
): T | null | undefined {
  return value === undefined || value === null ? value : check(value, path);
}

export function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ShapeError(path, 'a boolean', value);
  return value;
}

/** An array whose every element passes `check`. */
export function list<T>(
  value: unknown,
  path: string,
  check: (value: unknown, path: string) => T,
): T[] {
  if (!Array.isArray(value)) throw new ShapeError(path, 'an array', value);
  for (let i = 0; i < value.length; i++) check(value[i], at(path, i));
  return value as T[];
}

/** An object whose every value is a string (labels, annotations). */
export function stringMap(value: unknown, path: string): Readonly<Record<string, string>> {
  const fields = object(value, path);
  for (const key in fields) string(fields[key], at(path, key));
  return fields as Readonly<Record<string, string>>;
}
