/**
 * The commands: what each is called, how it is used, and where it lives. Loaded lazily, so
 * `--help` and `simulate` never pull in the proxy's dependencies. A new command is one
 * module beside this file and one entry here.
 */
import { type CommandOption, DEMO_OPTIONS } from './demo-options';
import type { Command } from './exit';

export { type Command, endWith, exitFor, stderrTextFor } from './exit';

export interface CommandEntry {
  /** The synopsis after the program name, for `--help`. */
  readonly usage: string;
  readonly summary: string;
  /** Options worth a line of their own in `--help`. */
  readonly options?: readonly CommandOption[];
  /** `COMMAND --help` is the command's own: its options are too many for the general help. */
  readonly ownHelp?: boolean;
  /**
   * Serves until SIGTERM or SIGINT drains it: those signals are held for its shutdown
   * sequence from the command's first moment, before its configuration is read.
   */
  readonly server?: boolean;
  readonly load: () => Promise<Command>;
}

export const DEFAULT_COMMAND = 'run';

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  run: {
    usage: 'run [--config FILE]',
    summary: 'start the proxy (default command)',
    server: true,
    load: async () => (await import('./run')).runCommand,
  },
  check: {
    usage: 'check [--config FILE]',
    summary: 'validate config, mint one token per user, print a table',
    load: async () => (await import('./check')).checkCommand,
  },
  // The simulator is a program of its own: its command line is its own too.
  simulate: {
    usage: 'simulate [--listen ADDR] [--users FILE] [--control]',
    summary: 'run the bundled Vidispine simulator (simulate --help: its options)',
    ownHelp: true,
    load: async () => (await import('../simulator')).simulateCommand,
  },
  demo: {
    usage: 'demo [--listen ADDR] [--ops-listen ADDR] [--simulator-listen ADDR]',
    summary: 'simulator + proxy wired together, prints curl lines',
    options: Object.values(DEMO_OPTIONS),
    load: async () => (await import('./demo')).demoCommand,
  },
  inject: {
    usage: 'inject [--config FILE]',
    summary: 'the Kubernetes webhook that adds the proxy to labelled pods',
    server: true,
    load: async () => (await import('./inject')).injectCommand,
  },
};
