import { parseArgs } from 'node:util';
import { ConfigError } from './errors';

/**
 * `--config FILE` (or `-c FILE`, `--config=FILE`) for `run` and `check`. Anything else is a
 * usage error, reported as a `ConfigError` (exit 2) naming the offending argument.
 */
export function parseConfigArgs(args: readonly string[]): { file?: string } {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: { config: { type: 'string', short: 'c' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.config === '') throw new ConfigError({ key: '--config', problem: 'needs a file' });
    return values.config === undefined ? {} : { file: values.config };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError({ key: 'command line', problem: `${message} (usage: [--config FILE])` });
  }
}
