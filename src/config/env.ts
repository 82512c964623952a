/**
 * Environment-only configuration (the proxy's single-user sidecar, the injection webhook).
 * Each variable is declared beside its key in the schema (its `env` name), so one schema
 * validates both and problems are reported under the variable's name. Keys of `users[]`
 * describe the proxy's one user, `users[0]`.
 *
 * Unknown variables are ignored (Kubernetes injects `VIDISPINE_PORT`-style service variables),
 * except near misses of the program's own (`VIDISPINE_PASWORD`), which are refused as typos.
 * Every value but a secret's is trimmed first (`variableValue`).
 * Numbers and booleans (`booleans.ts`) are converted here. A boolean that is none is reported
 * here, with the words a variable may hold; anything else is passed on as text so the schema
 * reports it under the variable's name.
 */
import { BOOLEAN_WORDS, booleanOfText } from './booleans';
import { type ConfigIssue, type KeyNames, keyPath } from './errors';
import { ANY_ITEM, type ConfigKey, describedKeys, type ValueKind } from './keys';
import type { z } from 'zod';
import { fileSchema } from './schema';
import { nearestAmong } from './suggest';

type Path = readonly (string | number)[];

interface EnvKey {
  readonly name: string;
  /** The YAML path it sets, with the one user at `users[0]`. */
  readonly path: Path;
  readonly kind: ValueKind;
  readonly envDefault?: string;
  readonly secret: boolean;
}

/** Every key of `schema` that has a variable, in the schema's order. */
function envKeys(schema: z.ZodType): EnvKey[] {
  return describedKeys(schema).flatMap((k: ConfigKey) =>
    k.env === undefined
      ? []
      : [
          {
            name: k.env,
            path: k.path.map((s) => (s === ANY_ITEM ? 0 : s)),
            kind: k.kind,
            envDefault: k.envDefault,
            secret: k.secret === true,
          },
        ],
  );
}

/**
 * A variable's value without the space around it: a `.env` file, a Helm template or a YAML
 * `|` block leaves a stray space or a trailing newline, which no address, number, word, name
 * or path of the configuration means (one inside a user name or a path is kept). One rule for
 * every variable, booleans included, except a secret's value (`KeyDoc.secret`): a password
 * may begin or end with a space, which is kept.
 */
export const variableValue = (text: string): string => text.trim();

/**
 * A number as an operator writes one in decimal (the space around it trimmed). `Number()`
 * alone would also take `0x3c`, `6e1` and `+60` as 60, and `1e9` for a count: a value nobody
 * meant is refused instead.
 */
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)$/;
/**
 * An integer key's value: digits alone. `60.0` is refused as `60.5` is: whoever wrote a
 * fraction believes the key takes one (Vidispine's `seconds` is an int), and would be told
 * nothing while the next value they try, `60.5`, stops the start.
 */
const INTEGER = /^-?\d+$/;

const NUMBER_TEXT: Partial<Record<ValueKind, RegExp>> = { number: DECIMAL, integer: INTEGER };

/** The variable's value as its key takes it; undefined for a boolean that is none. */
function convert(value: string, kind: ValueKind): unknown {
  if (NUMBER_TEXT[kind]?.test(value)) return Number(value);
  return kind === 'boolean' ? booleanOfText(value) : value;
}

function assign(target: Record<string | number, unknown>, path: Path, value: unknown): void {
  const [head, ...rest] = path;
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  const child = (target[head] ??= typeof rest[0] === 'number' ? [] : {}) as Record<
    string | number,
    unknown
  >;
  assign(child, rest, value);
}

const samePath = (a: Path, b: Path): boolean =>
  a.length === b.length && a.every((s, i) => s === b[i]);
const within = (inner: Path, outer: Path): boolean =>
  outer.length <= inner.length && outer.every((s, i) => s === inner[i]);

/**
 * The service-link variables Kubernetes sets for every Service in the namespace
 * (`VIDISPINE_PORT`, `VIDISPINE_PORT_8080_TCP_ADDR`, `VIDISPINE_SERVICE_HOST` …): never typos.
 */
const SERVICE_LINK =
  /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

/**
 * Stricter than for YAML keys: the environment holds everybody's variables, and a near miss
 * is refused, so only one slip (two in a long name) counts — `ACCESS_KEY` is not `ACCESS_LOG`.
 */
const variableTolerance = (length: number): number => (length >= 12 ? 2 : 1);

/** How a program's environment maps onto its YAML-shaped configuration. */
export interface EnvironmentMapping {
  /** The schema the mapped object — and a YAML file given in its place — is validated against. */
  readonly schema: z.ZodType;
  /**
   * The YAML-shaped object the environment describes (not yet validated), and the variables
   * left out of it as no value of their kind (`ACCESS_LOG=maybe`).
   */
  fromEnv(env: NodeJS.ProcessEnv): {
    readonly raw: Record<string, unknown>;
    readonly issues: readonly ConfigIssue[];
    /** Keys set by their variable's default, the variable unset (`PROXY_LISTEN`). */
    readonly defaulted: readonly Path[];
  };
  /**
   * Keys named by their variables (`users[0].listen` → `PROXY_LISTEN`). A block is named by
   * its first variable (`users[0]` → `VIDISPINE_USER`, `vidispine.admin` →
   * `VIDISPINE_ADMIN_USER`), so a problem with the block as a whole still points at a
   * variable the user wrote.
   */
  readonly names: KeyNames;
  /**
   * Variables that look like a mistyped one of these (`VIDISPINE_PASWORD`, `token_seconds`),
   * besides `others` (`CONFIG_FILE`): a typo would otherwise be ignored without a word, and the
   * program would run with a default the user meant to change.
   */
  misspelt(env: NodeJS.ProcessEnv, others?: readonly string[]): ConfigIssue[];
  /** The keys whose variables those look like (`VIDISPINE_PASWORD` → `users[0].password`). */
  meantByMisspelt(env: NodeJS.ProcessEnv): Path[];
}

/**
 * The mapping declared by the `env` names of `schema`'s keys. `base` is the object the
 * variables are written into (blocks that must exist even when no variable of theirs is set).
 */
export function environmentMapping(
  schema: z.ZodType,
  base: () => Record<string, unknown>,
): EnvironmentMapping {
  const keys = envKeys(schema);
  return {
    schema,
    fromEnv(env) {
      const raw = base();
      const issues: ConfigIssue[] = [];
      const defaulted: Path[] = [];
      for (const k of keys) {
        const value = env[k.name] ?? k.envDefault;
        if (value === undefined) continue;
        if (env[k.name] === undefined) defaulted.push(k.path);
        const converted = convert(k.secret ? value : variableValue(value), k.kind);
        if (converted !== undefined) assign(raw, k.path, converted);
        else issues.push({ key: k.name, problem: `must be ${BOOLEAN_WORDS}` });
      }
      return { raw, issues, defaulted };
    },
    names: {
      name(path) {
        const variable =
          keys.find((k) => samePath(k.path, path)) ?? keys.find((k) => within(k.path, path));
        return variable?.name ?? keyPath(path);
      },
      canSet: (path) => keys.some((k) => samePath(k.path, path)),
    },
    misspelt(env, others = []) {
      return nearMisses(env, new Set([...keys.map((k) => k.name), ...others]));
    },
    meantByMisspelt(env) {
      return slips(env, new Set(keys.map((k) => k.name))).flatMap(({ meant }) =>
        keys.filter((k) => k.name === meant).map((k) => k.path),
      );
    },
  };
}

/** The variables of `env` a slip away from one of `known` (but none of them, nor a service link). */
export function nearMisses(env: NodeJS.ProcessEnv, known: ReadonlySet<string>): ConfigIssue[] {
  return slips(env, known).map(({ name, meant }) => ({
    key: name,
    problem: `unknown variable; did you mean ${meant}?`,
  }));
}

function slips(
  env: NodeJS.ProcessEnv,
  known: ReadonlySet<string>,
): { name: string; meant: string }[] {
  const meantOf = nearestAmong(known, variableTolerance);
  return Object.keys(env).flatMap((name) => {
    if (known.has(name) || SERVICE_LINK.test(name)) return [];
    const meant = meantOf(name);
    return meant === undefined ? [] : [{ name, meant }];
  });
}

/** The proxy's: a single user, `users[0]`. */
export const proxyEnvironment = environmentMapping(fileSchema, () => ({
  vidispine: {},
  users: [{}],
}));
