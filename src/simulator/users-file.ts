import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import type { SimUser } from './types';
import { userListProblem } from './users';

const AccessKey = z
  .object({
    id: z.string().min(1),
    secret: z.string().min(1),
    status: z.enum(['ACTIVE', 'INACTIVE']).optional(),
  })
  .strict();
const User = z
  .object({
    name: z.string().min(1),
    password: z.string(),
    accessKeys: z.array(AccessKey).optional(),
    roles: z.array(z.string().min(1)).optional(),
    disabled: z.boolean().optional(),
    runAsUsers: z.array(z.string().min(1)).optional(),
  })
  .strict();
const UserList = z.array(User).min(1);
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

/** The union hides which form the author meant; report the first issue of the likely one. */
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
  const issue = (branch.safeParse(doc).error ?? error).issues[0];
  const path = (listForm ? ['users', ...issue.path] : issue.path)
    .map((p: PropertyKey, i: number) =>
      typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`,
    )
    .join('');
  return `${path === '' ? '(document)' : path}: ${issue.message}`;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0];
}
