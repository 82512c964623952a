#!/usr/bin/env node
import { writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type CommandEntry,
  COMMANDS,
  DEFAULT_COMMAND,
  endWith,
  exitFor,
  stderrTextFor,
} from './commands/registry';
import { EXIT_BAD_CONFIGURATION, EXIT_FAILURE, EXIT_OK } from './commands/exit';
import { holdShutdownSignals, ignoreSignals } from './ops/signals';
import { packageVersion } from './version';

const SYNOPSIS_WIDTH = 42;

function commandHelp({ usage: synopsis, summary, options = [] }: CommandEntry): string {
  const head =
    synopsis.length < SYNOPSIS_WIDTH
      ? `  ${synopsis.padEnd(SYNOPSIS_WIDTH)}${summary}`
      : `  ${synopsis}\n  ${' '.repeat(SYNOPSIS_WIDTH)}${summary}`;
  const flags = options.map((o) => `${o.flag} ${o.value}`);
  const width = Math.max(0, ...flags.map((f) => f.length)) + 2;
  const lines = options.map(
    (o, i) => `      ${flags[i].padEnd(width)}${o.text} (default ${o.default})`,
  );
  return [head, ...lines].join('\n');
}

function usage(): string {
  const commands = Object.values(COMMANDS).map(commandHelp);
  return `Usage: vidispine-auth-proxy [command] [options]

Commands:
${commands.join('\n')}

Options:
  -c, --config FILE   YAML configuration (default: $CONFIG_FILE, else environment only)
  -h, --help          show this help
  -v, --version       print the version

Exit codes: 0 success, 1 runtime failure, 2 bad configuration or command line.
`;
}

/**
 * A reader that goes away (`check | head -1`, `--version | true`) costs the command only the
 * output nobody reads: it ends quietly, as git and coreutils do, but with its own exit code
 * rather than death by SIGPIPE, since `check`'s verdict is that code. Unhandled, the EPIPE
 * is an 'error' event: a stack trace and exit 1 after a check that passed. An output that
 * fails otherwise (a full disk, a terminal gone) lost what the command had to say: one line
 * on stderr and exit 1, as coreutils' "write error". stderr has nowhere left to report its
 * own failures: the exit code still tells. (`run` logs through its own writer: `ops/logger`.)
 */
function outputMayFail(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') return;
    try {
      writeSync(2, `vidispine-auth-proxy: cannot write to stdout: ${err.message}\n`);
    } catch {
      // stderr fails too: the exit code still tells.
    }
    process.exit(EXIT_FAILURE);
  });
  process.stderr.on('error', () => undefined);
}

/**
 * `argv` with a command written after the options moved to the front (`--config f.yaml
 * check` → `check --config f.yaml`), as git's and kubectl's users write it. Only the options
 * every command shares are read to find it, so the value of `-c check` stays a file name,
 * and a command's own options (`--listen ADDR`) leave the order as written.
 */
function commandFirst(argv: readonly string[]): string[] {
  if (argv.length === 0 || !argv[0].startsWith('-')) return [...argv];
  const { tokens } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string', short: 'c', multiple: true },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  if (first?.kind !== 'positional' || !Object.hasOwn(COMMANDS, first.value)) return [...argv];
  return [first.value, ...argv.slice(0, first.index), ...argv.slice(first.index + 1)];
}

/** argv (after `node cli.js`) → exit code; what a command throws is reported on stderr. */
export async function main(given: string[]): Promise<number> {
  // First of all: from here on SIGUSR1 opens no inspector and SIGHUP/SIGUSR2 end nothing
  // (but the demo and the simulator, interactive, stop on SIGHUP: their terminal closed).
  ignoreSignals();
  const argv = commandFirst(given);
  const first = argv[0];
  const named = first !== undefined && !first.startsWith('-');
  const name = named ? first : DEFAULT_COMMAND;
  const rest = named ? argv.slice(1) : argv;
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  // As early: a server's SIGTERM or SIGINT now waits for its shutdown sequence.
  if (entry?.server === true) holdShutdownSignals();
  outputMayFail();

  const { values } = parseArgs({
    args: rest,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    strict: false,
  });
  // A mistyped command is refused before --help or --version could answer 0 for it.
  if (!entry) {
    process.stderr.write(`vidispine-auth-proxy: unknown command "${name}"\n\n${usage()}`);
    return EXIT_BAD_CONFIGURATION;
  }
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT_OK;
  }
  if (values.help && !(named && entry.ownHelp === true)) {
    process.stdout.write(usage());
    return EXIT_OK;
  }
  try {
    const command = await entry.load();
    return await command(rest);
  } catch (err) {
    process.stderr.write(stderrTextFor(err));
    return exitFor(err).code;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => endWith(code));
}
