/**
 * How a command ends: it resolves with an exit code, or throws. The CLI turns what is thrown
 * into one message on stderr and an exit code, as cloud-sql-proxy's `exitError` does: a
 * `ConfigError` is bad configuration or command line (2), anything else a runtime failure
 * (1) — a listener that cannot bind, say, whose `ListenError` names the setting.
 */
import { ConfigError } from '../config/errors';
import { messageOf } from '../error-message';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_CONFIGURATION = 2;

/** A command's argument vector (after the command name) → its exit code. */
export type Command = (args: string[]) => Promise<number>;

/** The exit code and the stderr text for what a command threw. Never a secret: messages never hold one. */
export function exitFor(err: unknown): { readonly code: number; readonly message: string } {
  if (err instanceof ConfigError) {
    const lines = err.message.replace(/^/gm, '  ');
    return { code: EXIT_BAD_CONFIGURATION, message: `configuration error\n${lines}` };
  }
  return { code: EXIT_FAILURE, message: messageOf(err) };
}
