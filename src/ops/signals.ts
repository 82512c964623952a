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
