/**
 * The signals besides SIGTERM and SIGINT (those drain and exit: `shutdown.ts`). Node's
 * defaults for them do harm in a sidecar, so each is logged and otherwise ignored:
 * - SIGUSR1 opens Node's inspector on 127.0.0.1:9229, without authentication. A pod's
 *   containers share that loopback: the application could run code inside the proxy and
 *   read its secrets. A listener of our own keeps Node from opening it (Node 20 and 24 alike).
 * - SIGHUP and SIGUSR2 end the process at once, without draining. There is nothing to
 *   reload: secret files are read again at every mint, and the rest of the configuration is
 *   read at start only.
 */
const IGNORED_SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

export type IgnoredSignal = (typeof IGNORED_SIGNALS)[number];

export interface SignalTarget {
  on(event: IgnoredSignal, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: IgnoredSignal, listener: (signal: NodeJS.Signals) => void): unknown;
}

/**
 * Takes the signals but `except` from Node's defaults; `onSignal` hears each one. Returns an
 * undo.
 */
export function ignoreSignals(
  onSignal: (signal: NodeJS.Signals) => void = () => undefined,
  target: SignalTarget = process,
  except: readonly string[] = [],
): () => void {
  const signals = IGNORED_SIGNALS.filter((s) => !except.includes(s));
  for (const signal of signals) target.on(signal, onSignal);
  return () => {
    for (const signal of signals) target.off(signal, onSignal);
  };
}

/** What a log line says about an ignored signal. */
export function signalMessage(signal: string): string {
  return signal === 'SIGUSR1'
    ? 'SIGUSR1 received and ignored: the Node.js inspector stays closed'
    : `${signal} received and ignored: secret files are read again at every mint; other configuration changes need a restart (SIGTERM drains and exits)`;
}

/** The signals that stop a server: its shutdown sequence drains it (`shutdown.ts`). */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Where signals are heard: `process`, or a stand-in. */
export interface SignalSource {
  on(event: string, listener: (signal: string) => void): unknown;
  off(event: string, listener: (signal: string) => void): unknown;
}

/** What `holdShutdownSignals` set up: where, the signals received so far, and the listener. */
let held:
  | {
      readonly source: SignalSource;
      readonly received: string[];
      readonly listener: (signal: string) => void;
    }
  | undefined;

/**
 * Until a server's shutdown sequence listens, SIGTERM and SIGINT are kept for it: without a
 * listener Node's default ends the process at once, with no shutdown line and no exit code of
 * ours, and in a container whose PID 1 is node the kernel drops the signal altogether (the
 * pod then serves on until SIGKILL). Installed first thing, the window is Node's own start.
 */
export function holdShutdownSignals(source: SignalSource = process): void {
  if (held !== undefined) return;
  const received: string[] = [];
  held = { source, received, listener: (signal) => void received.push(signal) };
  for (const signal of SHUTDOWN_SIGNALS) source.on(signal, held.listener);
}

/**
 * The signals `source` held so far, in order, and no more holding. Call it once the shutdown
 * sequence listens: Node stops watching a signal when its last listener goes, and one
 * arriving in between would end the process.
 */
export function takeHeldSignals(source: SignalSource = process): string[] {
  if (held?.source !== source) return [];
  const { received, listener } = held;
  held = undefined;
  for (const signal of SHUTDOWN_SIGNALS) source.off(signal, listener);
  return received;
}

/**
 * Ends the process by `signal` with its default action, which the kernel carries out without
 * Node: a shell sees 128 + the signal's number. SIGKILL follows in case something still
 * handles it.
 */
export function endBySignal(signal: string): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  process.kill(process.pid, 'SIGKILL');
}
