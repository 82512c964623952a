import { EventEmitter } from 'node:events';
import { Health } from '../../src/ops/health';
import { installProcessErrorHandlers } from '../../src/ops/process-errors';
import {
  ShutdownCoordinator,
  type ShutdownSteps,
  STUCK_READ_GRACE_MS,
} from '../../src/ops/shutdown';
import { holdShutdownSignals, signalEndFor, signalEndNote } from '../../src/ops/signals';
import { captureLogs, ScriptedTokens } from '../support/ops';

beforeEach(() => {
  jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z') });
});
afterEach(() => {
  jest.useRealTimers();
});

/** Secret reads given up on: `count` of them until `comeBack`, which stays uncalled while stuck. */
function givenUpReads(count: number) {
  let comeBack: () => void = () => undefined;
  const back = new Promise<void>((resolve) => {
    comeBack = () => {
      count = 0;
      resolve();
    };
  });
  return { count: () => count, back: () => back, comeBack: () => comeBack() };
}

function setup(overrides: Partial<ShutdownSteps> = {}, reads = givenUpReads(0)) {
  const calls: string[] = [];
  let finishDrain: () => void = () => undefined;
  const steps: ShutdownSteps = {
    endKeepAlive: () => {
      calls.push('endKeepAlive');
    },
    closeListeners: () => {
      calls.push('closeListeners');
      return new Promise<void>((resolve) => {
        finishDrain = resolve;
      });
    },
    abortInFlight: () => {
      calls.push('abortInFlight');
    },
    stop: () => {
      calls.push('stop');
    },
    ...overrides,
  };
  const health = new Health(new ScriptedTokens([], Date.now));
  const { logger, lines } = captureLogs('info');
  const exits: number[] = [];
  const coordinator = new ShutdownCoordinator({
    delaySeconds: 5,
    drainSeconds: 30,
    health,
    logger,
    steps,
    exit: (code) => {
      exits.push(code);
      calls.push(`exit ${code}`);
    },
    stuckReads: reads.count,
    stuckReadsBack: reads.back,
    endBy: (signal) => calls.push(`end by ${signal}`),
  });
  return {
    coordinator,
    health,
    calls,
    exits,
    finishDrain: () => finishDrain(),
    lines,
    steps: () => lines.filter((l) => l.event === 'shutdown').map((l) => l.step),
  };
}

describe('how a process ends by a signal', () => {
  it('by its own signal, except as PID 1: by execve, or not at all without it', () => {
    expect(signalEndFor(4242, true)).toBe('self-signal');
    expect(signalEndFor(4242, false)).toBe('self-signal');
    expect(signalEndFor(1, true)).toBe('execve');
    expect(signalEndFor(1, false)).toBe('none');
  });

  it('the exit line says so only when nothing can end the process', () => {
    expect(signalEndNote(4242, false)).toBe('');
    expect(signalEndNote(1, true)).toBe('');
    expect(signalEndNote(1, false)).toBe(
      ' (but as PID 1, without process.execve before Node.js 22.15, the signal cannot end it: it waits for SIGKILL)',
    );
  });
});

describe('ShutdownCoordinator', () => {
  it('fails readiness at once, serves for the delay, drains, stops, exits 0', async () => {
    const s = setup();
    void s.coordinator.begin('SIGTERM');
    expect(s.health.shuttingDown).toBe(true);
    expect(s.health.ready().ok).toBe(false);
    expect(s.calls).toEqual(['endKeepAlive']);
    await jest.advanceTimersByTimeAsync(4999);
    expect(s.calls).toEqual(['endKeepAlive']);
    await jest.advanceTimersByTimeAsync(1);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners']);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners']);
    s.finishDrain();
    await expect(s.coordinator.done).resolves.toBe(0);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'stop', 'exit 0']);
    expect(s.steps()).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it("gives the cut at the drain window's end its grace, waits for it, and a second signal cuts at once", async () => {
    const graces: (boolean | undefined)[] = [];
    let graceOver: () => void = () => undefined;
    const s = setup({
      abortInFlight: (grace) => {
        graces.push(grace);
        s.calls.push('abortInFlight');
        if (grace !== true) return undefined;
        return new Promise<void>((resolve) => (graceOver = resolve));
      },
    });
    void s.coordinator.begin('SIGTERM');
    await jest.advanceTimersByTimeAsync(5000 + 30_000);
    // The window is kept whole: nothing is cut, nor answered, before its end.
    expect(graces).toEqual([true]);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'abortInFlight']);
    graceOver();
    await expect(s.coordinator.done).resolves.toBe(0);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'abortInFlight', 'stop', 'exit 0']);

    const forced = setup({
      abortInFlight: (grace) => {
        forced.calls.push(`abortInFlight ${String(grace)}`);
        return grace === true ? new Promise<void>(() => undefined) : undefined;
      },
    });
    void forced.coordinator.begin('SIGTERM');
    await jest.advanceTimersByTimeAsync(5000 + 30_000);
    void forced.coordinator.begin('SIGTERM');
    expect(forced.calls).toEqual([
      'endKeepAlive',
      'closeListeners',
      'abortInFlight true',
      'abortInFlight undefined',
      'exit 143',
    ]);
  });

  it('ends by the signal instead of exiting while a secret read is stuck (Node would wait for it)', async () => {
    const s = setup({}, givenUpReads(1));
    void s.coordinator.begin('SIGTERM');
    await jest.advanceTimersByTimeAsync(5000);
    s.finishDrain();
    // The read given up on has STUCK_READ_GRACE_MS to come back; this one does not.
    await jest.advanceTimersByTimeAsync(STUCK_READ_GRACE_MS - 1);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'stop']);
    await jest.advanceTimersByTimeAsync(1);
    await expect(s.coordinator.done).resolves.toBe(0);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'stop', 'end by SIGTERM']);
    expect(jest.getTimerCount()).toBe(0);
    expect(s.exits).toEqual([]);
    expect(s.lines.find((l) => l.step === 'exit')).toMatchObject({
      level: 'warn',
      stuckSecretReads: 1,
      endedBy: 'SIGTERM',
    });
  });

  it('a read given up on that comes back within the grace (the stop gave up a slow one) lets it exit 0', async () => {
    const reads = givenUpReads(1);
    const s = setup({}, reads);
    void s.coordinator.begin('SIGTERM');
    await jest.advanceTimersByTimeAsync(5000);
    s.finishDrain();
    await jest.advanceTimersByTimeAsync(STUCK_READ_GRACE_MS - 1);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'stop']);
    reads.comeBack();
    await expect(s.coordinator.done).resolves.toBe(0);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'stop', 'exit 0']);
    const exit = s.lines.find((l) => l.step === 'exit');
    expect(exit).toMatchObject({ level: 'info', exitCode: 0 });
    expect(exit).not.toHaveProperty('stuckSecretReads');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a second signal while a secret read is stuck ends by that signal at once', async () => {
    const s = setup({}, givenUpReads(2));
    void s.coordinator.begin('SIGTERM');
    void s.coordinator.begin('SIGINT');
    expect(s.calls).toEqual(['endKeepAlive', 'abortInFlight', 'end by SIGINT']);
    expect(s.exits).toEqual([]);
  });

  it('aborts what is still in flight when the drain window ends, then exits 0', async () => {
    const s = setup();
    void s.coordinator.begin('SIGINT');
    await jest.advanceTimersByTimeAsync(5000 + 29_999);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners']);
    await jest.advanceTimersByTimeAsync(1);
    await expect(s.coordinator.done).resolves.toBe(0);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners', 'abortInFlight', 'stop', 'exit 0']);
    expect(s.steps()).toEqual(['begin', 'close_listeners', 'drain_timeout', 'exit']);
  });

  it('a signal during the start waits for it: a failed start leaves the exit to the start', async () => {
    const s = setup();
    let fail: (err: Error) => void = () => undefined;
    const start = new Promise<void>((_, reject) => (fail = reject));
    start.catch(() => undefined);
    s.coordinator.starting(start);
    const sequence = s.coordinator.begin('SIGTERM');
    expect(s.health.ready().ok).toBe(false);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(s.calls).toEqual(['endKeepAlive']);
    fail(new Error('EADDRINUSE'));
    await sequence;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(s.calls).toEqual(['endKeepAlive']);
    expect(s.exits).toEqual([]);
  });

  it('a signal during the start waits for it: a start that succeeds is drained as usual', async () => {
    const s = setup();
    let started: () => void = () => undefined;
    s.coordinator.starting(new Promise<void>((resolve) => (started = resolve)));
    void s.coordinator.begin('SIGTERM');
    await jest.advanceTimersByTimeAsync(60_000);
    expect(s.calls).toEqual(['endKeepAlive']);
    started();
    await jest.advanceTimersByTimeAsync(5000);
    expect(s.calls).toEqual(['endKeepAlive', 'closeListeners']);
    s.finishDrain();
    await expect(s.coordinator.done).resolves.toBe(0);
    expect(s.exits).toEqual([0]);
  });

  it('exits at once, non-zero, on a second signal', async () => {
    const s = setup();
    void s.coordinator.begin('SIGTERM');
    await jest.advanceTimersByTimeAsync(1000);
    void s.coordinator.begin('SIGTERM');
    expect(s.exits).toEqual([143]);
    expect(s.steps()).toEqual(['begin', 'forced']);
    void s.coordinator.begin('SIGINT');
    expect(s.exits).toEqual([143, 130]);
  });

  it('runs the remaining steps when one fails and exits 1', async () => {
    const s = setup({
      closeListeners: () => Promise.reject(new Error('listener gone')),
      stop: () => {
        throw new Error('timer trouble');
      },
    });
    void s.coordinator.begin('SIGTERM');
    await jest.advanceTimersByTimeAsync(5000);
    await expect(s.coordinator.done).resolves.toBe(1);
    expect(s.exits).toEqual([1]);
    expect(s.calls).toEqual(['endKeepAlive', 'abortInFlight', 'exit 1']);
    expect(s.steps()).toEqual(['begin', 'close_listeners', 'close_listeners', 'stop', 'exit']);
  });

  it('installs and removes SIGTERM/SIGINT handlers', async () => {
    const s = setup();
    const proc = new EventEmitter();
    const uninstall = s.coordinator.install(proc);
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    expect(proc.listenerCount('SIGINT')).toBe(1);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(s.coordinator.begun).toBe(true);
    uninstall();
    expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT')).toBe(0);
  });

  it('takes over the signals held before it listened: each as if it came now', async () => {
    const s = setup();
    const proc = new EventEmitter();
    holdShutdownSignals(proc);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(s.coordinator.begun).toBe(false);
    const uninstall = s.coordinator.install(proc);
    expect(s.coordinator.begun).toBe(true);
    // Only its own handlers are left, added before the holder's went: never none.
    expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT')).toBe(2);
    await jest.advanceTimersByTimeAsync(0);
    expect(s.steps()).toEqual(['begin']);
    uninstall();
  });

  it('takes a second held signal as a second signal: exit at once, 128 + its number', async () => {
    const s = setup();
    const proc = new EventEmitter();
    holdShutdownSignals(proc);
    proc.emit('SIGINT', 'SIGINT');
    proc.emit('SIGTERM', 'SIGTERM');
    const uninstall = s.coordinator.install(proc);
    await jest.advanceTimersByTimeAsync(0);
    expect(s.exits).toEqual([143]);
    uninstall();
  });

  it('stops on SIGHUP when asked to, and exits 129 on a second one', async () => {
    const s = setup();
    const proc = new EventEmitter();
    const uninstall = s.coordinator.install(proc, ['SIGHUP']);
    proc.emit('SIGHUP', 'SIGHUP');
    expect(s.coordinator.begun).toBe(true);
    proc.emit('SIGHUP', 'SIGHUP');
    await jest.advanceTimersByTimeAsync(0);
    expect(s.exits).toEqual([129]);
    uninstall();
    expect(proc.listenerCount('SIGHUP')).toBe(0);
  });
});

describe('process error handlers', () => {
  function install() {
    const { logger, lines } = captureLogs('info');
    const proc = new EventEmitter();
    const exits: number[] = [];
    const handle = installProcessErrorHandlers({ logger, exit: (code) => exits.push(code) }, proc);
    return { proc, exits, lines, handle };
  }

  it('logs an unhandled error (secrets scrubbed) and keeps serving', () => {
    const { proc, exits, lines } = install();
    proc.emit(
      'uncaughtException',
      new Error('socket hang up for Authorization: token VSID-424242'),
    );
    proc.emit('unhandledRejection', 'plain reason');
    expect(exits).toEqual([]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        event: 'unhandled_error',
        kind: 'uncaughtException',
        err: expect.objectContaining({ message: 'socket hang up for Authorization: [REDACTED]' }),
      }),
      expect.objectContaining({ kind: 'unhandledRejection', err: 'plain reason' }),
    ]);
  });

  it('treats a burst of errors as fatal: clear last line, exit 1', () => {
    const { proc, exits, lines } = install();
    for (let i = 0; i < 10; i++) {
      proc.emit('uncaughtException', new Error(`e${i}`));
      jest.advanceTimersByTime(1000);
    }
    expect(exits).toEqual([]);
    proc.emit('uncaughtException', new Error('e10'));
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ level: 'fatal', event: 'fatal', exitCode: 1 });
    expect(lines.at(-1)?.msg).toBe('fatal: 11 unhandled errors within 60 s; exiting with code 1');
  });

  it('forgets errors older than the window', () => {
    const { proc, exits } = install();
    for (let i = 0; i < 30; i++) {
      proc.emit('uncaughtException', new Error(`e${i}`));
      jest.advanceTimersByTime(7000);
    }
    expect(exits).toEqual([]);
  });

  it('exits 1 on a declared fatal state and can be uninstalled', () => {
    const { proc, exits, lines, handle } = install();
    handle.fatal('data listener 127.0.0.1:8080 closed unexpectedly', new Error('EBADF'));
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({
      level: 'fatal',
      msg: 'fatal: data listener 127.0.0.1:8080 closed unexpectedly; exiting with code 1',
    });
    handle.uninstall();
    expect(proc.listenerCount('uncaughtException') + proc.listenerCount('unhandledRejection')).toBe(
      0,
    );
  });
});
