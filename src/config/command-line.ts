import { parseConfigArgs } from './args';
import { ConfigError } from './errors';
import { loadConfig } from './load';
import type { ProxyConfig } from './types';

/**
 * The configuration for `run` and `check`: from `--config FILE`, `CONFIG_FILE` or the
 * environment. A bad one is reported on `stderr`, one `key: problem` line each, and the
 * caller exits with the returned code 2.
 */
export function configForCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream = process.stderr,
): ProxyConfig | 2 {
  try {
    return loadConfig({ ...parseConfigArgs(args), env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const lines = err.message.replace(/^/gm, '  ');
    stderr.write(`vidispine-auth-proxy: configuration error\n${lines}\n`);
    return 2;
  }
}
