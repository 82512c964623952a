import * as z from 'zod';
import { fileSchema } from '../../src/config/schema';
import { at, isRecord } from './render';

/**
 * A numeric key's range as JSON Schema states it, normalised so the proxy's and the chart's
 * wordings compare equal: an integer's exclusive lower bound is the next integer, inclusive,
 * and an integer's Number.MAX_SAFE_INTEGER (what `z.int()` says) is no limit of its own.
 */
export interface Bounds {
  readonly type: 'integer' | 'number';
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
  readonly maximum?: number;
}

/** One numeric key of the proxy's configuration: its YAML path (`[]` for a list's items). */
export interface NumericKey {
  readonly path: readonly string[];
  readonly bounds: Bounds;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** `node`'s range if it is a JSON Schema number or integer, normalised (see `Bounds`). */
export function boundsOf(node: unknown): Bounds | undefined {
  const type = at(node, 'type');
  if (type !== 'integer' && type !== 'number') return undefined;
  let minimum = num(at(node, 'minimum'));
  let exclusiveMinimum = num(at(node, 'exclusiveMinimum'));
  let maximum = num(at(node, 'maximum'));
  if (type === 'integer') {
    if (exclusiveMinimum !== undefined) {
      minimum = Math.max(minimum ?? -Infinity, exclusiveMinimum + 1);
      exclusiveMinimum = undefined;
    }
    if (maximum === Number.MAX_SAFE_INTEGER) maximum = undefined;
    if (minimum === Number.MIN_SAFE_INTEGER) minimum = undefined;
  }
  return {
    type,
    ...(minimum === undefined ? {} : { minimum }),
    ...(exclusiveMinimum === undefined ? {} : { exclusiveMinimum }),
    ...(maximum === undefined ? {} : { maximum }),
  };
}

function numericLeaves(node: unknown, path: readonly string[], out: NumericKey[]): NumericKey[] {
  const bounds = boundsOf(node);
  if (bounds !== undefined) out.push({ path, bounds });
  const props = at(node, 'properties');
  if (isRecord(props))
    for (const [k, v] of Object.entries(props)) numericLeaves(v, [...path, k], out);
  const items = at(node, 'items');
  if (isRecord(items)) numericLeaves(items, [...path, '[]'], out);
  return out;
}

/**
 * Every numeric key of the proxy's configuration with its range, read from the proxy's own
 * schema: the chart is checked against what the proxy enforces, not against a copy of it.
 */
export function proxyNumericKeys(): NumericKey[] {
  const json = z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any' });
  return numericLeaves(json, [], []);
}

/** One string key of the proxy's configuration the proxy holds to a form: not empty, a pattern. */
export interface StringKey {
  readonly path: readonly string[];
  readonly minLength?: number;
  readonly pattern?: string;
}

function stringLeaves(node: unknown, path: readonly string[], out: StringKey[]): StringKey[] {
  const minLength = num(at(node, 'minLength'));
  const pattern = at(node, 'pattern');
  if (at(node, 'type') === 'string' && (minLength !== undefined || typeof pattern === 'string'))
    out.push({
      path,
      ...(minLength === undefined ? {} : { minLength }),
      ...(typeof pattern === 'string' ? { pattern } : {}),
    });
  const props = at(node, 'properties');
  if (isRecord(props))
    for (const [k, v] of Object.entries(props)) stringLeaves(v, [...path, k], out);
  const items = at(node, 'items');
  if (isRecord(items)) stringLeaves(items, [...path, '[]'], out);
  return out;
}

/**
 * Every string key of the proxy's configuration with a form, read from the proxy's schema; a
 * key that takes other values too (`ops.listen`: `''` or null turn it off) has none of its own.
 */
export function proxyStringKeys(): StringKey[] {
  const json = z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any' });
  return stringLeaves(json, [], []);
}

/** The JSON Schema node at `path` (`[]` steps into a list's items), if there is one. */
export function schemaNodeAt(schema: unknown, path: readonly string[]): unknown {
  let node = schema;
  for (const step of path) node = step === '[]' ? at(node, 'items') : at(node, 'properties', step);
  return node;
}

/** `config.users[].token.seconds` as a path of steps, for messages. */
export const dotted = (path: readonly string[]): string => path.join('.').replace(/\.\[\]/g, '[]');

/** `values` with `value` set at `path`, a list's first item standing for `[]`. */
export function setAt(
  values: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): void {
  let node: Record<string, unknown> | unknown[] = values;
  path.forEach((step, i) => {
    const last = i === path.length - 1;
    const key = step === '[]' ? 0 : step;
    const container = node as Record<string | number, unknown>;
    if (last) {
      container[key] = value;
      return;
    }
    const next = container[key] ?? (path[i + 1] === '[]' ? [] : {});
    container[key] = next;
    node = next as Record<string, unknown>;
  });
}

/**
 * The chart's top-level values the proxy reads as a variable, by its configuration key: the
 * rest of its numbers are the `config:` block, key for key.
 */
const AS_VARIABLES: readonly (readonly [value: string, key: string])[] = [
  ['token.seconds', 'token.seconds'],
];

/** Each chart value that reaches the proxy as a number, with the range the proxy holds it to. */
export function chartNumbers(): NumericKey[] {
  const keys = proxyNumericKeys();
  const variables = AS_VARIABLES.map(([value, name]): NumericKey => {
    const key = keys.find((k) => dotted(k.path) === name);
    if (key === undefined) throw new Error(`the proxy has no key ${name}`);
    return { path: value.split('.'), bounds: key.bounds };
  });
  return [...keys.map((k) => ({ ...k, path: ['config', ...k.path] })), ...variables];
}
