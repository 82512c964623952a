/**
 * The signals besides SIGTERM, SIGINT and SIGQUIT (those drain and exit: `shutdown.ts`). Node's
 * defaults for them do harm in a sidecar, so each is logged and otherwise ignored:
 * - SIGUSR1 opens Node's inspector on 127.0.0.1:9229, without authentication. A pod's
 *   containers share that loopback: the application could run code inside the proxy and
 *   read its secrets. A listener of our own keeps Node from opening it (Node 20 and 24 alike).
 * - SIGHUP and SIGUSR2 end the process at once, without draining. There is nothing to
 *   reload: secret files are read again at every mint, and the rest of the configuration is
 *   read at start only.
 */
import { constants } from 'node:os';

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

/**
 * The signals that stop a server: its shutdown sequence drains it (`shutdown.ts`). SIGQUIT
 * too, as nginx's graceful stop: Node's default would end the process at once with a core
 * dump, cutting every request in flight and logging nothing.
 */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

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

/** `process.execve`, which replaces the process's image (Node.js 22.15 and 23.11 on). */
export type Execve = (file: string, args: readonly string[], env: Record<string, string>) => void;

/** `proc`'s `execve`, or undefined on a Node.js without it (20; its types lack it too). */
export function execveOf(proc: NodeJS.Process = process): Execve | undefined {
  const execve: unknown = (proc as NodeJS.Process & { execve?: unknown }).execve;
  return typeof execve === 'function' ? (execve.bind(proc) as Execve) : undefined;
}

/**
 * How `endBySignal` can end a process: by its own signal; by replacing its image with one
 * that exits with the signal's code, when it is a PID namespace's init (the kernel drops the
 * signals an init sends itself while their action is the default, SIGKILL included: a
 * container whose entrypoint is node); or not at all, as such an init without `execve`.
 */
export type SignalEnd = 'self-signal' | 'execve' | 'none';

export function signalEndFor(pid: number, hasExecve: boolean): SignalEnd {
  if (pid !== 1) return 'self-signal';
  return hasExecve ? 'execve' : 'none';
}

/** What an exit line adds when `endBySignal` cannot end this process: '' when it can. */
export function signalEndNote(
  pid: number = process.pid,
  hasExecve: boolean = execveOf() !== undefined,
): string {
  return signalEndFor(pid, hasExecve) === 'none'
    ? ` (but as PID 1, without process.execve before Node.js 22.15, the signal cannot end it: it waits for SIGKILL)`
    : '';
}

/**
 * Whether `signal`'s default action writes a core dump: the process's memory, with the
 * passwords and tokens in it, kept wherever the node keeps core dumps. SIGQUIT, of the
 * signals that stop the proxy: one is never raised, the exit says 131 all the same.
 */
export const dumpsCoreByDefault = (signal: string): boolean => signal === 'SIGQUIT';

/**
 * Ends the process by `signal` with its default action, which the kernel carries out without
 * Node: a shell sees 128 + the signal's number. SIGKILL follows in case something still
 * handles it. As PID 1 the signal would be dropped: the process's image is replaced instead
 * by a node that exits with that same code at once (Kubernetes shows the same code; a
 * parent elsewhere would see an exit rather than a signal, hence PID 1 only). execve ends every other thread, stuck
 * in a read or not (the waits of a FIFO, or of a hard NFS mount, are killable), so nothing
 * joins them; the new image gets an empty environment so that NODE_OPTIONS cannot load
 * anything into it, and writes nothing. A signal that would dump core (SIGQUIT) is never
 * raised: the image is replaced the same way, PID 1 or not, and without `execve` (Node.js
 * before 22.15) SIGTERM ends the process instead.
 */
export function endBySignal(signal: string): void {
  const dumpsCore = dumpsCoreByDefault(signal);
  const execve = execveOf();
  if (execve !== undefined && (dumpsCore || signalEndFor(process.pid, true) === 'execve')) {
    const code = 128 + (constants.signals[signal as NodeJS.Signals] ?? 0);
    try {
      execve(process.execPath, [process.execPath, '-e', `process.exit(${code})`], {});
    } catch {
      // Not replaced (the binary gone, say): the signals below, and SIGKILL from outside.
    }
  }
  const raised = dumpsCore ? 'SIGTERM' : signal;
  process.removeAllListeners(raised);
  process.kill(process.pid, raised);
  process.kill(process.pid, 'SIGKILL');
}
