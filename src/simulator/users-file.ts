import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { SimUser } from './types';
import { userListProblem } from './users';

const User = z
  .object({
    name: z.string().min(1),
    password: z.string(),
    accessKeys: z.array(z.string().min(1)).optional(),
    roles: z.array(z.string().min(1)).optional(),
    disabled: z.boolean().optional(),
  })
  .strict();
const UsersFile = z.union([
  z.array(User).min(1),
  z.object({ users: z.array(User).min(1) }).strict(),
]);

/**
 * Reads a `--users` file: YAML or JSON, either a list of users or `{ users: [...] }`.
 * Throws an Error whose message names the key and the problem (and never a password).
 */
export function parseUsersFile(text: string): SimUser[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
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

/** The union hides which branch the author meant; report the issues of the likely one. */
function describe(doc: unknown, error: z.ZodError): string {
  const branch = Array.isArray(doc)
    ? z.array(User).min(1)
    : z.object({ users: z.array(User).min(1) }).strict();
  const issues = branch.safeParse(doc).error?.issues ?? error.issues;
  const issue = issues[0];
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  const key = path === '' ? '(document)' : path.replace(/^\./, '');
  return `${key}: ${issue.message}`;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0];
}
