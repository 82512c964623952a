import type { AccessKeyStatus, SimUser } from './types';

export const ADMIN_ROLE = '_administrator';
export const RUNAS_ROLE = '_runas';

/**
 * The roles the simulator gives a meaning. Another (`_admin` for `_administrator`) is refused
 * rather than kept: it would change nothing, and a test written against it would pass for
 * the wrong reason.
 */
export const ROLES = [ADMIN_ROLE, RUNAS_ROLE] as const;
export const ROLE_PROBLEM = `must be ${ROLES.join(' or ')} (the roles the simulator models)`;

/** Demo users; their credentials are public by design. */
export const DEFAULT_USERS: readonly SimUser[] = Object.freeze(
  [
    { name: 'admin', password: 'admin', roles: [ADMIN_ROLE] },
    { name: 'alice', password: 'alice-password' },
    {
      name: 'bob',
      password: 'bob-password',
      accessKeys: [{ id: 'VSIDB0BACCESSKEY0001', secret: 'bob-access-key' }],
    },
    { name: 'runas', password: 'runas-password', roles: [RUNAS_ROLE] },
  ].map((u) => Object.freeze(u)),
);

export function hasRole(user: SimUser, role: string): boolean {
  return user.roles?.includes(role) ?? false;
}

/** Why a user list cannot be served, or undefined when it can. */
export function userListProblem(users: readonly SimUser[]): string | undefined {
  const seen = new Set<string>();
  const keyIds = new Set<string>();
  for (const [i, u] of users.entries()) {
    if (u.name.length === 0) return `users[${i}].name is empty`;
    // Basic credentials split at the first colon, so such a name could never log in.
    if (u.name.includes(':')) return `users[${i}].name must not contain ':'`;
    if (seen.has(u.name)) return `users[${i}].name "${u.name}" is a duplicate`;
    seen.add(u.name);
    const role = (u.roles ?? []).findIndex((r) => !(ROLES as readonly string[]).includes(r));
    if (role >= 0) return `users[${i}].roles[${role}]: ${ROLE_PROBLEM}`;
    for (const [k, key] of (u.accessKeys ?? []).entries()) {
      const where = `users[${i}].accessKeys[${k}]`;
      if (key.id.length === 0 || key.id.includes(':')) {
        return `${where}.id must be non-empty and contain no ':'`;
      }
      if (keyIds.has(key.id)) return `${where}.id "${key.id}" is a duplicate`;
      keyIds.add(key.id);
    }
  }
  // Basic credentials name a user or a key; one string must not mean both.
  for (const id of keyIds) if (seen.has(id)) return `access key id "${id}" is also a user name`;
  return undefined;
}

interface KeyRecord {
  readonly user: string;
  readonly secret: string;
  status: AccessKeyStatus;
}

/** What Basic credentials named, when they are refused: for `Reason:` and call counting. */
export type Verified =
  | { readonly ok: true; readonly user: SimUser }
  | { readonly ok: false; readonly reason: string; readonly user?: string };

/** The simulator's user database; mutable so tests can rotate passwords and disable users. */
export class UserDirectory {
  private readonly byName = new Map<string, SimUser>();
  private readonly keys = new Map<string, KeyRecord>();

  constructor(users: readonly SimUser[]) {
    const problem = userListProblem(users);
    if (problem) throw new Error(`invalid simulator users: ${problem}`);
    for (const u of users) {
      this.byName.set(u.name, {
        ...u,
        accessKeys: (u.accessKeys ?? []).map((k) => ({ ...k })),
        roles: [...(u.roles ?? [])],
      });
      for (const key of u.accessKeys ?? []) {
        this.keys.set(key.id, { user: u.name, secret: key.secret, status: key.status ?? 'ACTIVE' });
      }
    }
  }

  get(name: string): SimUser | undefined {
    return this.byName.get(name);
  }

  /**
   * Basic credentials: a user name and its password, or an access key's ID and secret (the
   * way Vidispine's admin-tool sends a key). A key secret under the user's name is refused.
   */
  verify(name: string, secret: string): Verified {
    const key = this.keys.get(name);
    if (key !== undefined) {
      const owner = this.byName.get(key.user);
      if (key.secret !== secret || owner === undefined) {
        return { ok: false, reason: `Bad credentials for access key ${name}`, user: key.user };
      }
      if (key.status !== 'ACTIVE') {
        return { ok: false, reason: `Access key ${name} is inactive`, user: key.user };
      }
      return { ok: true, user: owner };
    }
    const user = this.byName.get(name);
    if (!user) return { ok: false, reason: `User was not found: ${name}` };
    if (user.password !== secret) {
      return { ok: false, reason: `Bad credentials for user ${name}`, user: name };
    }
    return { ok: true, user };
  }

  /** The user a Basic user name stands for: an access key's owner, or the name itself. */
  nameBehind(basicUser: string): string {
    return this.keys.get(basicUser)?.user ?? basicUser;
  }

  /** Whether `caller` may act as `target` through a `RunAs` header. */
  mayRunAs(caller: SimUser, target: SimUser): boolean {
    if (hasRole(caller, ADMIN_ROLE)) return true;
    if (!hasRole(caller, RUNAS_ROLE)) return false;
    if (caller.runAsUsers !== undefined) return caller.runAsUsers.includes(target.name);
    return !hasRole(target, ADMIN_ROLE);
  }

  setPassword(name: string, password: string): void {
    this.require(name).password = password;
  }

  setDisabled(name: string, disabled: boolean): void {
    this.require(name).disabled = disabled;
  }

  setKeyStatus(id: string, status: AccessKeyStatus): void {
    const key = this.keys.get(id);
    if (!key) throw new Error(`no simulator access key "${id}"`);
    key.status = status;
  }

  private require(name: string): SimUser {
    const user = this.byName.get(name);
    if (!user) throw new Error(`no simulator user named "${name}"`);
    return user;
  }
}
