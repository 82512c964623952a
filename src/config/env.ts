/**
 * Environment-only configuration (the proxy's single-user sidecar, the injection webhook).
 * Each variable is declared beside its key in the schema (its `env` name), so one schema
 * validates both and problems are reported under the variable's name. Keys of `users[]`
 * describe the proxy's one user, `users[0]`.
 *
 * Unknown variables are ignored: Kubernetes injects `VIDISPINE_PORT`-style service variables.
 * Numbers and booleans (`true`/`false`, `1`/`0`, `yes`/`no`) are converted here; anything
 * else is passed on as text so the schema reports it under the variable's name.
 */
import { keyPath } from './errors';
import { ANY_ITEM, type ConfigKey, describedKeys, type ValueKind } from './keys';
import type { z } from 'zod';
import { fileSchema } from './schema';

type Path = readonly (string | number)[];

interface EnvKey {
  readonly name: string;
  /** The YAML path it sets, with the one user at `users[0]`. */
  readonly path: Path;
  readonly kind: ValueKind;
  readonly envDefault?: string;
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
          },
        ],
  );
}

/** Keys whose problems concern a whole object rather than one variable. */
const OBJECT_KEYS: Readonly<Record<string, string>> = {
  'users[0]': 'VIDISPINE_PASSWORD',
  'vidispine.admin': 'VIDISPINE_ADMIN_PASSWORD',
  users: 'PROXY_LISTEN',
};

function convert(value: string, kind: ValueKind): unknown {
  if (kind === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return Number(value);
  }
  if (kind === 'boolean') {
    const lower = value.trim().toLowerCase();
    if (['true', '1', 'yes'].includes(lower)) return true;
    if (['false', '0', 'no'].includes(lower)) return false;
  }
  return value;
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

/** How a program's environment maps onto its YAML-shaped configuration. */
export interface EnvironmentMapping {
  /** The YAML-shaped object the environment describes (not yet validated). */
  fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown>;
  /** Names the variable behind a config key (`users[0].listen` → `PROXY_LISTEN`). */
  nameFor(configKey: string): string;
}

/**
 * The mapping declared by the `env` names of `schema`'s keys. `base` is the object the
 * variables are written into (blocks that must exist even when no variable of theirs is
 * set); `objectKeys` names the variable to report a whole block's problem under.
 */
export function environmentMapping(
  schema: z.ZodType,
  base: () => Record<string, unknown>,
  objectKeys: Readonly<Record<string, string>> = {},
): EnvironmentMapping {
  const keys = envKeys(schema);
  return {
    fromEnv(env) {
      const raw = base();
      for (const k of keys) {
        const value = env[k.name] ?? k.envDefault;
        if (value !== undefined) assign(raw, k.path, convert(value, k.kind));
      }
      return raw;
    },
    nameFor(configKey) {
      const exact = keys.find((k) => keyPath(k.path) === configKey);
      return exact?.name ?? objectKeys[configKey] ?? configKey;
    },
  };
}

/** The proxy's: a single user, `users[0]`. */
export const proxyEnvironment = environmentMapping(
  fileSchema,
  () => ({ vidispine: {}, users: [{}] }),
  OBJECT_KEYS,
);
