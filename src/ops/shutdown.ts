/**
 * Graceful shutdown, and serving a program until it is stopped.
 *
 * SIGTERM/SIGINT: readiness fails at once (the Service stops routing new traffic), keep-alive
 * ends (each answer closes its connection), requests keep being served for `delaySeconds`
 * (endpoints propagate), listeners close and in-flight
 * requests get up to `drainSeconds`, then timers stop and the process exits 0. A second
 * signal cuts what is in flight and exits at once with 128 + the signal number. A step
 * that throws is logged, the remaining steps still run, and the exit code becomes 1. A signal
 * that arrives while the program starts waits for the start: a failed start exits 1. One that
 * arrived earlier, held since the command began (`holdShutdownSignals`), is taken as it.
 */
import { ListenError } from '../config/listen';
import { stuckSecretReads, stuckSecretReadsBack } from '../config/secrets';
import { messageOf } from '../error-message';
import { type Logger, stopWaitingForStdout } from './logger';
import { installProcessErrorHandlers } from './process-errors';
import {
  endBySignal,
  ignoreSignals,
  SHUTDOWN_SIGNALS,
  type SignalSource,
  signalEndNote,
  signalMessage,
  takeHeldSignals,
} from './signals';

export interface ShutdownSteps {
  /**
   * Shutdown has begun: from now on answers close their connections, so clients reconnect
   * (elsewhere, once endpoints have propagated) rather than reuse one about to close.
   */
  endKeepAlive?(): void;
  /**
   * Stop accepting on the data listeners; resolve once every in-flight request has finished.
   * It has no deadline of its own: the coordinator races it against `drainSeconds`.
   */
  closeListeners(): Promise<void>;
  /**
   * The drain window is over (or closing failed): cut what is still in flight, now. With
   * `grace`, the answers the cut itself writes (the 503 to an upload still coming) may first
   * be given a short grace to be read, and the promise settles after it. A second signal
   * calls it without, right before the exit and without waiting, so the cut itself must be
   * done when it returns, each request it cut counted and access-logged; the promise is only
   * for what closes after.
   */
  abortInFlight(grace?: boolean): void | Promise<void>;
  /** Stop timers and close the rest (token store, ops listener). */
  stop(): void | Promise<void>;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ShutdownOptions {
  readonly delaySeconds: number;
  readonly drainSeconds: number;
  readonly health: { beginShutdown(): void };
  readonly logger: Logger;
  readonly steps: ShutdownSteps;
  readonly exit?: (code: number) => void;
  /**
   * How many of Node's pool threads a secret file's read holds for good (`stuckSecretReads`):
   * while one does, `exit` would never return, and `endBy` ends the process instead.
   */
  readonly stuckReads?: () => number;
  /** Settles once the reads `stuckReads` counts have come back (`stuckSecretReadsBack`). */
  readonly stuckReadsBack?: () => Promise<unknown>;
  /** Ends the process by `signal`, as if it had not been handled. */
  readonly endBy?: (signal: string) => void;
  /** Defaults to the global timers, looked up at call time (so fake timers apply). */
  readonly timers?: Timers;
}

/**
 * How long the exit waits for secret reads given up on to come back. The token store's stop
 * gives up the reads under way too, and a healthy volume answers them within milliseconds
 * (a busy CSI driver in a few hundred): only a read still out after this is stuck.
 */
export const STUCK_READ_GRACE_MS = 1000;

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
};

const globalTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What `work` settled to, or 'timeout' when `ms` pass first. */
function withinWindow<T>(work: Promise<T>, ms: number, timers: Timers): Promise<T | 'timeout'> {
  let handle: unknown;
  const window = new Promise<'timeout'>((resolve) => {
    handle = timers.setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([work, window]).finally(() => timers.clearTimeout(handle));
}

/**
 * The file reads stuck once those given up on have had `STUCK_READ_GRACE_MS` to come back:
 * the stop, or the signal before the start, just gave up any read under way, which may
 * merely be slow.
 */
async function readsStillStuck(
  stuckReads: () => number,
  stuckReadsBack: () => Promise<unknown>,
  timers: Timers,
): Promise<number> {
  if (stuckReads() === 0) return 0;
  await withinWindow(stuckReadsBack(), STUCK_READ_GRACE_MS, timers);
  return stuckReads();
}

export class ShutdownCoordinator {
  private started = false;
  private readonly exitWith: (code: number) => void;
  private readonly stuckReads: () => number;
  private readonly stuckReadsBack: () => Promise<unknown>;
  private readonly endBy: (signal: string) => void;
  private readonly timers: Timers;
  /** Whether the program started, once `starting` was called: the sequence waits for it. */
  private startup: Promise<boolean> | undefined;
  private resolveDone: (code: number) => void = () => undefined;
  /** Resolves with the exit code once the sequence has finished (before `exit` is called). */
  readonly done = new Promise<number>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(private readonly options: ShutdownOptions) {
    this.exitWith = options.exit ?? ((code) => process.exit(code));
    this.stuckReads = options.stuckReads ?? stuckSecretReads;
    this.stuckReadsBack = options.stuckReadsBack ?? stuckSecretReadsBack;
    this.endBy = options.endBy ?? endBySignal;
    this.timers = options.timers ?? globalTimers;
  }

  get begun(): boolean {
    return this.started;
  }

  /**
   * The program is starting: a sequence begun before `start` settles fails readiness at once
   * but waits for it before anything else. A failed start then ends the sequence there, so
   * the start's own failure (exit 1) stands, whatever signals came; a start that succeeds is
   * drained as usual.
   */
  starting(start: Promise<unknown>): void {
    this.startup = start.then(
      () => true,
      () => false,
    );
  }

  /**
   * Listen for SIGTERM, SIGINT and `also`, and take over those `source` held until now
   * (`holdShutdownSignals`): each begins the sequence as if it came now. Returns a function
   * that removes the handlers.
   */
  install(source: SignalSource = process, also: readonly string[] = []): () => void {
    const signals = [...SHUTDOWN_SIGNALS, ...also];
    const onSignal = (signal: string): void => void this.begin(signal);
    for (const signal of signals) source.on(signal, onSignal);
    for (const signal of takeHeldSignals(source)) onSignal(signal);
    return () => {
      for (const signal of signals) source.off(signal, onSignal);
    };
  }

  /** `abortInFlight` on the way out: nothing it throws or rejects may hold the exit up. */
  private abortNow(): void {
    try {
      void Promise.resolve(this.options.steps.abortInFlight()).catch(() => undefined);
    } catch {
      // exiting anyway
    }
  }

  /** Run the shutdown sequence; a call while one is running exits at once. */
  async begin(signal: string): Promise<void> {
    const { logger } = this.options;
    if (this.started) {
      const code = 128 + (SIGNAL_NUMBERS[signal] ?? 0);
      // Exiting now means now: not once a stalled log reader takes the lines written on the way.
      stopWaitingForStdout();
      logger.warn(
        { event: 'shutdown', step: 'forced', signal, exitCode: code },
        `second ${signal}: exiting now without draining`,
      );
      // The exit alone would close every connection in order: a download only its close
      // delimits would look whole to the client.
      this.abortNow();
      this.exit(code, signal);
      return;
    }
    this.started = true;
    const { delaySeconds, drainSeconds, health, steps } = this.options;
    let code = 0;
    const attempt = async (step: string, run: () => unknown): Promise<void> => {
      try {
        await run();
      } catch (error) {
        code = 1;
        logger.error({ event: 'shutdown', step, err: error }, `shutdown step ${step} failed`);
      }
    };

    health.beginShutdown();
    await attempt('end_keep_alive', () => steps.endKeepAlive?.());
    logger.info(
      { event: 'shutdown', step: 'begin', signal, delaySeconds, drainSeconds },
      `${signal} received: readiness now fails; serving on for ${delaySeconds} s`,
    );
    if (this.startup !== undefined && !(await this.startup)) return;
    await this.sleep(delaySeconds * 1000);

    logger.info(
      { event: 'shutdown', step: 'close_listeners', drainSeconds },
      `closing listeners; in-flight requests have ${drainSeconds} s to finish`,
    );
    const startedAt = Date.now();
    const outcome = await withinWindow(
      steps.closeListeners().then(
        () => 'drained' as const,
        (error: unknown) => {
          code = 1;
          logger.error(
            { event: 'shutdown', step: 'close_listeners', err: error },
            'closing listeners failed: cutting what is still in flight',
          );
          return 'failed' as const;
        },
      ),
      drainSeconds * 1000,
      this.timers,
    );
    if (outcome === 'drained') {
      logger.info(
        { event: 'shutdown', step: 'drained', durationMs: Date.now() - startedAt },
        'all in-flight requests finished',
      );
    } else {
      if (outcome === 'timeout') {
        logger.warn(
          { event: 'shutdown', step: 'drain_timeout', drainSeconds },
          `drain window of ${drainSeconds} s over: aborting requests still in flight`,
        );
      }
      await attempt('abort_in_flight', () => steps.abortInFlight(true));
    }

    await attempt('stop', () => steps.stop());
    const stuck = await readsStillStuck(this.stuckReads, this.stuckReadsBack, this.timers);
    if (stuck === 0) {
      logger.info(
        { event: 'shutdown', step: 'exit', exitCode: code },
        `shutdown complete, exit ${code}`,
      );
    } else {
      logger.warn(
        {
          event: 'shutdown',
          step: 'exit',
          exitCode: code,
          stuckSecretReads: stuck,
          endedBy: signal,
        },
        `shutdown complete; a secret file's read is stuck in its volume and Node.js would wait for it before exiting: ending by ${signal} instead of exit ${code}${signalEndNote()}`,
      );
    }
    this.resolveDone(code);
    this.exit(code, signal);
  }

  /**
   * `exit`, unless a secret file's read is stuck: Node.js's exit waits for every thread of its
   * pool (libuv joins them), and one blocked in the read of a volume that stopped answering
   * never returns, so the process would hang there until SIGKILL, long after its drain.
   * Nothing else can end it from inside without that wait: it ends by the signal instead.
   */
  private exit(code: number, signal: string): void {
    if (this.stuckReads() === 0) this.exitWith(code);
    else this.endBy(signal);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timers.setTimeout(resolve, ms));
  }
}

/** What `serveUntilStopped` runs: a program's parts as the shutdown sequence sees them. */
export interface Servable {
  readonly health: { beginShutdown(): void };
  readonly shutdownSteps: ShutdownSteps;
  /** Open the listeners (rejects when one cannot bind). */
  start(): Promise<void>;
  /** Fields of the `listening` log line: where each listener is bound. */
  listening(): Record<string, unknown>;
}

/**
 * Starts `program` and serves until SIGTERM/SIGINT has drained it; resolves with the exit
 * code. Rejects with what `start()` threw (a `ListenError` when a listener cannot bind), the
 * process's handlers removed again. Unhandled errors follow
 * `installProcessErrorHandlers`' policy.
 */
export async function serveUntilStopped(
  program: Servable,
  options: {
    readonly logger: Logger;
    readonly shutdown: { readonly delaySeconds: number; readonly drainSeconds: number };
    readonly onStarted?: () => void;
    /**
     * SIGHUP drains and exits too, as an interactive command should when its terminal
     * closes (else it lingers, holding its ports); a server ignores it (`signals.ts`).
     */
    readonly stopOnHangUp?: boolean;
  },
): Promise<number> {
  const { logger } = options;
  const hangUp = options.stopOnHangUp === true ? ['SIGHUP'] : [];
  const errors = installProcessErrorHandlers({ logger });
  const shutdown = new ShutdownCoordinator({
    ...options.shutdown,
    health: program.health,
    logger,
    steps: program.shutdownSteps,
  });
  const uninstallSignals = shutdown.install(process, hangUp);
  const uninstallIgnored = ignoreSignals(
    (signal) => logger.warn({ event: 'signal_ignored', signal }, signalMessage(signal)),
    process,
    hangUp,
  );
  const started = program.start();
  shutdown.starting(started);
  try {
    await started;
  } catch (err) {
    // On the log stream too, where a collector sees it; the caller still writes it to stderr.
    logger.fatal(startFailure(err), `cannot start: ${messageOf(err)}; exiting with code 1`);
    // Close what did open, so the process can end; the caller reports the error once (a
    // `ListenError` names the setting and the address).
    await Promise.allSettled([program.shutdownSteps.abortInFlight(), program.shutdownSteps.stop()]);
    errors.uninstall();
    uninstallSignals();
    uninstallIgnored();
    throw err;
  }
  logger.info({ event: 'listening', ...program.listening() }, 'listening');
  options.onStarted?.();
  return shutdown.done;
}

/**
 * The fields of the `fatal` line of a failed start. A listener that cannot bind is a plain
 * fact, named by its setting, address and code, without a stack; anything else keeps its
 * error, stack included (the logger scrubs secrets from both).
 */
function startFailure(err: unknown): Record<string, unknown> {
  const base = { event: 'fatal', phase: 'start', exitCode: 1 };
  if (err instanceof ListenError) {
    const { setting, address, code } = err;
    return { ...base, error: err.message, setting, address, code };
  }
  return { ...base, err };
}

/** What `beforeStart` needs from the process: stand-ins in tests. */
export interface ProcessEnd {
  readonly source?: SignalSource;
  readonly stuckReads?: () => number;
  readonly stuckReadsBack?: () => Promise<unknown>;
  readonly endBy?: (signal: string) => void;
  readonly stderr?: { write(text: string): unknown };
}

/** How `beforeStart` treats what `work` threw once a signal had stopped it. */
export interface StartChecks<T> {
  /**
   * The text to say of it on stderr when it is to be said all the same (bad configuration
   * found before the signal came, which the next start would only find again); undefined
   * for the rest, which the signal made moot.
   */
  readonly sayAnyway: (err: unknown) => string | undefined;
  readonly work: (stop: AbortSignal) => Promise<T>;
}

/**
 * Runs `work`, the last check before anything listens, with an AbortSignal that SIGTERM or
 * SIGINT aborts, and resolves to what it returned. There is nothing to drain yet: a signal
 * ends the check and the process, by the signal itself if a file's read is left stuck
 * (Node.js's exit would wait for it for good), else by resolving undefined (the command then
 * exits 0). A read the signal gave up on has `STUCK_READ_GRACE_MS` to come back first, as at
 * the exit: every start with a configuration file reads one, and a signal in those
 * milliseconds finds it merely under way. What `work` threw that `sayAnyway` says (bad keys
 * found before the signal) is said all the same: thrown again when no read is left stuck,
 * else written to stderr before the signal ends the process. A signal held since the command
 * began (`holdShutdownSignals`) stays held for the shutdown sequence, as before this check: a
 * check of files that answer takes microseconds.
 */
export async function beforeStart<T>(
  { work, sayAnyway }: StartChecks<T>,
  {
    source = process,
    stuckReads = stuckSecretReads,
    stuckReadsBack = stuckSecretReadsBack,
    endBy = endBySignal,
    stderr = process.stderr,
  }: ProcessEnd = {},
): Promise<T | undefined> {
  const controller = new AbortController();
  let stoppedBy: string | undefined;
  const onSignal = (signal: string): void => {
    stoppedBy ??= signal;
    controller.abort();
  };
  for (const signal of SHUTDOWN_SIGNALS) source.on(signal, onSignal);
  let result: T | undefined;
  let said: { err: unknown; text: string } | undefined;
  try {
    result = await work(controller.signal);
  } catch (err) {
    if (stoppedBy === undefined) throw err;
    const text = sayAnyway(err);
    if (text !== undefined) said = { err, text };
  } finally {
    for (const signal of SHUTDOWN_SIGNALS) source.off(signal, onSignal);
  }
  if (stoppedBy === undefined) return result;
  const stuck = (await readsStillStuck(stuckReads, stuckReadsBack, globalTimers)) > 0;
  if (said !== undefined && !stuck) throw said.err;
  if (said !== undefined) stderr.write(said.text);
  if (stuck) endBy(stoppedBy);
  return undefined;
}
