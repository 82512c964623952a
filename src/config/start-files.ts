/**
 * The files `run` and `check` read before anything listens: the secret files
 * (`checkSecretFiles`) and `vidispine.caFile` (`readCaFile`), side by side, each within the
 * mint timeout, none on the main thread. They are read even when other keys are bad, as far
 * as their own keys are sound: one start then says every problem, where an operator with a
 * bad key and a bad file would otherwise restart once for each.
 */
import { readCaFile } from './ca-file';
import { ConfigError, type ConfigIssue, type KeyPath } from './errors';
import { keyValueAt, rawAt } from './keys';
import {
  type ConfigSource,
  configOf,
  configSource,
  type LoadOptions,
  withoutEmptyBlocks,
} from './load';
import { proxyEnvironment } from './env';
import { KEY_SECRET_KEYS, SECRET_KEYS } from './resolve';
import { fileSchema } from './schema';
import { checkSecretFiles, SecretVolumeError, secretFiles } from './secret-files';
import type { ProxyConfig, StartFiles } from './types';

/** The files a validated configuration names. */
export function startFilesOf(config: ProxyConfig): StartFiles {
  return {
    names: config.names,
    mintTimeoutSeconds: config.vidispine.mintTimeoutSeconds,
    caFile: config.vidispine.caFile,
    secretFiles: secretFiles(config),
  };
}

/**
 * The key of the file an account's secret is read from: none unless its keys give one source
 * for it, as `resolveConfig` takes them. Where they give more, that is the problem named, and
 * the files are not read.
 */
function secretFileKey(raw: unknown, account: KeyPath): KeyPath | undefined {
  const given = (path: KeyPath): boolean => rawAt(raw, [...account, ...path]) !== undefined;
  const passwords = SECRET_KEYS.map((k): KeyPath => [k]);
  const keySecrets = KEY_SECRET_KEYS.map((k): KeyPath => ['accessKey', k]);
  if (given(['accessKey']) && passwords.some(given)) return undefined;
  // Each list is value, file, variable (`SECRET_KEYS`): the file is the second.
  const sources = given(['accessKey']) ? keySecrets : passwords;
  const [, fileKey] = sources;
  const [only, ...more] = sources.filter(given);
  return more.length === 0 && only === fileKey ? [...account, ...fileKey] : undefined;
}

/**
 * The files a configuration that did not validate names through keys that are sound on their
 * own, in the order `secretFiles` gives them, and the mint timeout (its default when its own
 * key is bad): what `startFilesOf` gives of a valid one.
 */
export function startFilesOfSource(source: ConfigSource): StartFiles {
  const { names } = source;
  // As validation reads it: an empty block (`accessKey:` alone, null) is as if not written.
  const raw = withoutEmptyBlocks(source.raw, fileSchema);
  const text = (path: KeyPath): string | undefined => {
    const value = keyValueAt(fileSchema, raw, path);
    return typeof value === 'string' ? value : undefined;
  };
  const timeoutPath: KeyPath = ['vidispine', 'mintTimeoutSeconds'];
  const given = keyValueAt(fileSchema, raw, timeoutPath);
  const refused = given === undefined && rawAt(raw, timeoutPath) !== undefined;
  const timeout = given ?? keyValueAt(fileSchema, undefined, timeoutPath);
  const users = rawAt(raw, ['users']);
  const accounts: KeyPath[] = [
    ['vidispine', 'admin'],
    ['vidispine', 'runAs'],
    ...(Array.isArray(users) ? users.map((_, i): KeyPath => ['users', i]) : []),
  ];
  return {
    names,
    mintTimeoutSeconds: timeout as number,
    mintTimeoutRefused: refused,
    caFile: text(['vidispine', 'caFile']),
    secretFiles: accounts.flatMap((account) => {
      const key = secretFileKey(raw, account);
      const file = key === undefined ? undefined : text(key);
      if (key === undefined || file === undefined) return [];
      return [{ kind: 'file' as const, path: file, setting: names.name(key) }];
    }),
  };
}

/**
 * The bytes of the CA file `files` names, once every file was read. Throws as each reader
 * does, their findings put together after the problems already `found`: a `ConfigError` for
 * bad configuration (with the files not read in time as its `unread` lines), else a
 * `SecretVolumeError` for files whose volume did not answer.
 */
async function readFiles(
  files: StartFiles,
  env: NodeJS.ProcessEnv,
  stop: AbortSignal | undefined,
  found: readonly ConfigIssue[] = [],
): Promise<Buffer | undefined> {
  const [secrets, ca] = await Promise.allSettled([
    checkSecretFiles(files, env, stop),
    readCaFile(files, stop),
  ]);
  const errors = [secrets, ca].flatMap((r) =>
    r.status === 'rejected' ? [r.reason as unknown] : [],
  );
  const bad = [...found, ...errors.flatMap((e) => (e instanceof ConfigError ? e.issues : []))];
  const stuck = errors.flatMap((e) => (e instanceof SecretVolumeError ? [e.message] : []));
  // Files a signal gave up on were not found stuck: only what was found is said.
  if (bad.length > 0) throw new ConfigError(bad, stop?.aborted === true ? [] : stuck);
  if (stuck.length > 0) throw new SecretVolumeError(stuck.join('\n'));
  if (errors.length > 0) throw errors[0];
  return ca.status === 'fulfilled' ? ca.value : undefined;
}

const withCa = (config: ProxyConfig, ca: Buffer | undefined): ProxyConfig =>
  ca === undefined ? config : { ...config, vidispine: { ...config.vidispine, ca } };

/**
 * The configuration `opts` describe (`loadConfig`) with its files read (`readFiles`): its CA
 * file's bytes as `vidispine.ca`.
 * When its keys do not validate, the files its sound keys name are read all the same, and
 * their problems thrown with the keys' in one `ConfigError`.
 */
export async function loadStartConfig(opts: LoadOptions, stop?: AbortSignal): Promise<ProxyConfig> {
  const source = configSource(opts, proxyEnvironment);
  let config: ProxyConfig;
  try {
    config = configOf(source, opts.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    await readFiles(startFilesOfSource(source), opts.env, stop, err.issues);
    throw err;
  }
  return withCa(config, await readFiles(startFilesOf(config), opts.env, stop));
}
