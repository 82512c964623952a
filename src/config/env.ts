/**
 * Environment-only configuration (single-user sidecar). Each variable is declared beside its
 * key in `schema.ts` (its `env` name), so one schema validates both and problems are
 * reported under the variable's name. Keys of `users[]` describe the one user, `users[0]`.
 *
 * Unknown variables are ignored: Kubernetes injects `VIDISPINE_PORT`-style service variables.
 * Numbers and booleans (`true`/`false`, `1`/`0`, `yes`/`no`) are converted here; anything
 * else is passed on as text so the schema reports it under the variable's name.
 */
import { keyPath } from './errors';
import { ANY_ITEM, type ConfigKey, describedKeys, type ValueKind } from './keys';
import { fileSchema } from './schema';

type Path = readonly (string | number)[];

interface EnvKey {
  readonly name: string;
  /** The YAML path it sets, with the one user at `users[0]`. */
  readonly path: Path;
  readonly kind: ValueKind;
  readonly envDefault?: string;
}

/** Every key that has a variable, in the schema's order. */
const ENV_KEYS: readonly EnvKey[] = describedKeys(fileSchema).flatMap((k: ConfigKey) =>
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

/** The YAML-shaped object the environment describes (not yet validated). */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const raw: Record<string, unknown> = { vidispine: {}, users: [{}] };
  for (const k of ENV_KEYS) {
    const value = env[k.name] ?? k.envDefault;
    if (value !== undefined) assign(raw, k.path, convert(value, k.kind));
  }
  return raw;
}

/** Names the variable behind a config key (`users[0].listen` → `PROXY_LISTEN`). */
export function envNameFor(configKey: string): string {
  const exact = ENV_KEYS.find((k) => keyPath(k.path) === configKey);
  return exact?.name ?? OBJECT_KEYS[configKey] ?? configKey;
}
