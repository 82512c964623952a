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

/**
 * Reads the select header from the raw header list: Node joins repeated custom headers into
 * one comma-separated value (`bob, alice`), which would hide that there were two.
 */
export function pickIdentity(rule: IdentityRule, rawHeaders: readonly string[]): Identity {
  // Stryker disable next-line ConditionalExpression: a shortcut; no header name equals undefined
  if (rule.selectHeader === undefined) return { ok: true, user: rule.defaultUser };
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === rule.selectHeader) values.push(rawHeaders[i + 1]);
  }
  if (values.length === 0) return { ok: true, user: rule.defaultUser };
  if (values.length > 1) {
    return { ok: false, reason: `header ${rule.selectHeader} must appear at most once` };
  }
  const name = values[0].trim();
  if (name === '') return { ok: true, user: rule.defaultUser };
  if (!rule.knownUsers.has(name)) {
    return { ok: false, reason: `header ${rule.selectHeader} names no configured user` };
  }
  return { ok: true, user: name };
}
