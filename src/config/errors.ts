/** One problem in the configuration, addressed by the key that holds it. */
export interface ConfigIssue {
  /** `users[1].listen`, `VIDISPINE_URL`, `--config` … */
  readonly key: string;
  readonly problem: string;
}

/**
 * Bad configuration or command line: the caller prints `message` and exits 2.
 * Each line of the message is `key: problem`; a message never contains a secret value.
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: ConfigIssue | readonly ConfigIssue[]) {
    const list = Array.isArray(issues) ? issues : [issues as ConfigIssue];
    super(list.map((i) => `${i.key}: ${i.problem}`).join('\n'));
    this.name = 'ConfigError';
    this.issues = list;
  }
}

/** `['users', 1, 'listen']` → `users[1].listen`. */
export function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === 'number') return `${acc}[${part}]`;
    const name = String(part);
    return acc === '' ? name : `${acc}.${name}`;
  }, '');
}
