/**
 * Process-level error policy: what an unhandled error does to a process that serves.
 */
import type { Logger } from './logger';

export interface ProcessErrorOptions {
  readonly logger: Logger;
  readonly exit?: (code: number) => void;
  /** More than this many unhandled errors within `windowSeconds` is a fatal state. */
  readonly maxErrors?: number;
  readonly windowSeconds?: number;
  readonly now?: () => number;
}

export interface ProcessErrorSource {
  on(
    event: 'uncaughtException' | 'unhandledRejection',
    listener: (error: unknown) => void,
  ): unknown;
  off(
    event: 'uncaughtException' | 'unhandledRejection',
    listener: (error: unknown) => void,
  ): unknown;
}

export interface ProcessErrorHandle {
  /** Declare a state the process cannot serve from: log one clear last line, exit 1. */
  fatal(message: string, error?: unknown): void;
  uninstall(): void;
}

/**
 * Rule: an unhandled error met while serving is logged and the process keeps serving — one
 * broken request must not drop everyone else's. It is fatal (exit 1) when errors keep
 * coming (more than `maxErrors` within `windowSeconds`, default 10 in 60 s: the state is
 * likely corrupt and a restart is the cure) or when the caller declares it with `fatal()`
 * (e.g. a listener that died after start).
 */
export function installProcessErrorHandlers(
  options: ProcessErrorOptions,
  source: ProcessErrorSource = process,
): ProcessErrorHandle {
  const { logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const now = options.now ?? Date.now;
  const maxErrors = options.maxErrors ?? 10;
  const windowMs = (options.windowSeconds ?? 60) * 1000;
  let recent: number[] = [];

  const fatal = (message: string, error?: unknown): void => {
    logger.fatal(
      { event: 'fatal', err: error, exitCode: 1 },
      `fatal: ${message}; exiting with code 1`,
    );
    exit(1);
  };
  const handler =
    (kind: 'uncaughtException' | 'unhandledRejection') =>
    (error: unknown): void => {
      const at = now();
      recent = recent.filter((t) => at - t < windowMs);
      recent.push(at);
      logger.error(
        { event: 'unhandled_error', kind, err: error, recentErrors: recent.length },
        `unhandled error (${kind}); still serving`,
      );
      if (recent.length > maxErrors) {
        fatal(`${recent.length} unhandled errors within ${windowMs / 1000} s`, error);
      }
    };
  const onException = handler('uncaughtException');
  const onRejection = handler('unhandledRejection');
  source.on('uncaughtException', onException);
  source.on('unhandledRejection', onRejection);
  return {
    fatal,
    uninstall() {
      source.off('uncaughtException', onException);
      source.off('unhandledRejection', onRejection);
    },
  };
}
