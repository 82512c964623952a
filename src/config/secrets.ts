import { readFileSync } from 'node:fs';
import type { SecretSource } from './types';

/** Reading a secret failed; the message names the source, never a value. */
export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

/**
 * The secret's current value. Files and environment variables are read on every call so a
 * rotated Kubernetes Secret takes effect at the next mint. Trailing CR/LF characters are
 * dropped (files written by `echo` or editors end in a newline); other whitespace is kept,
 * since it may belong to the password. An empty result is an error.
 */
export function readSecret(source: SecretSource, env: NodeJS.ProcessEnv): string {
  let value: string;
  switch (source.kind) {
    case 'literal':
      value = source.value;
      break;
    case 'file':
      try {
        value = readFileSync(source.path, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new SecretError(`cannot read ${where(source)} (${code})`);
      }
      break;
    case 'env': {
      const fromEnv = env[source.name];
      if (fromEnv === undefined) throw new SecretError(`${where(source)} is not set`);
      value = fromEnv;
      break;
    }
  }
  const trimmed = value.replace(/[\r\n]+$/, '');
  if (trimmed === '') throw new SecretError(`${where(source)} is empty`);
  return trimmed;
}

/** Where the value is, for a message that already names the setting (`VIDISPINE_PASSWORD_FILE: …`). */
function where(source: SecretSource): string {
  switch (source.kind) {
    case 'literal':
      return 'the password';
    case 'file':
      return `file ${source.path}`;
    case 'env':
      return `environment variable ${source.name}`;
  }
}

/**
 * Where the secret lives and which setting put it there, for runtime messages that tell the
 * operator what to fix: `VIDISPINE_PASSWORD`, `file /run/secrets/pw (users[0].passwordFile)`.
 */
export function describeSecret(source: SecretSource): string {
  const setting = source.setting ?? 'the configuration';
  return source.kind === 'literal' ? setting : `${where(source)} (${setting})`;
}
