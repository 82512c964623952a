/**
 * The files `run` and `check` read before anything listens: the secret files
 * (`checkSecretFiles`) and `vidispine.caFile` (`readCaFile`), side by side, each within the
 * mint timeout, none on the main thread.
 */
import { readCaFile } from './ca-file';
import { ConfigError } from './errors';
import { checkSecretFiles, SecretVolumeError } from './secret-files';
import type { ProxyConfig } from './types';

/**
 * The configuration with its CA file's bytes, once every file it names was read. Throws as
 * each reader does, their findings put together: a `ConfigError` for files that cannot be
 * used (bad configuration), else a `SecretVolumeError` for files whose volume did not answer.
 */
export async function readStartFiles(
  config: ProxyConfig,
  env: NodeJS.ProcessEnv,
  stop?: AbortSignal,
): Promise<ProxyConfig> {
  const [secrets, ca] = await Promise.allSettled([
    checkSecretFiles(config, env, stop),
    readCaFile(config, stop),
  ]);
  const errors = [secrets, ca].flatMap((r) =>
    r.status === 'rejected' ? [r.reason as unknown] : [],
  );
  const bad = errors.filter((e) => e instanceof ConfigError);
  if (bad.length > 0) throw new ConfigError(bad.flatMap((e) => e.issues));
  const stuck = errors.filter((e) => e instanceof SecretVolumeError);
  if (stuck.length > 0) throw new SecretVolumeError(stuck.map((e) => e.message).join('\n'));
  if (errors.length > 0) throw errors[0];
  return ca.status === 'fulfilled' ? ca.value : config;
}
