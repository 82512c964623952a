import type { SimUser } from './types';

export const ADMIN_ROLE = '_administrator';
export const RUNAS_ROLE = '_runas';

/** Demo users; their credentials are public by design. */
export const DEFAULT_USERS: readonly SimUser[] = Object.freeze(
  [
    { name: 'admin', password: 'admin', roles: [ADMIN_ROLE] },
    { name: 'alice', password: 'alice-password' },
    { name: 'bob', password: 'bob-password', accessKeys: ['bob-access-key'] },
    { name: 'runas', password: 'runas-password', roles: [RUNAS_ROLE] },
  ].map((u) => Object.freeze(u)),
);

export function hasRole(user: SimUser, role: string): boolean {
  return user.roles?.includes(role) ?? false;
}

/** Why a user list cannot be served, or undefined when it can. */
export function userListProblem(users: readonly SimUser[]): string | undefined {
  const seen = new Set<string>();
  for (const [i, u] of users.entries()) {
    if (u.name.length === 0) return `users[${i}].name is empty`;
    // Basic credentials split at the first colon, so such a name could never log in.
    if (u.name.includes(':')) return `users[${i}].name must not contain ':'`;
    if (seen.has(u.name)) return `users[${i}].name "${u.name}" is a duplicate`;
    seen.add(u.name);
  }
  return undefined;
}

/** The simulator's user database; mutable so tests can rotate passwords and disable users. */
export class UserDirectory {
  private readonly byName = new Map<string, SimUser>();

  constructor(users: readonly SimUser[]) {
    const problem = userListProblem(users);
    if (problem) throw new Error(`invalid simulator users: ${problem}`);
    for (const u of users) {
      this.byName.set(u.name, {
        ...u,
        accessKeys: [...(u.accessKeys ?? [])],
        roles: [...(u.roles ?? [])],
      });
    }
  }

  get(name: string): SimUser | undefined {
    return this.byName.get(name);
  }

  /** The user when `secret` is its password or one of its access keys. */
  verify(name: string, secret: string): SimUser | undefined {
    const user = this.byName.get(name);
    if (!user) return undefined;
    return user.password === secret || (user.accessKeys?.includes(secret) ?? false)
      ? user
      : undefined;
  }

  setPassword(name: string, password: string): void {
    this.require(name).password = password;
  }

  setDisabled(name: string, disabled: boolean): void {
    this.require(name).disabled = disabled;
  }

  private require(name: string): SimUser {
    const user = this.byName.get(name);
    if (!user) throw new Error(`no simulator user named "${name}"`);
    return user;
  }
}
