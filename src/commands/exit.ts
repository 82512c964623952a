/**
 * How a command ends: it resolves with an exit code, or throws. The CLI turns what is thrown
 * into one message on stderr and an exit code, as cloud-sql-proxy's `exitError` does: a
 * `ConfigError` is bad configuration or command line (2), anything else a runtime failure
 * (1) — a listener that cannot bind, say, whose `ListenError` names the setting.
 */
import { ConfigError } from '../config/errors';
import { stuckSecretReads } from '../config/secrets';
import { messageOf } from '../error-message';
import { endBySignal, signalEndNote } from '../ops/signals';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_CONFIGURATION = 2;

/** A command's argument vector (after the command name) → its exit code. */
export type Command = (args: string[]) => Promise<number>;

/** The exit code and the stderr text for what a command threw. Never a secret: messages never hold one. */
export function exitFor(err: unknown): { readonly code: number; readonly message: string } {
  if (err instanceof ConfigError) {
    const lines = err.message.replace(/^/gm, '  ');
    // Files not read in time are no configuration error: said on lines of their own after.
    const unread = err.unread.map((line) => `\nvidispine-auth-proxy: ${line}`).join('');
    return { code: EXIT_BAD_CONFIGURATION, message: `configuration error\n${lines}${unread}` };
  }
  return { code: EXIT_FAILURE, message: messageOf(err) };
}

/** What the CLI writes on stderr for what a command threw (`exitFor`). */
export function stderrTextFor(err: unknown): string {
  return `vidispine-auth-proxy: ${exitFor(err).message}\n`;
}

/**
 * The stderr text of bad configuration, said even when a signal ended the start that found
 * it (`beforeStart`'s `sayAnyway`): the next start would find it again. Undefined for the
 * rest.
 */
export function configErrorText(err: unknown): string | undefined {
  return err instanceof ConfigError ? stderrTextFor(err) : undefined;
}

/**
 * The process is to exit with `code` once its event loop is empty. While a file's read is
 * stuck in its volume that exit never comes (Node.js waits for the read's pool thread, and
 * the read keeps the loop busy), so it ends now by SIGTERM instead, saying so on stderr. The
 * file may be a secret file or `vidispine.caFile` (both read at start, `loadStartConfig`): the
 * line says "a file"; the lines before it name which, by key and path, after the bad
 * configuration found as well, if any (exit 2).
 */
export function endWith(
  code: number,
  stuckReads: () => number = stuckSecretReads,
  endBy: (signal: string) => void = endBySignal,
  stderr: { write(text: string): unknown } = process.stderr,
): void {
  process.exitCode = code;
  if (stuckReads() === 0) return;
  stderr.write(
    `vidispine-auth-proxy: a file's read is stuck in its volume and Node.js would wait for it before exiting: ending by SIGTERM instead of exit ${code}${signalEndNote()}\n`,
  );
  endBy('SIGTERM');
}
