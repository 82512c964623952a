/** Step "pick identity": which configured user a request acts as. */

export type Identity =
  { readonly ok: true; readonly user: string } | { readonly ok: false; readonly reason: string };

export interface IdentityRule {
  /** The listener's own user. */
  readonly defaultUser: string;
  /** Lower-case header name that may name another configured user. */
  readonly selectHeader?: string;
  readonly knownUsers: ReadonlySet<string>;
}

export function pickIdentity(
  rule: IdentityRule,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Identity {
  if (rule.selectHeader === undefined) return { ok: true, user: rule.defaultUser };
  const selected = headers[rule.selectHeader];
  if (selected === undefined) return { ok: true, user: rule.defaultUser };
  const name = typeof selected === 'string' ? selected.trim() : undefined;
  if (name === undefined) {
    return { ok: false, reason: `header ${rule.selectHeader} must appear at most once` };
  }
  if (name === '') return { ok: true, user: rule.defaultUser };
  if (!rule.knownUsers.has(name)) {
    return { ok: false, reason: `header ${rule.selectHeader} names no configured user` };
  }
  return { ok: true, user: name };
}
