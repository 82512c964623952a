import { distance } from 'fastest-levenshtein';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import type { SimUser } from './types';
import { ROLE_PROBLEM, ROLES, userListProblem } from './users';

/*
 * Each check carries its problem in the words of the proxy's configuration (`config/schema.ts`):
 * `users[0].name: must not be empty`, not the schema library's "Too small: expected string to
 * have >=1 characters". A wrong type is worded by `EXPECTED` below.
 */
const text = () => z.string().min(1, { error: 'must not be empty' });
const KEY_STATUSES = ['ACTIVE', 'INACTIVE'] as const;

const AccessKey = z
  .object({
    id: text(),
    secret: text(),
    status: z.enum(KEY_STATUSES, { error: `must be ${KEY_STATUSES.join(' or ')}` }).optional(),
  })
  .strict();
const User = z
  .object({
    name: text(),
    password: z.string(),
    accessKeys: z.array(AccessKey).optional(),
    roles: z.array(z.enum(ROLES, { error: ROLE_PROBLEM })).optional(),
    disabled: z.boolean().optional(),
    runAsUsers: z.array(text()).optional(),
  })
  .strict();
const UserList = z.array(User).min(1, { error: 'list at least one user' });
const UsersFile = z.union([UserList, z.object({ users: UserList }).strict()]);

/**
 * Reads a `--users` file: YAML or JSON, either a list of users or `{ users: [...] }`.
 * Throws an Error whose message names the key and the problem (and never a password).
 */
export function parseUsersFile(text: string): SimUser[] {
  let doc: unknown;
  try {
    // The reader's warnings go to stderr and quote the text: a block where a password
    // belongs (`password: {{hunter2}}`) would be printed; the schema reports it by key.
    doc = parseYaml(text, { logLevel: 'error' });
  } catch (err) {
    throw new Error(`not valid YAML or JSON: ${firstLine(err)}`);
  }
  const result = UsersFile.safeParse(doc);
  if (!result.success) throw new Error(describe(doc, result.error));
  const users = Array.isArray(result.data) ? result.data : result.data.users;
  const problem = userListProblem(users);
  if (problem) throw new Error(problem);
  return users;
}

const SHAPE = 'expected a list of users, or a mapping with that list under "users:"';

/** The keys a mapping holds, quoted, the first few: enough to show a slip (`user:`). */
function foundKeys(doc: object): string {
  const keys = Object.keys(doc);
  const shown = keys.slice(0, 5).map((k) => JSON.stringify(k));
  return keys.length > shown.length ? `${shown.join(', ')}, …` : shown.join(', ');
}

/** The union hides which form the author meant: report every issue of the likely one. */
function describe(doc: unknown, error: z.ZodError): string {
  if (typeof doc !== 'object' || doc === null) return `(document): ${SHAPE}`;
  // A mapping without `users` is neither form: a slip of that key, or a user without its list.
  // Zod would say `users` is undefined, which hides the key the author did write.
  if (!Array.isArray(doc) && !('users' in doc)) {
    const found = foundKeys(doc);
    return `(document): ${SHAPE}; ${found === '' ? 'found an empty mapping' : `found ${found}`}`;
  }
  const listForm = Array.isArray(doc);
  const branch = listForm ? UserList : z.object({ users: UserList }).strict();
  // With each value's input, to tell a key left out from one of the wrong type (never shown).
  const parsed = branch.safeParse(doc, { reportInput: true });
  const issues = (parsed.error ?? error).issues.map((issue) => ({
    ...issue,
    path: listForm ? ['users', ...issue.path] : issue.path,
  }));
  return issues
    .flatMap((issue) => problems(issue, issues))
    .map(([path, problem]) => `${keyName(path)}: ${problem}`)
    .join('\n');
}

/** `users[0].accessKeys[1].id`; `(document)` for the top. */
function keyName(path: readonly PropertyKey[]): string {
  const name = path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
  return name === '' ? '(document)' : name;
}

/** The keys a mapping at `path` takes: a user's, an access key's, or the document's. */
function keysAt(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return ['users'];
  const shape = path[path.length - 2] === 'accessKeys' ? AccessKey.shape : User.shape;
  return Object.keys(shape);
}

/**
 * The key `word` most likely meant, as the proxy's configuration suggests one: one edit for a
 * short key, up to three for a long one, case ignored.
 */
function nearestKey(word: string, keys: readonly string[]): string | undefined {
  const edits = (k: string) => distance(word.toLowerCase(), k.toLowerCase());
  const allowed = (k: string) => (k.length <= 4 ? 1 : k.length <= 8 ? 2 : 3);
  const near = keys.filter((k) => edits(k) <= allowed(k));
  return near.sort((a, b) => edits(a) - edits(b))[0];
}

/**
 * What a key name looks like. Anything else is not echoed: `password:hunter2` (no space
 * after the colon) is one unknown key to YAML, and its text holds the password.
 */
const KEY_SHAPE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'must be a string',
  boolean: 'must be true or false',
  array: 'must be a list',
  object: 'must be a mapping of keys',
};

type Located = z.core.$ZodIssue & { readonly path: PropertyKey[] };

/**
 * An issue as `[key, problem]` lines: an unknown key with the nearest valid one, a missing
 * key as required unless an unknown key beside it is a slip of it (that one says it).
 */
function problems(issue: Located, all: readonly Located[]): [PropertyKey[], string][] {
  const { path } = issue;
  if (issue.code === 'unrecognized_keys') {
    const keys = keysAt(path);
    return issue.keys.map((k): [PropertyKey[], string] => {
      const meant = nearestKey(KEY_SHAPE.test(k) ? k : k.split(/[:=\s]/)[0], keys);
      if (!KEY_SHAPE.test(k)) {
        const guess = meant === undefined ? '' : `; did you mean "${meant}: …"?`;
        return [
          path,
          `an unknown key, not shown since it may hold a value (a missing space after a colon?)${guess}`,
        ];
      }
      if (meant !== undefined) return [[...path, k], `unknown key; did you mean ${meant}?`];
      return [[...path, k], `unknown key; the keys here are ${keys.join(', ')}`];
    });
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    const block = path.slice(0, -1);
    const missing = String(path[path.length - 1]);
    const slip = all.some(
      (other) =>
        other.code === 'unrecognized_keys' &&
        keyName(other.path) === keyName(block) &&
        other.keys.some((k) => nearestKey(k.split(/[:=\s]/)[0], keysAt(block)) === missing),
    );
    return slip ? [] : [[path, 'required']];
  }
  if (issue.code === 'invalid_type' && issue.expected in EXPECTED) {
    return [[path, EXPECTED[issue.expected]]];
  }
  return [[path, issue.message]];
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0];
}
