#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { packageVersion } from './version';

const USAGE = `Usage: vidispine-auth-proxy [command] [options]

Commands:
  run [--config FILE]                       start the proxy (default command)
  check [--config FILE]                     validate config, mint one token per user, print a table
  simulate [--listen ADDR] [--users FILE] [--control]
                                            run the bundled Vidispine simulator
  demo                                      simulator + proxy wired together, prints curl lines

Options:
  -c, --config FILE   YAML configuration (default: $CONFIG_FILE, else environment only)
  -h, --help          show this help
  -v, --version       print the version

Exit codes: 0 success, 1 runtime failure, 2 bad configuration.
`;

type Command = (args: string[]) => Promise<number>;

// Loaded lazily so `--help` and `simulate` never pull in the proxy's dependencies.
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./app')).runCommand,
  check: async () => (await import('./check')).checkCommand,
  demo: async () => (await import('./demo')).demoCommand,
  simulate: async () => (await import('./simulator/cli')).simulateCommand,
};

export async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const named = first !== undefined && !first.startsWith('-');
  const name = named ? first : 'run';
  const rest = named ? argv.slice(1) : argv;

  const { values } = parseArgs({
    args: rest,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    strict: false,
  });
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`vidispine-auth-proxy: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  const command = await load();
  return command(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `vidispine-auth-proxy: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
