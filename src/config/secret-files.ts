/**
 * The secret files a configuration names, read once before the proxy starts: a file that is
 * missing, unreadable, empty or not a regular file is bad configuration, named by its key,
 * as a bad value is. They are read as every mint reads them (`readSecretUntil`), without
 * blocking the main thread and bounded by the mint timeout: a volume that stopped answering
 * (a network or CSI mount) then ends the start with a message, where a synchronous read would
 * hold the main thread, and the signals that should end the process, for good.
 */
import { ConfigError, type ConfigIssue } from './errors';
import { readSecretUntil, SecretError, SecretReadHeldError, SecretTimeoutError } from './secrets';
import type { Credential, ProxyConfig, StartFiles } from './types';

type FileSource = StartFiles['secretFiles'][number];

/** A secret file was not read within the mint timeout: its volume does not answer. */
export class SecretVolumeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretVolumeError';
  }
}

/**
 * The bound on a read of a file the configuration names, at start: the mint timeout, or
 * `stop` when it aborts first. `within` names the timeout in a message.
 */
export function startReadBound(
  files: Pick<StartFiles, 'mintTimeoutSeconds' | 'mintTimeoutRefused' | 'names'>,
  stop?: AbortSignal,
): { signal: AbortSignal; within: string } {
  const seconds = files.mintTimeoutSeconds;
  const timeout = AbortSignal.timeout(seconds * 1000);
  const key = files.names.name(['vidispine', 'mintTimeoutSeconds']);
  // Said under the line that names the key as bad: its value was not what bounded the read.
  const source =
    files.mintTimeoutRefused === true ? `the default of ${key}, whose value is bad` : key;
  return {
    signal: stop === undefined ? timeout : AbortSignal.any([timeout, stop]),
    within: `within ${seconds} s (${source})`,
  };
}

/** The secret files of every account that mints: the administrator, RunAs, the users. */
export function secretFiles(config: Pick<ProxyConfig, 'vidispine' | 'users'>): FileSource[] {
  const credentials: (Credential | undefined)[] = [
    config.vidispine.admin,
    config.vidispine.runAs,
    ...config.users.map((u) => u.credential),
  ];
  return credentials.flatMap((c) => (c?.secret.kind === 'file' ? [c.secret] : []));
}

/**
 * Reads every secret file of `start`. Throws a `ConfigError` naming the key of each file
 * that cannot be used, else a `SecretVolumeError` naming each file not read within
 * `vidispine.mintTimeoutSeconds`, or when `stop` aborts first. The bytes are dropped.
 */
export async function checkSecretFiles(
  start: StartFiles,
  env: NodeJS.ProcessEnv,
  stop?: AbortSignal,
): Promise<void> {
  const files = start.secretFiles;
  if (files.length === 0) return;
  const { signal, within } = startReadBound(start, stop);
  const results = await Promise.allSettled(files.map((f) => readSecretUntil(f, env, signal)));
  const bad: ConfigIssue[] = [];
  const stuck: string[] = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') return;
    const err: unknown = result.reason;
    if (!(err instanceof SecretError)) throw err;
    const key = files[i].setting ?? 'configuration';
    // One not started waited for another in its folder, whose own line says the rest.
    if (err instanceof SecretReadHeldError) stuck.push(`${key}: ${err.message}`);
    else if (err instanceof SecretTimeoutError) {
      stuck.push(`${key}: ${err.message} ${within}: is its volume stuck?`);
    } else bad.push({ key, problem: err.message });
  });
  if (bad.length > 0) throw new ConfigError(bad);
  if (stuck.length > 0) throw new SecretVolumeError(stuck.join('\n'));
}
