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
 * one comma-separated value (`bob, alice`), which would hide that there were two. A name
 * matches as Latin-1 (what Node's parser reads) or, failing that, as UTF-8.
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
  const value = values[0];
  const name = value.trim();
  if (name === '') return { ok: true, user: rule.defaultUser };
  // Trimmed after decoding: U+00A0, which `trim` removes, may be the end of a UTF-8 sequence.
  const user = rule.knownUsers.has(name) ? name : utf8Reading(value).trim();
  if (!rule.knownUsers.has(user)) {
    return { ok: false, reason: `header ${rule.selectHeader} names no configured user` };
  }
  return { ok: true, user };
}

/**
 * Node reads header bytes as Latin-1, so a name a client wrote in UTF-8 (curl, browsers,
 * most libraries) arrives as `dÃ¶rte`: its UTF-8 reading, or the value itself when its
 * bytes are not UTF-8 (a Latin-1 `dörte`, as Node's own client sends it).
 */
function utf8Reading(value: string): string {
  const bytes = Buffer.from(value, 'latin1');
  const utf8 = bytes.toString();
  // Bytes that are not UTF-8 read as U+FFFD, which does not turn back into them.
  return Buffer.from(utf8).equals(bytes) ? utf8 : value;
}
