import { shownKeyPath } from '../visible-text';

/** A key's place in the YAML shape: `['users', 1, 'listen']`. */
export type KeyPath = readonly (string | number)[];

/**
 * Names keys the way the user wrote them: YAML paths for a file (`users[0].listen`), variable
 * names for an environment-only configuration (`PROXY_LISTEN`), options for the demo
 * (`--listen`). Every message about a key goes through one of these, so nobody who wrote
 * `PROXY_LISTEN` is told about `users[0]`.
 */
export interface KeyNames {
  /** The name of the key (or block) at `path`. */
  name(path: KeyPath): string;
  /** Whether this source can set the key at `path` at all (`passwordEnv` has no variable). */
  canSet(path: KeyPath): boolean;
}

/** A problem's text; a function when it names other keys, so they are named in the user's words. */
export type Problem = string | ((names: KeyNames) => string);

/** One problem in the configuration, addressed by where it sits, before it is named. */
export interface KeyIssue {
  readonly path: KeyPath;
  readonly problem: Problem;
  /**
   * Keys the problem depends on that its text does not name (a margin judged against a
   * lifetime): a bad one among them makes the finding moot (`sound-parts.ts`).
   */
  readonly restsOn?: readonly KeyPath[];
}

/** One problem in the configuration, addressed by the key that holds it. */
export interface ConfigIssue {
  /** `users[1].listen`, `VIDISPINE_URL`, `--config` … */
  readonly key: string;
  readonly problem: string;
}

/**
 * Bad configuration or command line: the caller prints `message` and exits 2.
 * Each line of the message is `key: problem`, the key as `shownKeyPath` shows it; a message
 * never contains a secret value.
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  /**
   * @param unread Lines naming, by its key, each file read at start that its volume did not
   *   give back in time, found beside the problems: not a problem of the configuration, so
   *   not in `message`, but what the process must say too before it ends.
   */
  constructor(
    issues: ConfigIssue | readonly ConfigIssue[],
    readonly unread: readonly string[] = [],
  ) {
    const list = Array.isArray(issues) ? issues : [issues as ConfigIssue];
    super(list.map((i) => `${shownKeyPath(i.key)}: ${i.problem}`).join('\n'));
    this.name = 'ConfigError';
    this.issues = list;
  }
}

/** The issues in the words of the source the user wrote. */
export function nameIssues(issues: readonly KeyIssue[], names: KeyNames): ConfigIssue[] {
  return issues.map(({ path, problem }) => ({
    key: path.length === 0 ? '(top level)' : names.name(path),
    problem: typeof problem === 'string' ? problem : problem(names),
  }));
}

/** `['users', 1, 'listen']` → `users[1].listen`. */
export function keyPath(path: KeyPath): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === 'number') return `${acc}[${part}]`;
    const name = String(part);
    return acc === '' ? name : `${acc}.${name}`;
  }, '');
}

/** The names of a YAML file: the key paths themselves. */
export const YAML_NAMES: KeyNames = { name: keyPath, canSet: () => true };

/**
 * "a, b or c" of the keys at `paths` this source can set: for messages that list the ways to
 * fix something.
 */
export function alternatives(names: KeyNames, paths: readonly KeyPath[], word = 'or'): string {
  const settable = paths.filter((p) => names.canSet(p)).map((p) => names.name(p));
  if (settable.length <= 1) return settable.join('');
  return `${settable.slice(0, -1).join(', ')} ${word} ${settable[settable.length - 1]}`;
}

/** `base`, except for the keys in `renamed` (by YAML path): e.g. a command's own options. */
export function namesWith(renamed: Readonly<Record<string, string>>, base = YAML_NAMES): KeyNames {
  return {
    name: (path) => renamed[keyPath(path)] ?? base.name(path),
    canSet: (path) => base.canSet(path),
  };
}
