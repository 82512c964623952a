/**
 * What each configuration key means, attached to its schema where it is defined
 * (`schema.ts`), and the list of every key read back from the schema. The environment
 * mapping (`env.ts`) and the README's key tables (`reference.ts`) are derived from that list,
 * so a key is declared, validated, defaulted and documented in one place.
 */
import * as z from 'zod';

export interface KeyDoc {
  /** What the key means: one line, for the README. */
  readonly description: string;
  /** The variable that sets it in an environment-only configuration (one user). */
  readonly env?: string;
  /** The default in words, where it is computed rather than a fixed value. */
  readonly defaultText?: string;
  /** What an environment-only configuration uses while the variable is unset. */
  readonly envDefault?: string;
  /**
   * The value is a secret (a password, an access key's secret): its variable keeps the space
   * around it, which may be part of it, where every other one is trimmed (`readSecret` still
   * drops trailing line ends, as it does from a file).
   */
  readonly secret?: true;
}

const KEY_DOCS = z.registry<KeyDoc>();

/** Declares a key: its schema (validation and default) and its documentation. */
export function key<S extends z.ZodType>(schema: S, doc: KeyDoc): S {
  KEY_DOCS.add(schema, doc);
  return schema;
}

/** `'[]'` stands for any item of a list (`users[].name`). */
export type KeySegment = string;
export const ANY_ITEM: KeySegment = '[]';

/** How a value given as text (an environment variable) is turned into the schema's input. */
export type ValueKind = 'string' | 'number' | 'integer' | 'boolean';

/** Zod's formats of a number that must be an integer (`z.int()` is `safeint`). */
const INTEGER_FORMATS = new Set(['safeint', 'int32', 'uint32']);

export interface ConfigKey extends KeyDoc {
  /** Where the key sits in the YAML file, e.g. `['users', '[]', 'listen']`. */
  readonly path: readonly KeySegment[];
  /** `users[].listen`: the path as the README writes it. */
  readonly name: string;
  readonly kind: ValueKind;
  /** The schema's own default, when it has one. */
  readonly default?: unknown;
  /** Must be given (no default, not optional); `within` names the optional block it sits in. */
  readonly required: boolean;
  readonly within?: string;
}

type Def = { readonly type: string } & Record<string, unknown>;
const defOf = (schema: z.ZodType): Def => schema.def as unknown as Def;

/** Wrappers that leave the value's own schema inside. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly']);

function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (WRAPPERS.has(defOf(inner).type)) inner = defOf(inner).innerType as z.ZodType;
  return inner;
}

function kindOf(schema: z.ZodType): ValueKind {
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'pipe') return kindOf(def.in as z.ZodType);
  if (def.type === 'number') return INTEGER_FORMATS.has(String(def.format)) ? 'integer' : 'number';
  if (def.type === 'boolean') return 'boolean';
  return 'string';
}

/** The default a wrapper chain carries, and whether the value may be left out at all. */
function presence(schema: z.ZodType): { default?: unknown; optional: boolean } {
  for (let s = schema; WRAPPERS.has(defOf(s).type); s = defOf(s).innerType as z.ZodType) {
    const def = defOf(s);
    if (def.type === 'default' || def.type === 'prefault') {
      return { default: def.defaultValue, optional: true };
    }
    if (def.type === 'optional') return { optional: true };
  }
  return { optional: false };
}

/** The schema of the value at `path` below `schema`, as declared (its default kept); undefined where none is. */
function declaredAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let node = schema;
  for (const segment of path) {
    const inner = unwrap(node);
    const def = defOf(inner);
    if (def.type === 'object') {
      const child = (inner as z.ZodObject).shape[String(segment)] as z.ZodType | undefined;
      if (child === undefined) return undefined;
      node = child;
    } else if (def.type === 'array' && typeof segment === 'number') {
      node = def.element as z.ZodType;
    } else {
      return undefined;
    }
  }
  return node;
}

/** The schema of the value at `path` below `schema`, unwrapped; undefined where none is. */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  const node = declaredAt(schema, path);
  return node === undefined ? undefined : unwrap(node);
}

/** What `raw` holds at `path`, own properties only; undefined where nothing is. */
export function rawAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment))
      return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

/**
 * The value at `path` of `raw` as the key's own schema reads it (its default where it is left
 * out), whatever the rest of `raw` holds; undefined where no key is or its schema refuses it.
 * For a configuration that does not validate: what its sound keys say all the same.
 */
export function keyValueAt(schema: z.ZodType, raw: unknown, path: readonly PropertyKey[]): unknown {
  const parsed = declaredAt(schema, path)?.safeParse(rawAt(raw, path));
  return parsed?.success === true ? parsed.data : undefined;
}

/**
 * The keys an object of `schema` at `path` accepts (`['users', 0]` → `name`, `password`, …),
 * for suggesting the nearest one to a mistyped key; empty when `path` is not an object.
 */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const node = schemaAt(schema, path);
  return node !== undefined && defOf(node).type === 'object'
    ? Object.keys((node as z.ZodObject).shape)
    : [];
}

/** Whether the value at `path` is a block of keys or a list (not a single value). */
export function isBlockAt(schema: z.ZodType, path: readonly PropertyKey[]): boolean {
  const type = defOf(schemaAt(schema, path) ?? z.never()).type;
  return type === 'object' || type === 'array';
}

function keyName(path: readonly KeySegment[]): string {
  return path.reduce((name, s) => (s === ANY_ITEM ? `${name}[]` : name ? `${name}.${s}` : s), '');
}

/**
 * Every documented key below `schema`, in declaration order. Objects and lists without a
 * documentation of their own are walked into; anything else must be documented.
 */
export function describedKeys(schema: z.ZodType): ConfigKey[] {
  const keys: ConfigKey[] = [];
  const walk = (node: z.ZodType, path: KeySegment[], within: string | undefined): void => {
    const doc = KEY_DOCS.get(node);
    const { optional, ...dflt } = presence(node);
    const inner = unwrap(node);
    const type = defOf(inner).type;
    if (doc === undefined && type === 'object') {
      // The innermost block that may be left out is the one whose keys go together.
      const leftOut = optional && !('default' in dflt) && path.length > 0;
      const block = leftOut ? keyName(path) : within;
      for (const [name, child] of Object.entries((inner as z.ZodObject).shape)) {
        walk(child as z.ZodType, [...path, name], block);
      }
      return;
    }
    if (doc === undefined && type === 'array') {
      walk(defOf(inner).element as z.ZodType, [...path, ANY_ITEM], within);
      return;
    }
    if (doc === undefined) throw new Error(`configuration key ${keyName(path)} has no KeyDoc`);
    keys.push({
      ...doc,
      ...dflt,
      path,
      name: keyName(path),
      kind: kindOf(node),
      required: !optional,
      within,
    });
  };
  walk(schema, [], undefined);
  return keys;
}
