/**
 * Command-line options, and the configuration `run` and `check` load from them. A bad
 * option is a `ConfigError` naming it, so it ends the command with exit 2 like a bad key.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/errors';
import { withConfigBytes } from '../config/load';
import { loadStartConfig } from '../config/start-files';
import type { ProxyConfig } from '../config/types';
import { messageOf } from '../error-message';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The values of `args` under `options`; no positionals. */
export function parseOptions<O extends Options>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError({ key: 'command line', problem: `${messageOf(err)} (see --help)` });
  }
}

/**
 * `--config FILE` (or `-c FILE`, `--config=FILE`) for `run`, `check` and `inject`. Given
 * twice, it is refused rather than the last one taken: a wrapper script's `--config` and one
 * appended by hand would otherwise run with whichever came last, without a word.
 */
export function parseConfigArgs(args: readonly string[]): { file?: string } {
  const { config = [] } = parseOptions(args, {
    config: { type: 'string', short: 'c', multiple: true },
  });
  if (config.length > 1) {
    throw new ConfigError({
      key: '--config',
      problem: `given ${config.length} times; give one configuration file`,
    });
  }
  const [file] = config;
  if (file === '') throw new ConfigError({ key: '--config', problem: 'needs a file' });
  return file === undefined ? {} : { file };
}

/**
 * The configuration from `--config FILE`, `CONFIG_FILE` or the environment, with the files it
 * names read (`loadStartConfig`): each without blocking the main thread, given up on when
 * `stop` aborts. Throws `ConfigError` naming every bad key and file.
 */
export async function configForCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stop?: AbortSignal,
): Promise<ProxyConfig> {
  return loadStartConfig(await withConfigBytes({ ...parseConfigArgs(args), env }, stop), stop);
}
