import { shownValue } from '../visible-text';
import { alternatives, type KeyIssue, type KeyNames, type KeyPath } from './errors';
import { formatListen, listenersCollide } from './listen';
import type { RawConfig, RawToken, RawUser } from './schema';
import { readSecretNow, SecretError } from './secrets';
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
 * Rules that span keys: credentials and their secret sources, who mints for users without a
 * credential of their own, duplicates, listener collisions, margins, and that every secret
 * value or variable is usable now. Secret files are read by `checkSecretFiles`, and the CA
 * file by `readCaFile`, asynchronously, before the proxy starts (a secret file again before
 * every mint).
 */
export function resolveConfig(
  raw: RawConfig,
  env: NodeJS.ProcessEnv,
  names: KeyNames,
  isDefault: (path: KeyPath) => boolean = () => false,
): ProxyConfig | Issues {
  const issues: Issues = [];
  const resolver = { env, names, issues };
  const { admin: rawAdmin, runAs: rawRunAs, ...vidispine } = raw.vidispine;
  const admin = rawAdmin && resolveAccount(rawAdmin, ADMIN, resolver);
  const runAs = rawRunAs && resolveAccount(rawRunAs, RUN_AS, resolver);
  if (rawAdmin !== undefined && rawRunAs !== undefined) {
    issues.push({
      path: RUN_AS,
      problem: (n) =>
        `give ${n.name(ADMIN)} or ${n.name(RUN_AS)}, not both: one account mints for every user without a credential of its own`,
    });
  }
  const delegate = rawRunAs !== undefined ? 'runAs' : rawAdmin !== undefined ? 'admin' : undefined;
  const users = raw.users.map((user, i) => resolveUser(user, i, raw.token, delegate, resolver));
  checkUniqueNames(raw.users, issues);
  checkListeners(raw.users, raw.ops.listen, isDefault, issues);
  checkListenerKeys(raw.users, issues);
  checkReplayBuffers(raw.proxy, issues);
  if (issues.length > 0) return issues;
  return {
    vidispine: { ...vidispine, admin, runAs },
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

type RawAccessKey = NonNullable<RawUser['accessKey']>;

/** The keys of an account's password, and of its access key's secret: value, file, variable. */
export const SECRET_KEYS = ['password', 'passwordFile', 'passwordEnv'] as const;
export const KEY_SECRET_KEYS = ['secret', 'secretFile', 'secretEnv'] as const;

/** The secret sources given, by the key that gave each. */
function sourcesOf(
  [literal, file, variable]: readonly [string | undefined, string | undefined, string | undefined],
  keys: readonly [string, string, string],
  path: KeyPath,
  names: KeyNames,
): [KeyPath, SecretSource][] {
  const at = (k: string): KeyPath => [...path, k];
  const setting = (k: string) => names.name(at(k));
  const sources: [KeyPath, SecretSource][] = [];
  if (literal !== undefined)
    sources.push([at(keys[0]), { kind: 'literal', value: literal, setting: setting(keys[0]) }]);
  if (file !== undefined)
    sources.push([at(keys[1]), { kind: 'file', path: file, setting: setting(keys[1]) }]);
  if (variable !== undefined)
    sources.push([at(keys[2]), { kind: 'env', name: variable, setting: setting(keys[2]) }]);
  return sources;
}

/**
 * The credential an account's keys describe: a password from one source, or an access key
 * with its secret from one source. Undefined when none is given. A value or a variable is
 * checked now; a file later, without blocking (`checkSecretFiles`).
 */
function resolveCredential(
  fields: SecretFields & { accessKey?: RawAccessKey },
  username: string,
  path: KeyPath,
  { env, names, issues }: Resolver,
): Credential | undefined {
  const passwords = sourcesOf(
    [fields.password, fields.passwordFile, fields.passwordEnv],
    SECRET_KEYS,
    path,
    names,
  );
  const { accessKey } = fields;
  const keyPath: KeyPath = [...path, 'accessKey'];
  if (accessKey !== undefined && passwords.length > 0) {
    issues.push({
      path: passwords[0][0],
      problem: (n) =>
        `give a password or an access key, not both (${n.name(passwords[0][0])} and ${n.name(keyPath)})`,
    });
    return undefined;
  }
  const sources =
    accessKey === undefined
      ? passwords
      : sourcesOf(
          [accessKey.secret, accessKey.secretFile, accessKey.secretEnv],
          KEY_SECRET_KEYS,
          keyPath,
          names,
        );
  if (sources.length > 1) {
    const given = sources.map(([p]) => p);
    issues.push({
      path: given[1],
      problem: (n) => `give only one source for the secret, not ${alternatives(n, given, 'and')}`,
    });
    return undefined;
  }
  const [only] = sources;
  if (only === undefined) {
    if (accessKey !== undefined) {
      const options = KEY_SECRET_KEYS.map((k): KeyPath => [...keyPath, k]);
      issues.push({
        path: options[0],
        problem: (n) => `give the access key's secret: set ${alternatives(n, options)}`,
      });
    }
    return undefined;
  }
  const [key, source] = only;
  // A file is read before the proxy starts, bounded by the mint timeout (`secret-files.ts`):
  // its volume may hang, and the main thread with it.
  if (source.kind !== 'file') {
    try {
      readSecretNow(source, env);
    } catch (err) {
      if (!(err instanceof SecretError)) throw err;
      issues.push({ path: key, problem: err.message });
    }
  }
  return accessKey === undefined
    ? { username, kind: 'password', basicUser: username, secret: only[1] }
    : { username, kind: 'accessKey', basicUser: accessKey.id, secret: only[1] };
}

const secretPaths = (path: KeyPath): KeyPath[] => SECRET_KEYS.map((k) => [...path, k]);
const ADMIN: KeyPath = ['vidispine', 'admin'];
const RUN_AS: KeyPath = ['vidispine', 'runAs'];

/** `vidispine.admin` or `vidispine.runAs`: a named account with a password or access key. */
function resolveAccount(
  raw: SecretFields & { username: string; accessKey?: RawAccessKey },
  path: KeyPath,
  resolver: Resolver,
): Credential | undefined {
  const { issues } = resolver;
  const credential = resolveCredential(raw, raw.username, path, resolver);
  if (credential === undefined && !issues.some((i) => startsWith(i.path, path))) {
    issues.push({
      path,
      problem: (n) =>
        `the account "${shownValue(raw.username)}" has no password or access key: set ${alternatives(n, [...secretPaths(path), [...path, 'accessKey', 'id']])}`,
    });
  }
  return credential;
}

/** The RunAs header carries the name: only characters an HTTP header can hold. */
export const HEADER_TEXT = /^[\x20-\x7e\xa0-\xff]*$/;

function resolveUser(
  raw: RawUser,
  index: number,
  defaults: RawToken,
  delegate: 'admin' | 'runAs' | undefined,
  resolver: Resolver,
): UserConfig {
  const { issues } = resolver;
  const path: KeyPath = ['users', index];
  const credential = resolveCredential(raw, raw.name, path, resolver);
  // With an admin or RunAs block given, its own problems (if any) say what is missing.
  if (credential === undefined && !issues.some((i) => startsWith(i.path, path))) {
    if (delegate === undefined) {
      issues.push({
        path,
        problem: (n) =>
          `user "${shownValue(raw.name)}" has no password or access key: set ${alternatives(n, [...secretPaths(path), [...path, 'accessKey', 'id']])}, or ${n.name(ADMIN)} or ${n.name(RUN_AS)} (an account that mints its tokens)`,
      });
    } else if (delegate === 'runAs' && !HEADER_TEXT.test(raw.name)) {
      issues.push({
        path: [...path, 'name'],
        problem:
          'cannot be sent in a RunAs header (only Latin-1 characters); give this user its own credential',
      });
    }
  }
  const { password, passwordFile, passwordEnv, accessKey, token, ...keys } = raw;
  return { ...keys, credential, token: resolveToken(defaults, token, path, issues) };
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
  // A margin above half the lifetime would leave a token usable for less time than it is
  // held back; the token store never applies more than half, so more is refused, not cut.
  if (margin !== undefined && margin > seconds / 2) {
    issues.push(marginConflict(own, userPath, seconds, margin));
  }
  return { ...merged, safetyMarginSeconds: margin ?? defaultSafetyMargin(seconds) };
}

/**
 * The key to change when the margin exceeds half the lifetime: the user's own margin, else
 * the user's own lifetime that the top-level margin no longer fits, else the top-level margin.
 */
function marginConflict(
  own: Partial<RawToken> | undefined,
  userPath: KeyPath,
  seconds: number,
  margin: number,
): KeyIssue {
  const topMargin: KeyPath = ['token', 'safetyMarginSeconds'];
  if (own?.safetyMarginSeconds === undefined && own?.seconds !== undefined) {
    return {
      path: [...userPath, 'token', 'seconds'],
      problem: (n) =>
        `must be at least twice ${n.name(topMargin)} (${margin} s), which applies to this user too; or give ${n.name([...userPath, 'token', 'safetyMarginSeconds'])}`,
    };
  }
  return {
    path:
      own?.safetyMarginSeconds === undefined
        ? topMargin
        : [...userPath, 'token', 'safetyMarginSeconds'],
    problem: `must be at most half the token lifetime (${seconds / 2} s of ${seconds} s)`,
    // The lifetime is the user's own or the top-level one, whichever applies.
    restsOn: [
      ['token', 'seconds'],
      [...userPath, 'token', 'seconds'],
    ],
  };
}

/**
 * A total for all held bodies below what one body may be would leave every body between the
 * two streamed, never held, whatever the per-body size says. 0 holds none, whatever the other.
 */
function checkReplayBuffers(proxy: RawConfig['proxy'], issues: Issues): void {
  const { replayBufferBytes: each, replayBufferTotalBytes: total } = proxy;
  if (total === 0 || total >= each) return;
  const eachKey: KeyPath = ['proxy', 'replayBufferBytes'];
  issues.push({
    path: ['proxy', 'replayBufferTotalBytes'],
    problem: (n) =>
      `${total} is below ${n.name(eachKey)} (${each}), so no body above ${total} bytes could be held for replay: give at least ${each}, or lower ${n.name(eachKey)} too (0 in either holds none)`,
  });
}

function checkUniqueNames(users: readonly RawUser[], issues: Issues): void {
  const first = new Map<string, number>();
  users.forEach((user, i) => {
    const seen = first.get(user.name);
    if (seen === undefined) first.set(user.name, i);
    else {
      issues.push({
        path: ['users', i, 'name'],
        problem: (n) => `"${shownValue(user.name)}" already used by ${n.name(['users', seen])}`,
      });
    }
  });
}

export interface Listener {
  readonly path: KeyPath;
  readonly address: ListenAddress;
}

/** What each listener key is for, in a message about its default. */
const LISTENER_ROLES: Readonly<Record<string, string>> = {
  ops: 'the ops listener',
  webhook: 'the webhook listener',
  simulator: 'the simulator',
};
const listenerRole = (path: KeyPath): string =>
  LISTENER_ROLES[String(path[0])] ?? 'the data listener';

/**
 * Two listeners on one address, named at the one the user set: a default they never wrote
 * (`OPS_LISTEN`'s 0.0.0.0:9090, the environment's `PROXY_LISTEN` of 127.0.0.1:8080) is said
 * to be one, with the way to move it. `second` is the listener found to clash with `first`.
 */
export function listenerClash(
  first: Listener,
  second: Listener,
  isDefault: (path: KeyPath) => boolean,
): KeyIssue {
  const [given, byDefault] = isDefault(first.path) ? [second, first] : [first, second];
  if (isDefault(given.path) || !isDefault(byDefault.path)) {
    return { path: second.path, problem: (n) => `address already used by ${n.name(first.path)}` };
  }
  return {
    path: given.path,
    problem: (n) =>
      `${formatListen(given.address)} overlaps ${listenerRole(byDefault.path)}'s default address, ${formatListen(byDefault.address)} (${n.name(byDefault.path)}): choose another port, or set ${n.name(byDefault.path)}`,
  };
}

function checkListeners(
  users: readonly RawUser[],
  ops: ListenAddress | null | string,
  isDefault: (path: KeyPath) => boolean,
  issues: Issues,
): void {
  // By port: only listeners on the same port can collide (port 0 never does).
  const taken = new Map<number, Listener[]>();
  let listeners = 0;
  const claim = (path: KeyPath, address: ListenAddress) => {
    const onPort = taken.get(address.port) ?? [];
    const clash = onPort.find((t) => listenersCollide(t.address, address));
    if (clash) {
      issues.push(listenerClash(clash, { path, address }, isDefault));
      return;
    }
    listeners += 1;
    if (address.port !== 0) {
      onPort.push({ path, address });
      taken.set(address.port, onPort);
    }
  };
  users.forEach((user, i) => user.listen && claim(['users', i, 'listen'], user.listen));
  if (listeners === 0 && !issues.some((i) => i.path[i.path.length - 1] === 'listen')) {
    issues.push({
      path: ['users'],
      problem: (n) =>
        `no user has a listen address; give at least one user a data listener (${n.name(['users', 0, 'listen'])})`,
      // Any user's listener, refused or misspelt, may be the one meant.
      restsOn: users.map((_, i): KeyPath => ['users', i, 'listen']),
    });
  }
  if (ops !== null && typeof ops === 'object') claim(['ops', 'listen'], ops);
}

/**
 * Keys that act on requests, given where no request could reach them: a select header
 * belongs to a listener; `allowRunAs` to a user some request acts as, through the user's
 * own listener or another's select header.
 */
function checkListenerKeys(users: readonly RawUser[], issues: Issues): void {
  const selectable = users.some((user) => user.listen && user.selectUserHeader !== undefined);
  users.forEach((user, i) => {
    if (user.listen) return;
    const listen: KeyPath = ['users', i, 'listen'];
    if (user.selectUserHeader !== undefined) {
      issues.push({
        path: ['users', i, 'selectUserHeader'],
        problem: (n) =>
          `needs ${n.name(listen)}: the header is read on this user's own listener, and it has none`,
      });
    }
    if (user.allowRunAs && !selectable) {
      issues.push({
        path: ['users', i, 'allowRunAs'],
        problem: (n) =>
          `no request can act as this user: give it ${n.name(listen)}, or give another user's listener a selectUserHeader that may pick it`,
        // Any user's select header may be the one that would pick this user, and the listener
        // of a user that has one; a listener without a select header picks its own user only.
        restsOn: users.flatMap((other, j): KeyPath[] => [
          ...(other.selectUserHeader === undefined ? [] : [['users', j, 'listen']]),
          ['users', j, 'selectUserHeader'],
        ]),
      });
    }
  });
}
