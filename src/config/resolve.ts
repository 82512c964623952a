import { readFileSync } from 'node:fs';
import { alternatives, type KeyIssue, type KeyNames, type KeyPath } from './errors';
import { listenersCollide } from './listen';
import type { RawConfig, RawToken, RawUser } from './schema';
import { readSecret, SecretError } from './secrets';
import type {
  Credential,
  ListenAddress,
  ProxyConfig,
  SecretSource,
  TokenSettings,
  UserConfig,
} from './types';

/** The default safety margin: the smaller of 5 s and 10 % of the lifetime. */
export function defaultSafetyMargin(seconds: number): number {
  return Math.min(5, seconds * 0.1);
}

type Issues = KeyIssue[];

const startsWith = (path: KeyPath, prefix: KeyPath): boolean =>
  prefix.every((s, i) => path[i] === s);

/**
 * Rules that span keys: secret sources, duplicates, listener collisions, margins, and that
 * every secret file is readable now (it is read again before every mint).
 */
export function resolveConfig(
  raw: RawConfig,
  env: NodeJS.ProcessEnv,
  names: KeyNames,
): ProxyConfig | Issues {
  const issues: Issues = [];
  const resolver = { env, names, issues };
  const admin = raw.vidispine.admin && resolveAdmin(raw.vidispine.admin, resolver);
  const users = raw.users.map((user, i) =>
    resolveUser(user, i, raw.token, raw.vidispine.admin !== undefined, resolver),
  );
  checkUniqueNames(raw.users, issues);
  checkListeners(raw.users, raw.ops.listen, issues);
  if (raw.vidispine.caFile !== undefined) checkReadable(raw.vidispine.caFile, issues);
  if (issues.length > 0) return issues;
  return {
    vidispine: { ...raw.vidispine, admin },
    users,
    proxy: raw.proxy,
    ops: { listen: typeof raw.ops.listen === 'object' ? raw.ops.listen : null },
    log: raw.log,
    shutdown: raw.shutdown,
    names,
  };
}

/** What resolving needs besides the keys: where secrets live, how keys are named, the findings. */
interface Resolver {
  readonly env: NodeJS.ProcessEnv;
  readonly names: KeyNames;
  readonly issues: Issues;
}

interface SecretFields {
  password?: string;
  passwordFile?: string;
  passwordEnv?: string;
}

const SECRET_KEYS = ['password', 'passwordFile', 'passwordEnv'] as const;

/** At most one source; undefined when none is given. Reads it once to prove it works. */
function resolveSecret(
  fields: SecretFields,
  path: KeyPath,
  { env, names, issues }: Resolver,
): SecretSource | undefined {
  const sources: [KeyPath, SecretSource][] = [];
  const setting = (k: (typeof SECRET_KEYS)[number]) => names.name([...path, k]);
  if (fields.password !== undefined)
    sources.push([
      [...path, 'password'],
      { kind: 'literal', value: fields.password, setting: setting('password') },
    ]);
  if (fields.passwordFile !== undefined)
    sources.push([
      [...path, 'passwordFile'],
      { kind: 'file', path: fields.passwordFile, setting: setting('passwordFile') },
    ]);
  if (fields.passwordEnv !== undefined)
    sources.push([
      [...path, 'passwordEnv'],
      { kind: 'env', name: fields.passwordEnv, setting: setting('passwordEnv') },
    ]);
  if (sources.length > 1) {
    const given = sources.map(([p]) => p);
    issues.push({
      path: given[1],
      problem: (n) => `give only one password source, not ${alternatives(n, given, 'and')}`,
    });
    return undefined;
  }
  const [only] = sources;
  if (!only) return undefined;
  try {
    readSecret(only[1], env);
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    issues.push({ path: only[0], problem: err.message });
  }
  return only[1];
}

const secretPaths = (path: KeyPath): KeyPath[] => SECRET_KEYS.map((k) => [...path, k]);
const ADMIN: KeyPath = ['vidispine', 'admin'];

function resolveAdmin(
  raw: NonNullable<RawConfig['vidispine']['admin']>,
  resolver: Resolver,
): Credential | undefined {
  const { issues } = resolver;
  const secret = resolveSecret(raw, ADMIN, resolver);
  if (secret === undefined) {
    if (!issues.some((i) => startsWith(i.path, ADMIN)))
      issues.push({
        path: ADMIN,
        problem: (n) =>
          `the admin credential "${raw.username}" has no password: set ${alternatives(n, secretPaths(ADMIN))}`,
      });
    return undefined;
  }
  return { username: raw.username, secret };
}

function resolveUser(
  raw: RawUser,
  index: number,
  defaults: RawToken,
  adminGiven: boolean,
  resolver: Resolver,
): UserConfig {
  const { issues } = resolver;
  const path: KeyPath = ['users', index];
  const secret = resolveSecret(raw, path, resolver);
  // With an admin block given, its own problems (if any) say what is missing.
  if (secret === undefined && !adminGiven && !issues.some((i) => startsWith(i.path, path))) {
    issues.push({
      path,
      problem: (n) =>
        `user "${raw.name}" has no password: set ${alternatives(n, secretPaths(path))}, or ${n.name(ADMIN)} (an administrator that mints its tokens)`,
    });
  }
  const { password, passwordFile, passwordEnv, token, ...keys } = raw;
  return { ...keys, secret, token: resolveToken(defaults, token, path, issues) };
}

/** Per-user values win over the top-level `token` block; the margin follows the lifetime. */
function resolveToken(
  defaults: RawToken,
  own: Partial<RawToken> | undefined,
  userPath: KeyPath,
  issues: Issues,
): TokenSettings {
  const given = Object.entries(own ?? {}).filter(([, value]) => value !== undefined);
  const merged: RawToken = { ...defaults, ...Object.fromEntries(given) };
  const { seconds, safetyMarginSeconds: margin } = merged;
  if (margin !== undefined && margin >= seconds) {
    const path: KeyPath =
      own?.safetyMarginSeconds !== undefined
        ? [...userPath, 'token', 'safetyMarginSeconds']
        : ['token', 'safetyMarginSeconds'];
    issues.push({ path, problem: `must be less than the token lifetime (${seconds} s)` });
  }
  return { ...merged, safetyMarginSeconds: margin ?? defaultSafetyMargin(seconds) };
}

function checkUniqueNames(users: readonly RawUser[], issues: Issues): void {
  users.forEach((user, i) => {
    const first = users.findIndex((u) => u.name === user.name);
    if (first < i) {
      issues.push({
        path: ['users', i, 'name'],
        problem: (n) => `"${user.name}" already used by ${n.name(['users', first])}`,
      });
    }
  });
}

function checkListeners(
  users: readonly RawUser[],
  ops: ListenAddress | null | string,
  issues: Issues,
): void {
  const taken: { path: KeyPath; address: ListenAddress }[] = [];
  const claim = (path: KeyPath, address: ListenAddress) => {
    const clash = taken.find((t) => listenersCollide(t.address, address));
    if (clash)
      issues.push({ path, problem: (n) => `address already used by ${n.name(clash.path)}` });
    else taken.push({ path, address });
  };
  users.forEach((user, i) => user.listen && claim(['users', i, 'listen'], user.listen));
  if (taken.length === 0 && !issues.some((i) => i.path[i.path.length - 1] === 'listen')) {
    issues.push({
      path: ['users'],
      problem: (n) =>
        `no user has a listen address; give at least one user a data listener (${n.name(['users', 0, 'listen'])})`,
    });
  }
  if (ops !== null && typeof ops === 'object') claim(['ops', 'listen'], ops);
}

function checkReadable(path: string, issues: Issues): void {
  try {
    readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push({ path: ['vidispine', 'caFile'], problem: `cannot read file ${path} (${code})` });
  }
}
