import { readFileSync } from 'node:fs';
import type { ConfigIssue } from './errors';
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

type Issues = ConfigIssue[];

/**
 * Rules that span keys: secret sources, duplicates, listener collisions, margins, and that
 * every secret file is readable now (it is read again before every mint).
 */
export function resolveConfig(raw: RawConfig, env: NodeJS.ProcessEnv): ProxyConfig | Issues {
  const issues: Issues = [];
  const admin = raw.vidispine.admin && resolveAdmin(raw.vidispine.admin, env, issues);
  const users = raw.users.map((user, i) =>
    resolveUser(user, i, raw.token, admin !== undefined, env, issues),
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
  };
}

interface SecretFields {
  password?: string;
  passwordFile?: string;
  passwordEnv?: string;
}

/** At most one source; undefined when none is given. Reads it once to prove it works. */
function resolveSecret(
  fields: SecretFields,
  key: string,
  env: NodeJS.ProcessEnv,
  issues: Issues,
): SecretSource | undefined {
  const sources: [string, SecretSource][] = [];
  if (fields.password !== undefined)
    sources.push(['password', { kind: 'literal', value: fields.password }]);
  if (fields.passwordFile !== undefined)
    sources.push(['passwordFile', { kind: 'file', path: fields.passwordFile }]);
  if (fields.passwordEnv !== undefined)
    sources.push(['passwordEnv', { kind: 'env', name: fields.passwordEnv }]);
  if (sources.length > 1) {
    issues.push({
      key,
      problem: `give only one password source, not ${sources.map(([n]) => n).join(' and ')}`,
    });
    return undefined;
  }
  const [only] = sources;
  if (!only) return undefined;
  try {
    readSecret(only[1], env);
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    issues.push({ key: `${key}.${only[0]}`, problem: err.message });
  }
  return only[1];
}

function resolveAdmin(
  raw: NonNullable<RawConfig['vidispine']['admin']>,
  env: NodeJS.ProcessEnv,
  issues: Issues,
): Credential | undefined {
  const key = 'vidispine.admin';
  const secret = resolveSecret(raw, key, env, issues);
  if (secret === undefined) {
    if (!issues.some((i) => i.key.startsWith(key)))
      issues.push({ key, problem: 'no password source for the admin credential' });
    return undefined;
  }
  return { username: raw.username, secret };
}

function resolveUser(
  raw: RawUser,
  index: number,
  defaults: RawToken,
  haveAdmin: boolean,
  env: NodeJS.ProcessEnv,
  issues: Issues,
): UserConfig {
  const key = `users[${index}]`;
  const secret = resolveSecret(raw, key, env, issues);
  if (secret === undefined && !haveAdmin && !issues.some((i) => i.key.startsWith(key))) {
    issues.push({
      key,
      problem: `user "${raw.name}" has no password source and there is no vidispine.admin credential to mint its tokens`,
    });
  }
  const { password, passwordFile, passwordEnv, token, ...keys } = raw;
  return { ...keys, secret, token: resolveToken(defaults, token, key, issues) };
}

/** Per-user values win over the top-level `token` block; the margin follows the lifetime. */
function resolveToken(
  defaults: RawToken,
  own: Partial<RawToken> | undefined,
  userKey: string,
  issues: Issues,
): TokenSettings {
  const given = Object.entries(own ?? {}).filter(([, value]) => value !== undefined);
  const merged: RawToken = { ...defaults, ...Object.fromEntries(given) };
  const { seconds, safetyMarginSeconds: margin } = merged;
  if (margin !== undefined && margin >= seconds) {
    const where =
      own?.safetyMarginSeconds !== undefined
        ? `${userKey}.token.safetyMarginSeconds`
        : 'token.safetyMarginSeconds';
    issues.push({ key: where, problem: `must be less than the token lifetime (${seconds} s)` });
  }
  return { ...merged, safetyMarginSeconds: margin ?? defaultSafetyMargin(seconds) };
}

function checkUniqueNames(users: readonly RawUser[], issues: Issues): void {
  users.forEach((user, i) => {
    const first = users.findIndex((u) => u.name === user.name);
    if (first < i) {
      issues.push({
        key: `users[${i}].name`,
        problem: `"${user.name}" already used by users[${first}]`,
      });
    }
  });
}

function checkListeners(
  users: readonly RawUser[],
  ops: ListenAddress | null | string,
  issues: Issues,
): void {
  const taken: { key: string; address: ListenAddress }[] = [];
  const claim = (key: string, address: ListenAddress) => {
    const clash = taken.find((t) => listenersCollide(t.address, address));
    if (clash) issues.push({ key, problem: `address already used by ${clash.key}` });
    else taken.push({ key: key.replace(/\.listen$/, ''), address });
  };
  users.forEach((user, i) => user.listen && claim(`users[${i}].listen`, user.listen));
  if (taken.length === 0 && !issues.some((i) => i.key.endsWith('.listen'))) {
    issues.push({
      key: 'users',
      problem: 'no user has a listen address; give at least one user a data listener',
    });
  }
  if (ops !== null && typeof ops === 'object') claim('ops.listen', ops);
}

function checkReadable(path: string, issues: Issues): void {
  try {
    readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push({ key: 'vidispine.caFile', problem: `cannot read file ${path} (${code})` });
  }
}
